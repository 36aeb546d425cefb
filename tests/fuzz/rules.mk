# tests/fuzz/rules.mk - libFuzzer targets (included by the Makefile).
#
# Every tests/fuzz/fuzz_<name>.c becomes build-fuzz/fuzz_<name>, built with clang,
# -fsanitize=fuzzer,address,undefined, together with the sources it names in comment lines
#     // fuzz-sources: shim/preload/pathmatch.c shim/segment_reader.c
# (globs allowed; several lines add up). Without such a line it gets resolver/*.c.
# `make fuzz` builds them all, then runs each for $(FUZZ_SECONDS) s on a scratch copy of
# tests/fuzz/corpus/<name>/ (new inputs never land in the repository), with
# tests/fuzz/<name>.dict when present. Any crash, leak or build failure fails the target;
# the other fuzzers still run so one report shows everything.

FUZZ_BUILD  ?= build-fuzz
FUZZ_CC     ?= clang
FUZZ_SRC    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN    := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
               -DAWSR_VERSION='"$(VERSION)"' -Iresolver -Ishim -Itests/fuzz $(DEP_CFLAGS)

# The sources a fuzzer asks for, or every resolver source; `// fuzz-sources: none` for a
# target that #includes what it tests (as the segment reader does, getenv renamed).
fuzz_src_line = $(shell sed -n 's|^[[:space:]]*//[[:space:]]*fuzz-sources:||p' $(1))
fuzz_sources = $(if $(filter none,$(call fuzz_src_line,$(1))),,$(or $(wildcard $(call fuzz_src_line,$(1))),$(RESOLVER_SRC)))

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_BIN)

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(RESOLVER_SRC) $(wildcard resolver/*.h shim/*.c shim/*.h shim/preload/*.c shim/preload/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(call fuzz_sources,$<) $(DEP_LIBS) -lpthread

fuzz:
	@fail=0; \
	for src in $(FUZZ_SRC); do \
	    name=$${src##*/fuzz_}; name=$${name%.c}; bin=$(FUZZ_BUILD)/fuzz_$$name; \
	    if ! $(MAKE) --no-print-directory $$bin; then \
	        echo "fuzz: $$name: build failed" >&2; fail=1; continue; fi; \
	    scratch=$(FUZZ_BUILD)/corpus-$$name; rm -rf $$scratch; mkdir -p $$scratch; \
	    if [ -d tests/fuzz/corpus/$$name ]; then cp -R tests/fuzz/corpus/$$name/. $$scratch/; fi; \
	    dict=; if [ -f tests/fuzz/$$name.dict ]; then dict=-dict=tests/fuzz/$$name.dict; fi; \
	    echo "fuzz: $$name for $(FUZZ_SECONDS) s"; \
	    if ! ( cd $(FUZZ_BUILD) && ./fuzz_$$name -max_total_time=$(FUZZ_SECONDS) -timeout=25 \
	            -print_final_stats=1 $${dict:+-dict=$(CURDIR)/tests/fuzz/$$name.dict} \
	            corpus-$$name ) > $(FUZZ_BUILD)/fuzz_$$name.log 2>&1; then \
	        echo "fuzz: $$name FAILED (log: $(FUZZ_BUILD)/fuzz_$$name.log)" >&2; \
	        tail -n 40 $(FUZZ_BUILD)/fuzz_$$name.log >&2; fail=1; \
	    else \
	        grep -E '^stat::number_of_executed_units|^Done' $(FUZZ_BUILD)/fuzz_$$name.log | tail -n 2; \
	    fi; \
	done; exit $$fail
