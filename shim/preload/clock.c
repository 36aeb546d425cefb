/* clock.c - wall-clock seconds for the expiry checks, straight from the vDSO.
 * libc's time() is an IFUNC: its first call runs a resolver and a symbol lookup inside
 * libc, and in a small process that faulted in about 60 KiB of libc code (the kernel maps
 * 64 KiB around each fault) that the process never used otherwise: resident memory the
 * shim added to every process of the tree (issue 5). time() ends in the vDSO anyway; we
 * find the vDSO's clock_gettime ourselves, once, from its small dynamic symbol table. */
#include "clock.h"

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stddef.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <time.h>

#include "str.h"
#include "sys.h"

typedef int (*gettime_fn)(clockid_t, struct timespec *);

/* Where the vDSO's clock_gettime can be called as a plain C function with this build's
 * struct timespec: 64-bit x86 and arm64 (checked), riscv64. Not 32-bit ABIs (x32, i386:
 * the kernel's old 32-bit timespec), not ppc64 ELFv1 (function descriptors). Elsewhere
 * time() is the clock. */
#if (defined(__x86_64__) && defined(__LP64__)) || defined(__aarch64__) || \
    (defined(__riscv) && __riscv_xlen == 64)
#define VDSO_CLOCK_USABLE 1
#else
#define VDSO_CLOCK_USABLE 0
#endif

/* The vDSO's clock_gettime, or NO_VDSO once a lookup found none. */
#define NO_VDSO ((void *)1)
static void *g_gettime;
static const void *g_vdso_ehdr;

/* The symbol count of a DT_GNU_HASH table: one past the last chain's end. */
static size_t gnu_hash_count(const uint32_t *gh)
{
    uint32_t nbuckets = gh[0], symoffset = gh[1], bloom_words = gh[2];
    const uint32_t *buckets = (const uint32_t *)(const void *)((const ElfW(Addr) *)(const void *)(gh + 4) + bloom_words);
    const uint32_t *chain = buckets + nbuckets;
    uint32_t last = 0;
    for (uint32_t b = 0; b < nbuckets; b++)
        if (buckets[b] > last)
            last = buckets[b];
    if (last < symoffset)
        return symoffset;
    while (!(chain[last - symoffset] & 1))
        last++;
    return (size_t)last + 1;
}

void *awsr_clock_vdso_gettime(const void *ehdr_p)
{
    const ElfW(Ehdr) *eh = ehdr_p;
    if (!eh || !awsr_mem_eq(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] !=
        (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32) || eh->e_phentsize != sizeof(ElfW(Phdr)))
        return NULL;
    const char *base = ehdr_p;
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)(const void *)(base + eh->e_phoff);
    const ElfW(Dyn) *dyn = NULL;
    ElfW(Addr) load = 0;
    int have_load = 0;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD && !have_load) {
            load = (ElfW(Addr))base + ph[i].p_offset - ph[i].p_vaddr;
            have_load = 1;
        } else if (ph[i].p_type == PT_DYNAMIC) {
            dyn = (const ElfW(Dyn) *)(const void *)(base + ph[i].p_offset);
        }
    }
    if (!dyn || !have_load)
        return NULL;
    const ElfW(Sym) *sym = NULL;
    const char *str = NULL;
    const uint32_t *hash = NULL, *gnu_hash = NULL;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        const void *p = (const void *)(load + dyn->d_un.d_ptr);
        if (dyn->d_tag == DT_SYMTAB)
            sym = p;
        else if (dyn->d_tag == DT_STRTAB)
            str = p;
        else if (dyn->d_tag == DT_HASH)
            hash = p;
        else if (dyn->d_tag == DT_GNU_HASH)
            gnu_hash = p;
    }
    if (!sym || !str || (!hash && !gnu_hash))
        return NULL;
    /* DT_GNU_HASH first: its words are 32-bit everywhere, DT_HASH's are not (s390x). */
    size_t count = gnu_hash ? gnu_hash_count(gnu_hash) : hash[1];
    for (size_t i = 0; i < count; i++) {
        unsigned char bind = ELF64_ST_BIND(sym[i].st_info);
        if (ELF64_ST_TYPE(sym[i].st_info) != STT_FUNC || sym[i].st_shndx == SHN_UNDEF ||
            (bind != STB_GLOBAL && bind != STB_WEAK))
            continue;
        const char *name = str + sym[i].st_name;
        /* x86 names it __vdso_clock_gettime; arm64, powerpc, s390 __kernel_clock_gettime. */
        if (awsr_str_eq(name, "__vdso_clock_gettime") ||
            awsr_str_eq(name, "__kernel_clock_gettime"))
            return (void *)(load + sym[i].st_value);
    }
    return NULL;
}

void awsr_clock_set_vdso(const void *ehdr)
{
    if (ehdr)
        __atomic_store_n(&g_vdso_ehdr, ehdr, __ATOMIC_RELAXED);
}

/* Racing threads compute the same answer: a plain atomic store is enough. */
static void *resolve(void)
{
    const void *ehdr = __atomic_load_n(&g_vdso_ehdr, __ATOMIC_RELAXED);
    if (!ehdr) {
        int saved = errno; /* getauxval sets it when the entry is missing */
        ehdr = (const void *)getauxval(AT_SYSINFO_EHDR);
        errno = saved;
    }
    void *fn = VDSO_CLOCK_USABLE ? awsr_clock_vdso_gettime(ehdr) : NULL;
    if (!fn)
        fn = NO_VDSO;
    __atomic_store_n(&g_gettime, fn, __ATOMIC_RELAXED);
    return fn;
}

int64_t awsr_clock_now(void)
{
    void *fn = __atomic_load_n(&g_gettime, __ATOMIC_RELAXED);
    if (!fn)
        fn = resolve();
    struct timespec ts;
    /* Coarse: second resolution is all an expiry check needs, and it reads no TSC. */
    if (fn != NO_VDSO && ((gettime_fn)fn)(CLOCK_REALTIME_COARSE, &ts) == 0)
        return (int64_t)ts.tv_sec;
    return (int64_t)time(NULL);
}

int64_t awsr_clock_now_syscall(void)
{
    struct timespec ts;
    if (sys6(SYS_clock_gettime, CLOCK_REALTIME_COARSE, (long)&ts, 0, 0, 0, 0) == 0)
        return (int64_t)ts.tv_sec;
    return awsr_clock_now();
}
