# awsrole-run - see README.md. Every dependency comes through pkg-config.
.DEFAULT_GOAL := all

BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=
PYTHON  ?= /usr/bin/python3
FUZZ_SECONDS ?= 20
VERSION := 0.1.0

CC      ?= cc
comma   := ,

# Missing build and test dependencies are installed before the pkg-config queries below are
# evaluated (make expands them when it reads this file): on a fresh machine the first
# `make test` or `make demo` must work. Only for goals that build or run something, once
# (sub-makes inherit AWSR_BOOTSTRAPPED), never for dry runs (-n, -q, -p, shell completion).
# Where it cannot install (no apt, no network) but the libraries are there, the build goes
# on with a warning.
BOOTSTRAP_GOALS := all test unit integration demo bench install fuzz check-asan check-tsan \
                   check-valgrind probes
dry_run := $(or $(findstring n,$(firstword -$(MAKEFLAGS))),$(findstring q,$(firstword -$(MAKEFLAGS))),$(findstring p,$(firstword -$(MAKEFLAGS))),$(__BASH_MAKE_COMPLETION__))
ifeq ($(if $(MAKECMDGOALS),$(filter $(BOOTSTRAP_GOALS),$(MAKECMDGOALS)),all),)
else ifdef AWSR_BOOTSTRAPPED
else ifneq ($(dry_run),)
else
ifneq ($(shell scripts/bootstrap 1>&2; echo $$?),0)
ifeq ($(shell pkg-config --exists libcurl libcrypto expat jansson && echo ok),ok)
$(warning scripts/bootstrap failed (see above); building with the libraries installed)
else
$(error scripts/bootstrap failed and libcurl, libcrypto, expat or jansson is missing: see above)
endif
endif
export AWSR_BOOTSTRAPPED := 1
endif
PKGS    := libcurl libcrypto expat jansson
WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral
CFLAGS  ?= -O2 -g
SAN     ?=
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -fstack-protector-strong \
               -DAWSR_VERSION='"$(VERSION)"' $(CFLAGS) $(SAN) $(EXTRA_CFLAGS)
DEP_CFLAGS  := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
DEP_LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)
# The launcher loads libcurl, libcrypto and expat with dlopen on first use
# (resolver/curl_dl.c, resolver/crypto.c, resolver/expat_dl.c): a cache hit never pays for
# loading them. Their SONAMEs come from the development libraries whose headers we compile
# against.
# jansson goes into the launcher itself when its archive is installed (Debian's
# libjansson-dev ships one): a cache hit then maps one shared library less (5 page faults,
# 0.13 ms of the 1.5 ms budget on the bench VM). Without the archive, or with
# JANSSON_STATIC=0 (to take jansson's security updates without rebuilding), it is linked
# as a shared library.
JANSSON_STATIC ?= 1
JANSSON_LIBS  := $(shell pkg-config --libs jansson 2>/dev/null)
JANSSON_A     := $(if $(filter 1,$(JANSSON_STATIC)),$(wildcard $(shell pkg-config --variable=libdir jansson 2>/dev/null)/libjansson.a))
LAUNCHER_LIBS := $(if $(JANSSON_A),-Wl$(comma)-Bstatic $(JANSSON_LIBS) -Wl$(comma)-Bdynamic,$(JANSSON_LIBS)) -ldl
soname = $(shell objdump -p $$(pkg-config --variable=libdir $(1) 2>/dev/null)/$(or $(2),$(1)).so 2>/dev/null | awk '/SONAME/{print $$2}')
CURL_SONAME   := $(call soname,libcurl)
CRYPTO_SONAME := $(call soname,libcrypto)
EXPAT_SONAME  := $(call soname,expat,libexpat)
$(BUILD)/obj/resolver/curl_dl.o: BASE_CFLAGS += $(if $(CURL_SONAME),-DAWSR_LIBCURL_SONAME='"$(CURL_SONAME)"')
$(BUILD)/obj/resolver/crypto.o: BASE_CFLAGS += $(if $(CRYPTO_SONAME),-DAWSR_LIBCRYPTO_SONAME='"$(CRYPTO_SONAME)"')
$(BUILD)/obj/resolver/expat_dl.o: BASE_CFLAGS += $(if $(EXPAT_SONAME),-DAWSR_LIBEXPAT_SONAME='"$(EXPAT_SONAME)"')
INCLUDES    := -Iresolver -Ishim

# The preload library: libc only, hidden visibility, initial-exec TLS, no sanitizers.
# -fno-tree-loop-distribute-patterns: GCC must not turn the shim's own string loops
# (shim/preload/str.h) back into libc calls; compilers without the option skip it.
NO_LIBCALL_LOOPS := $(shell $(CC) -fno-tree-loop-distribute-patterns -Werror -E -x c /dev/null >/dev/null 2>&1 && echo -fno-tree-loop-distribute-patterns)
SHIM_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -O2 -g -fPIC -fvisibility=hidden $(NO_LIBCALL_LOOPS) \
               -ftls-model=initial-exec -fno-stack-protector -fstack-clash-protection -Ishim \
               $(SHIM_EXTRA_CFLAGS)
# -z noseparate-code: the headers, code and read-only data share one mapping (5 pages)
# instead of three, so every process of the tree pays two mmaps and two page faults less
# (a fault costs 13 us on the VMs the budgets are measured on).
SHIM_LDFLAGS := -shared -nodefaultlibs -nostartfiles -Wl,-z,noseparate-code -Wl,-z,relro -Wl,-Bsymbolic-functions -Wl,--no-undefined \
                -Wl,--version-script=shim/preload/exports.map
# Size over speed off the getenv path (the file wrappers, path matching, the segment reader):
# each page of code the shim saves is one page less resident in every process of a tree.
SHIM_SMALL_OBJ := $(patsubst %,$(BUILD)/obj/shim/preload/%.pic.o,files pathmatch segment_read)
$(SHIM_SMALL_OBJ): SHIM_CFLAGS += -Os
# No unwind tables where no cancellation point can be on the stack (only files.c's wrappers
# call ones, open and fopen; raw syscalls are none): the tables are read-only pages too.
SHIM_NOUNWIND_OBJ := $(patsubst %,$(BUILD)/obj/shim/preload/%.pic.o,env clock pathmatch segment_read)
$(SHIM_NOUNWIND_OBJ): SHIM_CFLAGS += -fno-asynchronous-unwind-tables -fno-unwind-tables

RESOLVER_SRC := $(wildcard resolver/*.c)
LAUNCHER_SRC := $(filter-out shim/main.c,$(wildcard shim/*.c))
PRELOAD_SRC  := $(wildcard shim/preload/*.c)
UNIT_SRC     := $(wildcard tests/unit/test_*.c)

RESOLVER_OBJ := $(RESOLVER_SRC:%.c=$(BUILD)/obj/%.o)
LAUNCHER_OBJ := $(LAUNCHER_SRC:%.c=$(BUILD)/obj/%.o)
PRELOAD_OBJ  := $(PRELOAD_SRC:%.c=$(BUILD)/obj/%.pic.o)
UNIT_BIN     := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

LIBAWSR   := $(BUILD)/libawsr.a
LIBLAUNCH := $(BUILD)/libawsr-launcher.a
LAUNCHER  := $(BUILD)/awsrole-run
SHIM      := $(BUILD)/libawsrole-shim.so

# The launcher is linked statically (static-pie: no dynamic loader, still ASLR) when the C
# library's archive is installed: every command it starts then costs one dynamic exec less
# (shim/front.h). What needs the dynamic loader (libcurl, libcrypto, expat, NSS) is done by
# awsrole-run-full, the same program linked dynamically, which the static one execs; in the
# static link, resolver/dynamic_only.c is compiled with AWSR_NO_DLOPEN. STATIC=0 (or no
# libjansson.a) builds one dynamic launcher (the sanitizer builds do: ASan and TSan cannot
# link statically).
STATIC ?= 1
LIBC_A := $(if $(and $(filter 1,$(STATIC)),$(JANSSON_A)),$(wildcard $(shell $(CC) -print-file-name=libc.a 2>/dev/null)))
FULL   := $(if $(LIBC_A),$(BUILD)/awsrole-run-full)

.PHONY: all bootstrap test unit integration demo bench fuzz install clean \
        check-asan check-tsan check-valgrind probes
all: $(LAUNCHER) $(SHIM) $(FULL)

probes:

bootstrap:
	@scripts/bootstrap

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(INCLUDES) $(DEP_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.pic.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(SHIM_CFLAGS) -MMD -MP -c $< -o $@

$(LIBAWSR): $(RESOLVER_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBLAUNCH): $(LAUNCHER_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

ifneq ($(FULL),)
$(BUILD)/obj/resolver/dynamic_only.static.o: resolver/dynamic_only.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -DAWSR_NO_DLOPEN $(INCLUDES) -MMD -MP -c $< -o $@

# dynamic_only.static.o comes first, so the archive's dynamic_only.o is never pulled in.
$(LAUNCHER): $(BUILD)/obj/shim/main.o $(BUILD)/obj/resolver/dynamic_only.static.o $(LIBLAUNCH) $(LIBAWSR)
	$(CC) $(BASE_CFLAGS) -static-pie -o $@ $^ $(JANSSON_LIBS)

# The companion's main honours the variables the static launcher passes it (front.h).
$(BUILD)/obj/shim/main.companion.o: shim/main.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -DAWSR_COMPANION $(INCLUDES) $(DEP_CFLAGS) -MMD -MP -c $< -o $@

$(FULL): $(BUILD)/obj/shim/main.companion.o $(LIBLAUNCH) $(LIBAWSR)
	$(CC) $(BASE_CFLAGS) -o $@ $^ $(LAUNCHER_LIBS)
else
$(LAUNCHER): $(BUILD)/obj/shim/main.o $(LIBLAUNCH) $(LIBAWSR)
	$(CC) $(BASE_CFLAGS) -o $@ $^ $(LAUNCHER_LIBS)
endif

$(SHIM): $(PRELOAD_OBJ) shim/preload/exports.map
	$(CC) $(SHIM_CFLAGS) $(SHIM_LDFLAGS) -o $@ $(PRELOAD_OBJ) -lc -ldl

$(BUILD)/tests/%: tests/unit/%.c $(LIBLAUNCH) $(LIBAWSR)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(INCLUDES) $(DEP_CFLAGS) -Itests/unit -MMD -MP -o $@ $< \
	    $(LIBLAUNCH) $(LIBAWSR) $(DEP_LIBS) $(CMOCKA_LIBS) -ldl -lpthread

# Extra build rules (probe programs, fuzz targets, bench drivers) live beside their code.
-include $(wildcard tests/*/rules.mk)

unit: $(UNIT_BIN)
	@fail=0; for t in $(UNIT_BIN); do \
	    AWSR_TESTDATA=$(CURDIR)/../shared/testdata $$t || fail=1; done; exit $$fail

integration: all probes
	AWSROLE_BUILD=$(CURDIR)/$(BUILD) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration $(PYTEST_ARGS)

test: unit integration

demo: all
	@scripts/demo

bench: all probes
	@scripts/bench

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/awsrole $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(LAUNCHER) $(DESTDIR)$(PREFIX)/bin/awsrole-run
	$(if $(FULL),install -m 0755 $(FULL) $(DESTDIR)$(PREFIX)/lib/awsrole/awsrole-run-full)
	install -m 0644 $(SHIM) $(DESTDIR)$(PREFIX)/lib/awsrole/libawsrole-shim.so
	install -m 0644 awsrole-run.1 $(DESTDIR)$(PREFIX)/share/man/man1/awsrole-run.1

# ASan + UBSan over the launcher, the resolver and their tests (the shim stays plain: it is
# preloaded into programs that are not built with ASan). The runtimes are linked statically:
# a nested launcher runs with LD_PRELOAD=<shim>, and a shared libasan would refuse to start
# when it is not first in the library list. LeakSanitizer is on (the default on x86-64).
check-asan:
	$(MAKE) BUILD=build-asan STATIC=0 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -static-libasan -static-libubsan" \
	    CFLAGS="-O1 -g" test

check-tsan:
	$(MAKE) BUILD=build-tsan STATIC=0 SAN="-fsanitize=thread" CFLAGS="-O1 -g" tsan-tests

check-valgrind: all
	AWSROLE_BUILD=$(CURDIR)/$(BUILD) AWSROLE_VALGRIND=1 $(PYTHON) -m pytest -q -p no:cacheprovider \
	    -m valgrind tests/integration $(PYTEST_ARGS)

clean:
	rm -rf build build-asan build-tsan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
