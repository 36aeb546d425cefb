# Probe programs for the preload's file redirection (tests/integration/test_shim_files.py).
# readcreds is built four ways so that every open/stat entry point of glibc 2.36 is hit:
# plain, -D_FILE_OFFSET_BITS=64 (the *64 symbols), -O2 -D_FORTIFY_SOURCE=2 (__open_2,
# __openat_2) and both (__open64_2, __openat64_2); readcreds-xstat calls the legacy
# __xstat family; readcreds-static shows what a static binary sees (not reached).
SHIMFILES_DIR    := tests/shimfiles
SHIMFILES_OUT    := $(BUILD)/probes
SHIMFILES_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g
SHIMFILES_PROBES := $(SHIMFILES_OUT)/readcreds $(SHIMFILES_OUT)/readcreds64 \
                    $(SHIMFILES_OUT)/readcreds-fortify $(SHIMFILES_OUT)/readcreds-fortify64 \
                    $(SHIMFILES_OUT)/readcreds-xstat $(SHIMFILES_OUT)/readcreds-static \
                    $(SHIMFILES_OUT)/libearlyopen.so $(SHIMFILES_OUT)/earlyopen

probes: $(SHIMFILES_PROBES)

$(SHIMFILES_OUT)/readcreds: $(SHIMFILES_DIR)/readcreds.c
	@mkdir -p $(dir $@)
	$(CC) $(SHIMFILES_CFLAGS) -O0 -U_FORTIFY_SOURCE -o $@ $<

$(SHIMFILES_OUT)/readcreds64: $(SHIMFILES_DIR)/readcreds.c
	@mkdir -p $(dir $@)
	$(CC) $(SHIMFILES_CFLAGS) -O0 -U_FORTIFY_SOURCE -D_FILE_OFFSET_BITS=64 -o $@ $<

$(SHIMFILES_OUT)/readcreds-fortify: $(SHIMFILES_DIR)/readcreds.c
	@mkdir -p $(dir $@)
	$(CC) $(SHIMFILES_CFLAGS) -O2 -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2 -o $@ $<

$(SHIMFILES_OUT)/readcreds-fortify64: $(SHIMFILES_DIR)/readcreds.c
	@mkdir -p $(dir $@)
	$(CC) $(SHIMFILES_CFLAGS) -O2 -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2 \
	    -D_FILE_OFFSET_BITS=64 -o $@ $<

$(SHIMFILES_OUT)/readcreds-xstat: $(SHIMFILES_DIR)/readcreds_xstat.c
	@mkdir -p $(dir $@)
	$(CC) $(SHIMFILES_CFLAGS) -O0 -U_FORTIFY_SOURCE -o $@ $<

$(SHIMFILES_OUT)/readcreds-static: $(SHIMFILES_DIR)/readcreds.c
	@mkdir -p $(dir $@)
	$(CC) $(SHIMFILES_CFLAGS) -O0 -U_FORTIFY_SOURCE -static -o $@ $<

$(SHIMFILES_OUT)/libearlyopen.so: $(SHIMFILES_DIR)/earlyopen_lib.c
	@mkdir -p $(dir $@)
	$(CC) $(SHIMFILES_CFLAGS) -O0 -fPIC -shared -o $@ $<

$(SHIMFILES_OUT)/earlyopen: $(SHIMFILES_DIR)/earlyopen.c $(SHIMFILES_OUT)/libearlyopen.so
	$(CC) $(SHIMFILES_CFLAGS) -O0 -o $@ $< -L$(SHIMFILES_OUT) -learlyopen \
	    -Wl,-rpath,'$$ORIGIN'
