# Two entry points: `make demo` builds the library, the example plugin and the C host, then runs the host;
# `make test` runs every check and test. Both work on a fresh machine with cargo, cc and make.

CC ?= cc
CARGO ?= cargo
CFLAGS ?= -O2
WARNINGS := -std=c11 -Wall -Wextra -Wpedantic -Werror
BUILD := build
LIBDIR := $(CURDIR)/target/debug
DLL_SUFFIX := $(if $(filter Darwin,$(shell uname -s)),dylib,so)

.PHONY: demo test lib clean

demo: $(BUILD)/host $(BUILD)/plugins/hello/libhello.$(DLL_SUFFIX)
	$(BUILD)/host $(BUILD)/plugins

lib:
	$(CARGO) build

$(BUILD)/plugins/hello/libhello.$(DLL_SUFFIX): c_examples/plugins/hello/hello.c c_examples/plugins/hello/aisopod.plugin.toml lib
	mkdir -p $(@D)
	cp c_examples/plugins/hello/aisopod.plugin.toml $(@D)/
	$(CC) $(WARNINGS) $(CFLAGS) -fPIC -shared -Iinclude -o $@ $<

$(BUILD)/host: c_examples/host/host.c lib
	mkdir -p $(@D)
	$(CC) $(WARNINGS) $(CFLAGS) -Iinclude -o $@ $< -L$(LIBDIR) -laisopod_loader -Wl,-rpath,$(LIBDIR)

test:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test

clean:
	rm -rf $(BUILD)
	$(CARGO) clean
