# Two entry points: `make demo` builds the library, the C and Rust example plugins and the C host, then runs
# the host; `make test` runs every check and test. Both work on a fresh machine with cargo, cc and make:
# `make test` first installs what else it needs (cmake, pkg-config, Zig and cffi from PyPI) if missing.

CC ?= cc
CARGO ?= cargo
CFLAGS ?= -O2
WARNINGS := -std=c11 -Wall -Wextra -Wpedantic -Werror
BUILD := build
CARGO_LIBDIR := $(CURDIR)/target/debug
DLL_SUFFIX := $(if $(filter Darwin,$(shell uname -s)),dylib,so)

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
VERSION_MAJOR := $(word 1,$(subst ., ,$(VERSION)))
VERSION_MINOR := $(word 2,$(subst ., ,$(VERSION)))
SOVERSION := $(VERSION_MAJOR)
SONAME := libaisopod_loader.so.$(SOVERSION)

# Install layout; DESTDIR is honoured for staged installs.
PREFIX ?= /usr/local
LIBDIR_NAME ?= lib
INCLUDEDIR_NAME ?= include
BINDIR ?= $(PREFIX)/bin
LIBDIR := $(PREFIX)/$(LIBDIR_NAME)
INCLUDEDIR := $(PREFIX)/$(INCLUDEDIR_NAME)
CMAKEDIR := $(LIBDIR)/cmake/aisopod_loader
# What a static link needs besides the archive; packaging/native-static-libs says why it is not rustc's list.
NATIVE_STATIC_LIBS := $(shell grep -v '^\#' packaging/native-static-libs)
SUBST := sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
	-e 's|@VERSION@|$(VERSION)|g' -e 's|@VERSION_MAJOR@|$(VERSION_MAJOR)|g' -e 's|@VERSION_MINOR@|$(VERSION_MINOR)|g' \
	-e 's|@SOVERSION@|$(SOVERSION)|g' -e 's|@NATIVE_STATIC_LIBS@|$(NATIVE_STATIC_LIBS)|g' \
	-e 's|@LIBDIR_REL@|$(LIBDIR_NAME)|g' -e 's|@INCLUDEDIR_REL@|$(INCLUDEDIR_NAME)|g' -e 's|@CMAKEDIR_TO_PREFIX@|../../..|g'

.PHONY: demo test lib clean install deps ctest bench

demo: $(BUILD)/host $(BUILD)/plugins/hello/libhello.$(DLL_SUFFIX) $(BUILD)/plugins/rust_hello/librust_hello.$(DLL_SUFFIX)
	AISOPOD_PLUGIN_PATH= $(BUILD)/host $(BUILD)/plugins

lib:
	$(CARGO) build

$(BUILD)/plugins/hello/libhello.$(DLL_SUFFIX): c_examples/plugins/hello/hello.c c_examples/plugins/hello/aisopod.plugin.toml lib
	mkdir -p $(@D)
	cp c_examples/plugins/hello/aisopod.plugin.toml $(@D)/
	$(CC) $(WARNINGS) $(CFLAGS) -fPIC -shared -Iinclude -o $@ $<

$(BUILD)/plugins/rust_hello/librust_hello.$(DLL_SUFFIX): lib
	$(CARGO) build --quiet --manifest-path c_examples/plugins/rust_hello/Cargo.toml --target-dir $(BUILD)/rust-target
	mkdir -p $(@D)
	cp c_examples/plugins/rust_hello/aisopod.plugin.toml $(@D)/
	cp $(BUILD)/rust-target/debug/librust_hello.$(DLL_SUFFIX) $@

$(BUILD)/host: c_examples/host/host.c lib
	mkdir -p $(@D)
	$(CC) $(WARNINGS) $(CFLAGS) -Iinclude -o $@ $< -L$(CARGO_LIBDIR) -laisopod_loader -Wl,-rpath,$(CARGO_LIBDIR)

test: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test
	$(CARGO) bench --bench loader -- --smoke
	$(MAKE) ctest

# The benchmark against the floors; writes BENCHMARKS.md and benches/discovery.svg (about a minute on two cores).
bench:
	$(CARGO) bench --bench loader

# The examples as ctest tests: C, Zig and Rust plugins under the C and C++ hosts, cffi, and the install step.
# The CMake build runs cargo itself.
ctest:
	cmake -S c_examples -B $(BUILD)/cmake -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(BUILD)/cmake -j 2
	ctest --test-dir $(BUILD)/cmake --output-on-failure

# Tools the tests need beyond cargo, cc and make. Installs whatever is missing (as root), or says what to install.
deps:
	@missing=""; \
	command -v cmake >/dev/null 2>&1 || missing="$$missing cmake"; \
	command -v pkg-config >/dev/null 2>&1 || missing="$$missing pkg-config"; \
	command -v c++ >/dev/null 2>&1 || missing="$$missing g++"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
		else echo "please install:$$missing"; exit 1; fi; \
	fi
	@python3 -c 'import cffi' 2>/dev/null || python3 -m pip install -q cffi
	@python3 -m ziglang version >/dev/null 2>&1 || python3 -m pip install -q ziglang

# Installs the library (versioned soname and symlinks), the static archive, the headers, a pkg-config file,
# a CMake package configuration, the helper process, $(LIBDIR)/aisopod_loader/aisopod-plugin-host, where the
# library looks for it, and the command line, $(BINDIR)/aisopod, under $(DESTDIR)$(PREFIX).
install:
	AISOPOD_LOADER_SONAME=$(SONAME) $(CARGO) build --release --target-dir target/install
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(CMAKEDIR) $(DESTDIR)$(LIBDIR)/aisopod_loader \
		$(DESTDIR)$(BINDIR)
	install -m 755 target/install/release/aisopod $(DESTDIR)$(BINDIR)/aisopod
	install -m 755 target/install/release/aisopod-plugin-host $(DESTDIR)$(LIBDIR)/aisopod_loader/aisopod-plugin-host
	install -m 755 target/install/release/libaisopod_loader.so $(DESTDIR)$(LIBDIR)/libaisopod_loader.so.$(VERSION)
	ln -sf libaisopod_loader.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libaisopod_loader.so
	install -m 644 target/install/release/libaisopod_loader.a $(DESTDIR)$(LIBDIR)/libaisopod_loader.a
	install -m 644 include/aisopod_loader.h include/aisopod_loader.hpp $(DESTDIR)$(INCLUDEDIR)/
	$(SUBST) packaging/aisopod_loader.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/aisopod_loader.pc
	$(SUBST) packaging/aisopod_loaderConfig.cmake.in > $(DESTDIR)$(CMAKEDIR)/aisopod_loaderConfig.cmake
	$(SUBST) packaging/aisopod_loaderConfigVersion.cmake.in > $(DESTDIR)$(CMAKEDIR)/aisopod_loaderConfigVersion.cmake

clean:
	rm -rf $(BUILD)
	$(CARGO) clean
