# Probe programs for the shim (built into $(BUILD)/probes/ by `make probes`), and the
# TSan race test (`make tsan-tests`). Probes link only the objects they need, so a
# half-written file elsewhere does not stop them from building.
PROBE_DIR := $(BUILD)/probes
PROBE_SEG_OBJ := $(BUILD)/obj/shim/segment.o $(BUILD)/obj/shim/credfile.o \
                 $(BUILD)/obj/resolver/creds.o $(BUILD)/obj/resolver/error.o \
                 $(BUILD)/obj/resolver/strbuf.o $(BUILD)/obj/resolver/utf8.o \
                 $(BUILD)/obj/resolver/utc.o
PROBE_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -O2 -g
# Reader sources compiled straight into test binaries (no preload, no constructor).
SHIM_READER_SRC := shim/preload/segment_read.c shim/preload/env.c shim/preload/clock.c

.PHONY: tsan-tests
probes: $(PROBE_DIR)/segwriter $(PROBE_DIR)/getenv_probe $(PROBE_DIR)/gen_probe \
        $(PROBE_DIR)/libearly_getenv.so $(PROBE_DIR)/early_probe $(PROBE_DIR)/getenv_probe_static \
        $(PROBE_DIR)/setenv_probe $(PROBE_DIR)/libother_execve.so

$(PROBE_DIR)/segwriter: tests/probes/segwriter.c $(PROBE_SEG_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(INCLUDES) -o $@ $^ $(DEP_LIBS)

# Prints the credential and region variables as getenv sees them: NAME=value or NAME unset.
$(PROBE_DIR)/getenv_probe: tests/probes/getenv_probe.c
	@mkdir -p $(dir $@)
	$(CC) $(PROBE_CFLAGS) -o $@ $<

# Changes its own credential variables (setenv, unsetenv, putenv, clearenv) and prints
# what getenv answers after each step.
$(PROBE_DIR)/setenv_probe: tests/probes/setenv_probe.c
	@mkdir -p $(dir $@)
	$(CC) $(PROBE_CFLAGS) -o $@ $<

# The same probe linked statically: the preload never reaches it (real environment only).
$(PROBE_DIR)/getenv_probe_static: tests/probes/getenv_probe.c
	@mkdir -p $(dir $@)
	$(CC) $(PROBE_CFLAGS) -static -o $@ $<

# Reader threads hammer getenv of the triple; the generation is encoded in every value.
$(PROBE_DIR)/gen_probe: tests/probes/gen_probe.c
	@mkdir -p $(dir $@)
	$(CC) $(PROBE_CFLAGS) -pthread -o $@ $<

# A library whose constructor calls getenv before the shim's constructor has run.
$(PROBE_DIR)/libearly_getenv.so: tests/probes/early_getenv_lib.c
	@mkdir -p $(dir $@)
	$(CC) $(PROBE_CFLAGS) -fPIC -shared -o $@ $<

# A second preload library wrapping execve: the shim must chain to it.
$(PROBE_DIR)/libother_execve.so: tests/probes/other_execve_lib.c
	@mkdir -p $(dir $@)
	$(CC) $(PROBE_CFLAGS) -fPIC -shared -o $@ $< -ldl

$(PROBE_DIR)/early_probe: tests/probes/early_probe.c $(PROBE_DIR)/libearly_getenv.so
	@mkdir -p $(dir $@)
	$(CC) $(PROBE_CFLAGS) -o $@ $< -L$(PROBE_DIR) -learly_getenv -Wl,-rpath,'$$ORIGIN'

# Writer thread flipping generations + reader threads through the shim's getenv, all in
# one TSan-instrumented binary (the reader sources are compiled in, renamed).
TSAN_DIR := $(BUILD)/tsan
TSAN_FLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -O1 -g -fsanitize=thread -pthread \
              -DAWSR_SHIM_TESTING -Dgetenv=awsr_test_getenv -Dsecure_getenv=awsr_test_secure_getenv
$(TSAN_DIR)/race_test: tests/probes/race_test.c shim/segment.c shim/credfile.c \
                       resolver/creds.c resolver/error.c resolver/strbuf.c resolver/utf8.c resolver/utc.c \
                       $(SHIM_READER_SRC) shim/segment_layout.h
	@mkdir -p $(dir $@)
	$(CC) $(TSAN_FLAGS) $(INCLUDES) -Ishim/preload $(DEP_CFLAGS) -o $@ \
	    tests/probes/race_test.c $(SHIM_READER_SRC) shim/segment.c shim/credfile.c \
	    resolver/creds.c resolver/error.c resolver/strbuf.c resolver/utf8.c resolver/utc.c $(DEP_LIBS)

tsan-tests: $(TSAN_DIR)/race_test
	TSAN_OPTIONS="halt_on_error=1 exitcode=66" $(TSAN_DIR)/race_test
