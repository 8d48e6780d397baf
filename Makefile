# libsts: build the Rust libraries, the C examples against both libsts.so
# and libsts.a, and run every test. See README.md.
#
#   make demo    build everything and run policy-check on the bundled sample
#   make test    every test: Rust, header freshness, C vectors (shared and
#                static, under valgrind and ASan/UBSan), no_std build

CARGO    ?= cargo
CC       ?= cc
TARGET   ?= target
LIBDIR    = $(TARGET)/release
BUILD    ?= build
PREFIX   ?= /usr/local
CORPUS   ?= ../shared/corpus

CFLAGS   ?= -O2 -g
WARN      = -std=c99 -Wall -Wextra -Wpedantic -Werror
INC       = -Iinclude
# What a static Rust library needs from the system (rustc --print native-static-libs).
STATIC_LIBS = -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
SHARED_LINK = -L$(LIBDIR) -lsts -Wl,-rpath,$(abspath $(LIBDIR))
SANITIZE  = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

EXAMPLES  = policy-check cert-check
C_TESTS   = vectors client file_modes

.PHONY: all lib cli demo test rust-test c-test nostd firmware exim-test postfix-test lint install install-check deb deb-test clean

all: lib $(EXAMPLES:%=$(BUILD)/%-shared) $(EXAMPLES:%=$(BUILD)/%-static)

lib:
	$(CARGO) build --release -p sts-ffi
	ln -sf libsts.so $(LIBDIR)/libsts.so.0

$(LIBDIR)/libsts.so $(LIBDIR)/libsts.a: lib

$(BUILD):
	mkdir -p $(BUILD)

$(BUILD)/%-shared: c-examples/%.c include/sts.h lib | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) $(INC) -o $@ $< $(SHARED_LINK)

$(BUILD)/%-static: c-examples/%.c include/sts.h lib | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) $(INC) -o $@ $< $(LIBDIR)/libsts.a $(STATIC_LIBS)

$(BUILD)/test-%-shared: tests/c/%.c tests/c/check.h include/sts.h lib | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) $(INC) -o $@ $< $(SHARED_LINK)

$(BUILD)/test-%-static: tests/c/%.c tests/c/check.h include/sts.h lib | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) $(INC) -o $@ $< $(LIBDIR)/libsts.a $(STATIC_LIBS)

$(BUILD)/test-%-asan: tests/c/%.c tests/c/check.h include/sts.h lib | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) $(SANITIZE) $(INC) -o $@ $< $(LIBDIR)/libsts.a $(STATIC_LIBS)

demo: all
	@echo "== policy-check (libsts.so) on c-examples/sample/mta-sts.txt"
	$(BUILD)/policy-check-shared c-examples/sample/mta-sts.txt eu.mail.example.net
	@echo "== policy-check (libsts.a): a host the policy does not permit"
	$(BUILD)/policy-check-static c-examples/sample/mta-sts.txt mx9.example.com; test $$? -eq 1

test: rust-test c-test abi-test nostd

rust-test:
	$(CARGO) test --workspace
	$(CARGO) test -p sts-core --all-features

c-test: all $(C_TESTS:%=$(BUILD)/test-%-shared) $(C_TESTS:%=$(BUILD)/test-%-static) $(C_TESTS:%=$(BUILD)/test-%-asan)
	$(BUILD)/test-vectors-static tests/vectors/abi.tsv $(CORPUS)
	valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		$(BUILD)/test-vectors-shared tests/vectors/abi.tsv $(CORPUS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		$(BUILD)/test-vectors-asan tests/vectors/abi.tsv $(CORPUS)
	valgrind -q --error-exitcode=99 $(BUILD)/policy-check-shared c-examples/sample/mta-sts.txt mx1.example.com
	tests/c/cert-cases.sh $(BUILD)
	valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite $(BUILD)/test-client-shared
	$(BUILD)/test-client-static
	ASAN_OPTIONS=detect_leaks=1 $(BUILD)/test-client-asan
	$(BUILD)/test-file_modes-shared
	ASAN_OPTIONS=detect_leaks=1 $(BUILD)/test-file_modes-asan
	tests/c/redis.sh $(BUILD) $(LIBDIR)

.PHONY: abi-test abi-check cross-test

# The C ABI can grow: a program built against an older header works with
# this libsts.so; each header in include/ declares what its library has.
abi-test: lib | $(BUILD)
	tests/c/older-header.sh $(BUILD) $(LIBDIR)
	tests/c/feature-headers.sh $(BUILD)

# The ABI of libsts.so.0 against ffi/abi/libsts.so.0.abi (abigail-tools):
# fails on a change that needs a SONAME bump; --self-test shows it does.
abi-check: lib
	scripts/abi-check.sh --self-test
	scripts/abi-check.sh

# sts-core's tests and tests/c/vectors.c against libsts.a on aarch64 and
# s390x (big-endian) under qemu-user (needs qemu-user and the cross gccs).
cross-test:
	scripts/cross-test.sh

# Static musl libsts.a and sts for aarch64 and armv7, run under qemu-user
# (docs/portability.md; needs musl-dev:arm64 and musl-dev:armhf).
# MUSL_TARGETS picks some of them.
MUSL_TARGETS ?=
.PHONY: musl
musl:
	scripts/musl.sh $(MUSL_TARGETS)

# The core must build for a target with no std at all.
nostd:
	scripts/nostd.sh

# Cortex-M4F image with arm-none-eabi-gcc, size report and budget.
firmware:
	scripts/firmware.sh

# Exim with the libsts dlfunc module, end to end on loopback (root; needs
# exim4-daemon-heavy, unbound, openssl, python3). STS_EXIM_BENCH=1 adds the
# throughput comparison.
exim-test: lib
	STS_EXIM_BENCH=$${STS_EXIM_BENCH:-0} tests/exim/run.sh $(abspath $(LIBDIR))

# Postfix 3.7.11 (unpacked from Debian's .deb, not installed) with
# `sts serve` as its smtp_tls_policy_maps, end to end on 127.0.26.0/24
# (root; needs unbound, openssl, python3). See integrations/postfix.
postfix-test:
	$(CARGO) build --release -p sts-cli
	tests/postfix/run.sh $(abspath $(TARGET))/release/sts

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Installed binaries carry no debug information (the release profile keeps
# line tables for benchmarks and backtraces in the build tree only).
STRIP    ?= strip

cli:
	$(CARGO) build --release -p sts-cli

install: lib cli
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/sts.h $(DESTDIR)$(PREFIX)/include/sts.h
	install -m 755 $(LIBDIR)/libsts.so $(DESTDIR)$(PREFIX)/lib/libsts.so.0
	$(STRIP) --strip-unneeded $(DESTDIR)$(PREFIX)/lib/libsts.so.0
	ln -sf libsts.so.0 $(DESTDIR)$(PREFIX)/lib/libsts.so
	install -m 644 $(LIBDIR)/libsts.a $(DESTDIR)$(PREFIX)/lib/libsts.a
	$(STRIP) --strip-debug $(DESTDIR)$(PREFIX)/lib/libsts.a
	install -m 755 $(LIBDIR)/sts $(DESTDIR)$(PREFIX)/bin/sts
	$(STRIP) $(DESTDIR)$(PREFIX)/bin/sts
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)|' \
		-e 's|@STATIC_LIBS@|$(STATIC_LIBS)|' sts.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/sts.pc

# `make install` into a scratch prefix, then use what it installed: the
# command runs, a C program builds with pkg-config against the installed
# library, and nothing installed carries debug sections.
install-check:
	scripts/install-check.sh

# Debian packages (libsts0, libsts-dev, sts, libsts-exim) into $(BUILD)/deb,
# with dpkg-dev's tools; README.md, "Debian packages".
deb:
	DEB_OUT=$(abspath $(BUILD))/deb scripts/deb.sh

# Install the packages with apt-get, use them, remove and purge them (root;
# changes the machine while it runs).
deb-test: deb
	DEB_OUT=$(abspath $(BUILD))/deb scripts/deb-test.sh

clean:
	rm -rf $(BUILD)
	$(CARGO) clean
