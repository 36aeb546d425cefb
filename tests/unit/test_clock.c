/* test_clock.c - the shim's clock (shim/preload/clock.c): the vDSO lookup finds the real
 * clock_gettime through DT_HASH and through DT_GNU_HASH alone (on a copy of this process's
 * vDSO with one table hidden), refuses what is not a usable ELF image, and awsr_clock_now
 * agrees with time(). */
#include <elf.h>
#include <link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <time.h>

#include <cmocka.h>

#include "../../shim/preload/clock.c"

typedef int (*gettime)(clockid_t, struct timespec *);

/* This process's vDSO, or NULL (valgrind, for one, may hide it): the tests that need one
 * are skipped then. */
static const ElfW(Ehdr) *vdso(void)
{
    return (const ElfW(Ehdr) *)getauxval(AT_SYSINFO_EHDR);
}

/* The vDSO's size: the end of its last PT_LOAD segment, rounded to a page. */
static size_t vdso_size(const ElfW(Ehdr) *eh)
{
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)((const char *)eh + eh->e_phoff);
    size_t end = 0;
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && ph[i].p_offset + ph[i].p_filesz > end)
            end = ph[i].p_offset + ph[i].p_filesz;
    return (end + 4095) & ~(size_t)4095;
}

/* Changes the tag of every dynamic entry tagged `from` (a tag nobody reads: DT_DEBUG). */
static int retag(ElfW(Ehdr) *eh, ElfW(Sxword) from)
{
    ElfW(Phdr) *ph = (ElfW(Phdr) *)((char *)eh + eh->e_phoff);
    int n = 0;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_DYNAMIC)
            continue;
        for (ElfW(Dyn) *d = (ElfW(Dyn) *)((char *)eh + ph[i].p_offset); d->d_tag != DT_NULL; d++)
            if (d->d_tag == from) {
                d->d_tag = DT_DEBUG;
                n++;
            }
    }
    return n;
}

static void test_finds_the_vdso_clock(void **state)
{
    (void)state;
    if (!vdso())
        skip();
    gettime fn = (gettime)awsr_clock_vdso_gettime(vdso());
    assert_non_null(fn);
    struct timespec ts;
    time_t before = time(NULL);
    assert_int_equal(fn(CLOCK_REALTIME_COARSE, &ts), 0);
    /* time() and the coarse clock tick together; allow one tick across a second. */
    assert_true(ts.tv_sec >= before - 1 && ts.tv_sec <= time(NULL) + 1);
}

/* Whether the copy's dynamic section still has an entry tagged `tag`. */
static bool has_tag(const ElfW(Ehdr) *eh, ElfW(Sxword) tag)
{
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)((const char *)eh + eh->e_phoff);
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_DYNAMIC)
            continue;
        for (const ElfW(Dyn) *d = (const ElfW(Dyn) *)((const char *)eh + ph[i].p_offset);
             d->d_tag != DT_NULL; d++)
            if (d->d_tag == tag)
                return true;
    }
    return false;
}

static void test_each_hash_table_gives_the_same_symbol(void **state)
{
    (void)state;
    if (!vdso())
        skip();
    size_t n = vdso_size(vdso());
    const char *real = awsr_clock_vdso_gettime(vdso());
    assert_non_null(real);
    ElfW(Ehdr) *copy = malloc(n);
    assert_non_null(copy);
    /* With one table hidden the count comes from the other (when the kernel's vDSO has
     * it: x86-64 has both, arm64 only DT_HASH); a copy with none has no answer. */
    const ElfW(Sxword) tables[2] = {DT_HASH, DT_GNU_HASH};
    for (int drop = 0; drop < 2; drop++) {
        memcpy(copy, vdso(), n);
        retag(copy, tables[drop]);
        const char *found = awsr_clock_vdso_gettime(copy);
        if (has_tag(copy, tables[1 - drop])) {
            assert_non_null(found);
            assert_int_equal(found - (const char *)copy, real - (const char *)vdso());
        } else {
            assert_null(found);
        }
    }
    memcpy(copy, vdso(), n);
    retag(copy, DT_HASH);
    retag(copy, DT_GNU_HASH);
    assert_null(awsr_clock_vdso_gettime(copy));
    free(copy);
}

static void test_refuses_what_is_not_an_elf_image(void **state)
{
    (void)state;
    assert_null(awsr_clock_vdso_gettime(NULL));
    static unsigned char junk[4096];
    memset(junk, 0x5a, sizeof junk);
    assert_null(awsr_clock_vdso_gettime(junk));
    ElfW(Ehdr) *eh = (ElfW(Ehdr) *)(void *)junk;
    memset(junk, 0, sizeof junk);
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = sizeof(void *) == 8 ? ELFCLASS32 : ELFCLASS64; /* wrong class */
    eh->e_phentsize = sizeof(ElfW(Phdr));
    assert_null(awsr_clock_vdso_gettime(junk));
    eh->e_ident[EI_CLASS] = sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32;
    eh->e_phoff = sizeof *eh; /* no program headers at all: no PT_DYNAMIC */
    eh->e_phnum = 0;
    assert_null(awsr_clock_vdso_gettime(junk));
}

static void test_now_agrees_with_time(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        time_t before = time(NULL);
        int64_t now = awsr_clock_now();
        time_t after = time(NULL);
        /* The coarse clock may lag by one tick across a second boundary. */
        assert_true(now >= (int64_t)before - 1 && now <= (int64_t)after);
    }
    if (vdso() && VDSO_CLOCK_USABLE)
        assert_ptr_equal(g_gettime, awsr_clock_vdso_gettime(vdso()));
}

static void test_falls_back_to_libc_without_a_vdso(void **state)
{
    (void)state;
    static unsigned char junk[64];
    __atomic_store_n(&g_gettime, NULL, __ATOMIC_RELAXED);
    awsr_clock_set_vdso(junk); /* what the constructor passes is used before getauxval */
    time_t before = time(NULL);
    int64_t now = awsr_clock_now();
    assert_ptr_equal(g_gettime, NO_VDSO);
    assert_true(now >= (int64_t)before && now <= (int64_t)time(NULL));
    __atomic_store_n(&g_gettime, NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&g_vdso_ehdr, NULL, __ATOMIC_RELAXED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finds_the_vdso_clock),
        cmocka_unit_test(test_each_hash_table_gives_the_same_symbol),
        cmocka_unit_test(test_refuses_what_is_not_an_elf_image),
        cmocka_unit_test(test_falls_back_to_libc_without_a_vdso),
        cmocka_unit_test(test_now_agrees_with_time),
    };
    return cmocka_run_group_tests_name("shim clock", tests, NULL, NULL);
}
