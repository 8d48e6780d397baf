#!/usr/bin/env bash
# Builds the Debian packages libsts0, libsts-dev, sts and libsts-exim into
# build/deb (or $DEB_OUT) with dpkg-dev's own tools: dpkg-shlibdeps for the
# dependencies, dpkg-gencontrol for the control files, dpkg-deb to pack.
# Cargo (rustup's) builds the Rust parts through `make lib cli`; no
# Debian-packaged crates are needed. See README.md ("Debian packages").
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
out=${DEB_OUT:-$top/build/deb}
src=$out/src
fail() { echo "deb: $*" >&2; exit 1; }
for tool in dpkg-deb dpkg-gencontrol dpkg-shlibdeps dpkg-architecture readelf strip; do
  command -v "$tool" >/dev/null || fail "$tool is missing (apt-get install dpkg-dev binutils)"
done

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
[ -n "$version" ] || fail "no version in Cargo.toml"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir=usr/lib/$multiarch

make -s lib cli >/dev/null
so=target/release/libsts.so
soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
case "$soname" in
  libsts.so.[0-9]*) major=${soname#libsts.so.} ;;
  *) fail "libsts.so has SONAME '$soname', not libsts.so.N" ;;
esac
# Debian policy: the runtime package is named after the SONAME, so a new
# ABI major gives a new package that can be installed beside the old one.
libpkg=libsts$major

rm -rf "$src" "$out"/*.deb
mkdir -p "$src/debian"
deb=$src/debian
sed "s/^Package: libsts0\$/Package: $libpkg/; s/libsts0 (= /$libpkg (= /" \
  packaging/deb/control > "$deb/control"
# The last commit's time dates the changelog and the man pages, so that the
# same commit gives the same packages.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH
date=$(date -R -u -d "@$SOURCE_DATE_EPOCH")
cat > "$deb/changelog" <<CHANGELOG
libsts ($version) unstable; urgency=medium

  * Release $version; see CHANGELOG.md in the source for what changed.

 -- libsts developers <libsts@example.invalid>  $date
CHANGELOG

# doc PKG: the copyright and the changelog Debian policy asks of every package.
doc() {
  install -d "$deb/$1/usr/share/doc/$1"
  install -m 644 packaging/deb/copyright "$deb/$1/usr/share/doc/$1/copyright"
  gzip -9n < "$deb/changelog" > "$deb/$1/usr/share/doc/$1/changelog.gz"
}

# -- libstsN: the runtime library
p=$deb/$libpkg
install -d "$p/$libdir" "$p/DEBIAN"
install -m 644 "$so" "$p/$libdir/$soname"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$p/$libdir/$soname"
doc "$libpkg"
# Programs linked against libsts.so.N depend on libstsN of at least this
# version (shlibs), or of the version that added the symbols they use
# (symbols, written by dpkg-gensymbols below; every symbol counts as new in
# the current version, which errs on the strict side).
echo "libsts $major $libpkg (>= $version)" > "$p/DEBIAN/shlibs"
echo "activate-noawait ldconfig" > "$p/DEBIAN/triggers"

# -- libsts-dev: header, link, static library, pkg-config file
p=$deb/libsts-dev
install -d "$p/usr/include" "$p/$libdir/pkgconfig"
install -m 644 include/sts.h "$p/usr/include/sts.h"
ln -s "$soname" "$p/$libdir/libsts.so"
install -m 644 target/release/libsts.a "$p/$libdir/libsts.a"
strip --strip-debug --remove-section=.comment "$p/$libdir/libsts.a"
static_libs=$(sed -n 's/^STATIC_LIBS = //p' Makefile)
sed -e "s|@PREFIX@|/usr|" -e "s|@VERSION@|$version|" -e "s|@STATIC_LIBS@|$static_libs|" \
  -e "s|^libdir=\${prefix}/lib\$|libdir=\${prefix}/lib/$multiarch|" sts.pc.in > "$p/$libdir/pkgconfig/sts.pc"
grep -q "^libdir=\${prefix}/lib/$multiarch\$" "$p/$libdir/pkgconfig/sts.pc" || fail "sts.pc.in's libdir line changed"
doc libsts-dev

# -- sts: command, units, settings, man pages, maintainer scripts
p=$deb/sts
install -d "$p/usr/bin" "$p/lib/systemd/system" "$p/etc/default" "$p/usr/share/man/man1" "$p/DEBIAN"
install -m 755 target/release/sts "$p/usr/bin/sts"
strip --remove-section=.comment --remove-section=.note "$p/usr/bin/sts"
install -m 644 integrations/postfix/sts-serve.service packaging/deb/systemd/*.service \
  packaging/deb/systemd/*.timer "$p/lib/systemd/system/"
install -d "$p/lib/systemd/system/sts-serve.service.d"
install -m 644 packaging/deb/systemd/sts-serve.service.d/debian.conf "$p/lib/systemd/system/sts-serve.service.d/"
install -m 644 packaging/deb/default "$p/etc/default/sts"
echo /etc/default/sts > "$p/DEBIAN/conffiles"
man=$(mktemp -d)
target/release/sts man "$man"
for page in "$man"/*.1; do
  gzip -9n < "$page" > "$p/usr/share/man/man1/$(basename "$page").gz"
  chmod 644 "$p/usr/share/man/man1/$(basename "$page").gz"
done
rm -rf "$man"
for s in postinst prerm postrm; do
  install -m 755 "packaging/deb/maint/sts.$s" "$p/DEBIAN/$s"
done
doc sts

# -- libsts-exim: the dlfunc module, linked against the packaged library by
# its SONAME (the dev package's libsts.so link points nowhere yet, and
# -lsts would then quietly take libsts.a)
p=$deb/libsts-exim
install -d "$p/usr/lib/exim4" "$p/usr/share/doc/libsts-exim"
# Debian's hardening flags (fortify, stack protector, relro, now).
# shellcheck disable=SC2046 # flags are words
cc -std=c99 -Wall -Wextra -Wpedantic -Werror -Wmissing-prototypes -Wshadow \
  $(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get CPPFLAGS) \
  $(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get CFLAGS) \
  $(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get LDFLAGS) \
  -fPIC -shared -Iinclude -o "$p/usr/lib/exim4/sts_exim.so" \
  integrations/exim/sts_exim.c -L"$deb/$libpkg/$libdir" -l:"$soname"
chmod 644 "$p/usr/lib/exim4/sts_exim.so"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$p/usr/lib/exim4/sts_exim.so"
install -m 644 integrations/exim/exim.conf.snippet integrations/exim/sts-exim.conf.example \
  "$p/usr/share/doc/libsts-exim/"
install -m 644 integrations/exim/README.md "$p/usr/share/doc/libsts-exim/README.md"
doc libsts-exim

# -- control files and packages
cd "$src"
for pkg in "$libpkg" libsts-dev sts libsts-exim; do
  elfs=$(find "debian/$pkg" -type f \( -name '*.so*' -o -path '*/bin/*' \) -not -name '*.a')
  rm -f "debian/$pkg.substvars"
  # dpkg-shlibdeps knows a package's tree by its DEBIAN directory.
  mkdir -p "debian/$pkg/DEBIAN"
  if [ -n "$elfs" ]; then
    # shellcheck disable=SC2086 # one argument per file
    dpkg-shlibdeps -Tdebian/$pkg.substvars -l"debian/$libpkg/$libdir" $elfs
  fi
  touch "debian/$pkg.substvars"
  if [ "$pkg" = "$libpkg" ]; then
    dpkg-gensymbols -q -p"$pkg" -P"debian/$pkg" -e"debian/$pkg/$libdir/$soname"
    # Lets dpkg-shlibdeps raise the dependency to what a program was built against.
    sed -i '1a * Build-Depends-Package: libsts-dev' "debian/$pkg/DEBIAN/symbols"
  fi
  # md5sums for debsums and dpkg --verify; conffiles are tracked by dpkg itself.
  (cd "debian/$pkg" && find . -type f -not -path './DEBIAN/*' -not -path './etc/*' -printf '%P\0' \
    | LC_ALL=C sort -z | xargs -0 -r md5sum > DEBIAN/md5sums)
  dpkg-gencontrol -p"$pkg" -P"debian/$pkg" -T"debian/$pkg.substvars"
  dpkg-deb --root-owner-group -Zxz --build "debian/$pkg" "$out" >/dev/null
done
cd "$top"
ls "$out"/*.deb
