/* empty_preload.c - a preload library that does nothing: what loading any preload
 * library costs (the baseline the shim's start-up is compared with). */
int awsr_bench_empty_preload_marker;
