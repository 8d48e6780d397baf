#!/usr/bin/env bash
# Installs the packages `make deb` built (build/deb or $DEB_OUT) with
# apt-get as an operator would, uses them, then removes and purges them and
# lists what is left. Root only; changes the machine while it runs and
# purges the packages again at the end (also on failure).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
out=${DEB_OUT:-$top/build/deb}
[ "$(id -u)" = 0 ] || { echo "deb-test: needs root (it installs packages)" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt-get or dpkg instead of failing.
apt=(apt-get -o DPkg::Lock::Timeout=600)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
pkgs=()
for f in "$out"/*_"$version"_*.deb; do pkgs+=("$(dpkg-deb -f "$f" Package)"); done
[ ${#pkgs[@]} -eq 4 ] || { echo "deb-test: expected 4 packages of $version in $out, found ${#pkgs[@]}: run make deb" >&2; exit 1; }

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }
equal() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi; }

# dpkg, not apt-get: apt cannot find removed packages that no repository has.
purge_all() { dpkg --purge "${pkgs[@]}" >/dev/null 2>&1 || true; }
scratch=$(mktemp -d)
trap 'purge_all; rm -rf "$scratch"' EXIT

# Everything of ours the packages or their scripts could leave behind:
# paths with an sts component, the units' enablement state, the user.
leftovers() {
  find /etc /usr /lib /var -xdev \( -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/cache/apt \
      -o -path /var/cache/man -o -path /var/log \) -prune -o -print 2>/dev/null \
    | grep -E '/(lib)?sts([0-9]*([-_.][^/]*)?)?(/|$)|sts_exim|/sts-[a-z]+\.(service|timer)' || true
  getent passwd _sts | sed 's/^/passwd: /' || true
  getent group _sts | sed 's/^/group: /' || true
}
sorted() { LC_ALL=C sort "$@"; }

purge_all
leftovers | sorted > "$scratch/before"

echo "== lintian"
if lintian --fail-on error,warning "$out"/*_"$version"_*.deb > "$scratch/lintian" 2>&1; then
  ok "lintian: no errors, no warnings"
else
  bad "lintian:"; cat "$scratch/lintian"
fi

echo "== install ${pkgs[*]}"
debs=()
for f in "$out"/*_"$version"_*.deb; do debs+=("$f"); done
"${apt[@]}" install -y -qq "${debs[@]}" > "$scratch/install.log" 2>&1 || { cat "$scratch/install.log"; exit 1; }
for p in "${pkgs[@]}"; do
  equal "$p is installed" "$(dpkg-query -W -f '${db:Status-Abbrev}' "$p" | tr -d ' ')" "ii"
done

echo "== the library package is named after the SONAME"
lib=/usr/lib/$ma/libsts.so.0
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
owner=$(dpkg -S "$lib" | cut -d: -f1)
equal "SONAME of the installed library" "$soname" "libsts.so.0"
equal "package of libsts.so.0 ends in its SONAME version" "$owner" "libsts0"
check "libsts0 has a symbols file naming sts_client_new" grep -q '^ sts_client_new@Base' "/var/lib/dpkg/info/libsts0:$(dpkg --print-architecture).symbols"

echo "== C development"
cflags=$(pkg-config --cflags sts) && libs=$(pkg-config --libs sts) && ok "pkg-config --cflags --libs sts: '$cflags' '$libs'" || bad "pkg-config sts"
# shellcheck disable=SC2086 # flags are words
cc -std=c99 -Wall -Wextra -Wpedantic -Werror $cflags -o "$scratch/policy-check" c-examples/policy-check.c $libs \
  && ok "a C program builds with pkg-config" || bad "a C program builds with pkg-config"
check "it runs against the installed libsts.so.0 (no rpath)" "$scratch/policy-check" c-examples/sample/mta-sts.txt eu.mail.example.net
# ldd names the library by the path in ld.so.cache, /lib or /usr/lib.
loaded() { [ "$(readlink -f "$(ldd "$1" | awk '$1 == "libsts.so.0" {print $3}')")" = "$(readlink -f "$lib")" ]; }
check "it loads the packaged library" loaded "$scratch/policy-check"
# shellcheck disable=SC2046
cc -std=c99 -Wall -Wextra -Wpedantic -Werror $cflags -o "$scratch/policy-check-static" c-examples/policy-check.c \
  "$(pkg-config --variable=libdir sts)/libsts.a" $(pkg-config --static --libs sts) \
  && ok "a C program links libsts.a with pkg-config --static" || bad "static link"
check "the static program runs" "$scratch/policy-check-static" c-examples/sample/mta-sts.txt eu.mail.example.net

echo "== the command"
equal "sts --version" "$(sts --version)" "sts $version"
check "sts lint works" sts lint c-examples/sample/mta-sts.txt
check "man sts finds the page" man -w sts
for sub in $(sts --help | sed -n '/^Commands:/,/^$/p' | awk 'NR>1 && $1 != "help" {print $1}'); do
  check "man page for sts $sub" man -w "sts-$sub"
done

echo "== systemd units"
units=(/lib/systemd/system/sts-*.service /lib/systemd/system/sts-*.timer)
equal "units shipped" "${#units[@]}" 5
# --man=no: the server's unit also cites Postfix's pages, which need not be
# installed; the pages of our own are checked below.
if systemd-analyze verify --man=no "${units[@]}" > "$scratch/verify" 2>&1; then
  ok "systemd-analyze verify accepts the units"
else
  bad "systemd-analyze verify"; cat "$scratch/verify"
fi
for page in $(sed -n 's/^Documentation=//p' "${units[@]}" | tr ' ' '\n' | sed -n 's/^man:\(sts[^(]*\)(1)$/\1/p' | sort -u); do
  check "the units' Documentation=man:$page(1) exists" man -w "$page"
done
# The sts command a unit runs: the first word of its ExecStart line that
# names a subcommand (options and their values come before it).
subcommand() { local w; for w in $1; do grep -qxF -- "$w" <<<"$commands" && { echo "$w"; return; }; done; }
commands=$(sts --help | sed -n '/^Commands:/,/^$/p' | awk 'NR>1 {print $1}')
for timer in /lib/systemd/system/sts-*.timer; do
  svc=$(sed -n 's/^Unit=//p' "$timer"); svc=${svc:-$(basename "$timer" .timer).service}
  exec=$(sed -n 's/^ExecStart=//p' "/lib/systemd/system/$svc")
  read -r bin _ <<<"$exec"
  sub=$(subcommand "$exec")
  check "$(basename "$timer") starts $svc, whose $bin is installed" test -x "$bin"
  check "$(basename "$timer") runs an sts command ('$sub' in: $exec)" test -n "$sub"
done
# The timers' jobs as systemd would run them: their ExecStart line through
# a shell (which splits $VAR as systemd does), as the service user, with
# the settings file as environment; the cache and the store are empty.
as_service() {
  local vars
  mapfile -t vars < <(grep -E '^[A-Z_]+=' /etc/default/sts)
  runuser -u _sts -- env -i PATH=/usr/bin:/bin "${vars[@]}" sh -c "$1"
}
for svc in sts-refresh.service sts-report.service; do
  exec=$(sed -n 's/^ExecStart=//p' "/lib/systemd/system/$svc")
  check "$svc's command runs as _sts with /etc/default/sts: $exec" as_service "$exec"
done
check "sts-serve.service reads /etc/default/sts too (drop-in)" \
  grep -qx 'EnvironmentFile=-/etc/default/sts' /lib/systemd/system/sts-serve.service.d/debian.conf
serve=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/sts-serve.service)
if sub=$(subcommand "$serve") && [ -n "$sub" ]; then
  equal "sts-serve.service runs an sts command" "$sub" serve
else
  echo "SKIP sts-serve.service: this build has no 'sts serve' yet ($serve)"
fi
for u in timers.target.wants/sts-refresh.timer timers.target.wants/sts-report.timer multi-user.target.wants/sts-serve.service; do
  check "enabled: $u" test -L "/etc/systemd/system/$u"
done
if [ -d /run/systemd/system ]; then
  echo "SKIP nothing-started check: systemd runs here"
else
  check "nothing started without systemd (no process of _sts)" sh -c '! pgrep -u _sts'
fi

echo "== owners and modes (README: Debian packages)"
while read -r path want; do
  equal "$path" "$(stat -c '%U:%G %a' "$path" 2>&1)" "$want"
done <<MODES
/usr/bin/sts root:root 755
/usr/lib/$ma/libsts.so.0 root:root 644
/usr/lib/$ma/libsts.a root:root 644
/usr/lib/exim4/sts_exim.so root:root 644
/etc/default/sts root:root 644
/lib/systemd/system/sts-serve.service root:root 644
/var/lib/sts-serve _sts:_sts 750
/var/lib/sts-serve/cache _sts:_sts 700
/var/lib/sts-serve/tlsrpt _sts:_sts 700
MODES
equal "_sts is a system user without a login shell" "$(getent passwd _sts | awk -F: '{print ($3 < 1000) ":" $6 ":" $7}')" "1:/var/lib/sts-serve:/usr/sbin/nologin"

echo "== maintainer scripts run again (idempotent)"
check "postinst configure again" /var/lib/dpkg/info/sts.postinst configure "$version"
check "apt-get install --reinstall sts" "${apt[@]}" install -y -qq --reinstall "$out/sts_${version}_$(dpkg --print-architecture).deb"
equal "cache directory kept as it was" "$(stat -c '%U:%G %a' /var/lib/sts-serve/cache)" "_sts:_sts 700"

echo "== Exim loads the module"
exim=$(command -v exim4 || command -v exim || true)
if [ -z "$exim" ] || ! "$exim" -bV 2>/dev/null | grep -q Expand_dlfunc; then
  bad "no Exim with dlfunc (install exim4-daemon-heavy)"
else
  check "sts_exim.so needs libsts.so.0 and finds the packaged one" loaded /usr/lib/exim4/sts_exim.so
  r=$("$exim" -be "\${dlfunc{/usr/lib/exim4/sts_exim.so}{exim_sts_policy}{$scratch/none.conf}{example.net}}" 2>&1 || true)
  check "exim_sts_policy with a missing settings file says so (${r##*Failed: })" grep -q "cannot read settings file $scratch/none.conf" <<<"$r"
  mkdir -m 700 "$scratch/cache"
  printf 'cache_dir = %s\ndns_server = 127.0.0.1:9\ndns_timeout_ms = 300\n' "$scratch/cache" > "$scratch/exim.conf"
  r=$("$exim" -be "\${dlfunc{/usr/lib/exim4/sts_exim.so}{exim_sts_ignore_list}{$scratch/exim.conf}{example.net}}" 2>&1 || true)
  equal "exim_sts_ignore_list through libsts with no DNS answer ignores nothing" "$r" '! *'
  check "the snippet is under /usr/share/doc" test -s /usr/share/doc/libsts-exim/exim.conf.snippet
fi

echo "== remove: configuration, user, cache and reports stay"
"${apt[@]}" remove -y -qq "${pkgs[@]}" > "$scratch/remove.log" 2>&1 || { cat "$scratch/remove.log"; exit 1; }
equal "sts is removed, its configuration kept" "$(dpkg-query -W -f '${db:Status-Abbrev}' sts | tr -d ' ')" "rc"
# What the services wrote inside their directories goes only on purge.
leftovers | sorted | LC_ALL=C comm -13 "$scratch/before" - \
  | { grep -vE '^/var/lib/sts-serve/(cache|tlsrpt)/' || true; } > "$scratch/after-remove"
cat > "$scratch/want-remove" <<WANT
/etc/default/sts
/etc/systemd/system/multi-user.target.wants/sts-serve.service
/etc/systemd/system/sts-refresh.timer
/etc/systemd/system/sts-report.timer
/etc/systemd/system/sts-serve.service
/etc/systemd/system/timers.target.wants/sts-refresh.timer
/etc/systemd/system/timers.target.wants/sts-report.timer
/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/sts-serve.service
/var/lib/systemd/deb-systemd-helper-enabled/sts-refresh.timer.dsh-also
/var/lib/systemd/deb-systemd-helper-enabled/sts-report.timer.dsh-also
/var/lib/systemd/deb-systemd-helper-enabled/sts-serve.service.dsh-also
/var/lib/systemd/deb-systemd-helper-enabled/timers.target.wants/sts-refresh.timer
/var/lib/systemd/deb-systemd-helper-enabled/timers.target.wants/sts-report.timer
/var/lib/systemd/deb-systemd-helper-masked/sts-refresh.timer
/var/lib/systemd/deb-systemd-helper-masked/sts-report.timer
/var/lib/systemd/deb-systemd-helper-masked/sts-serve.service
/var/lib/sts-serve
/var/lib/sts-serve/cache
/var/lib/sts-serve/tlsrpt
WANT
getent passwd _sts | sed 's/^/passwd: /' >> "$scratch/want-remove"
getent group _sts | sed 's/^/group: /' >> "$scratch/want-remove"
sorted -o "$scratch/want-remove" "$scratch/want-remove"
if diff -u "$scratch/want-remove" "$scratch/after-remove"; then
  ok "after remove: exactly the settings, user, cache, reports and the units' enablement state (masked)"
else
  bad "after remove: unexpected leftovers (diff above: - expected, + found)"
fi

echo "== purge: nothing left"
dpkg --purge "${pkgs[@]}" > "$scratch/purge.log" 2>&1 || { cat "$scratch/purge.log"; exit 1; }
leftovers | sorted > "$scratch/after-purge"
if diff -u "$scratch/before" "$scratch/after-purge"; then
  ok "after purge: nothing of the packages is left"
else
  bad "after purge: leftovers (diff above)"
fi
equal "dpkg forgot sts" "$(dpkg-query -W -f '${db:Status-Abbrev}' sts 2>/dev/null | tr -d ' ')" ""

echo "deb-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
