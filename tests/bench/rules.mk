# Benchmark drivers (built into $(BUILD)/bench/ by `make bench-drivers`; scripts/bench
# builds them and runs them). Each is a plain libc program, so nothing here depends on the
# launcher or the shim being buildable.
BENCH_DIR := $(BUILD)/bench
BENCH_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -O2 -g
BENCH_PROGS := spawn_timer getenv_loop files_loop tree_bench short_child rss_probe machine_costs \
               min_supervisor

.PHONY: bench-drivers
bench-drivers: $(addprefix $(BENCH_DIR)/,$(BENCH_PROGS)) $(BENCH_DIR)/libempty_preload.so \
               $(BENCH_DIR)/hello_libc $(BENCH_DIR)/hello_crypto $(BENCH_DIR)/hello_curl \
               $(BENCH_DIR)/hello_static

$(addprefix $(BENCH_DIR)/,$(BENCH_PROGS)): $(BENCH_DIR)/%: tests/bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $<

# The baseline for the shim's start-up cost: a preload library with nothing in it, built
# with the shim's link flags and, like any real preload library, depending on libc.
$(BENCH_DIR)/libempty_preload.so: tests/bench/empty_preload.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -fPIC -shared -nodefaultlibs -Wl,-z,now -o $@ $< -Wl,--no-as-needed -lc

# Empty programs that only load a dependency (the launcher's start-up floor).
$(BENCH_DIR)/hello_libc: tests/bench/hello.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $<

$(BENCH_DIR)/hello_crypto: tests/bench/hello.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $< -Wl,--no-as-needed $(shell pkg-config --libs libcrypto)

$(BENCH_DIR)/hello_curl: tests/bench/hello.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $< -Wl,--no-as-needed $(shell pkg-config --libs libcurl)

# The same empty program linked statically: no dynamic loader at all, so spawning it costs
# what the kernel charges for fork + exec + exit + wait, the floor of any launcher.
$(BENCH_DIR)/hello_static: tests/bench/hello.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -static -o $@ $<
