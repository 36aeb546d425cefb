/* race_test - the generation-consistency race in one ThreadSanitizer-instrumented
 * process: a writer thread publishes generation after generation through shim/segment.c
 * while reader threads call the shim's getenv (env.c and segment_read.c compiled in, with
 * getenv renamed awsr_test_getenv) for the key id, secret and token in a row. Every value
 * carries its generation; a mixed triple fails the test. TSan reports any data race. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "creds.h"
#include "error.h"
#include "segment.h"
#include "segment_read.h"

#define READERS 4
#define GENERATIONS 400

static int done;
static int failed;
static unsigned long long switches[READERS];

static int parse(const char *v, const char *prefix, unsigned long long *g)
{
    size_t n = strlen(prefix);
    if (!v || strncmp(v, prefix, n) != 0)
        return -1;
    char *end;
    *g = strtoull(v + n, &end, 10);
    return end == v + n ? -1 : 0;
}

static int publish(struct awsr_segment *seg, unsigned long long g)
{
    char akid[64], secret[64], token[1600];
    snprintf(akid, sizeof akid, "ASIAGEN%016llu", g);
    snprintf(secret, sizeof secret, "secret/%llu/ssssssssssssssss", g);
    int k = snprintf(token, sizeof token, "token-%llu-", g);
    memset(token + k, 'x', sizeof token - 1 - (size_t)k);
    token[sizeof token - 1] = '\0';
    /* Always within the switch margin, so readers move to every generation they see. */
    struct awsr_creds c = {akid, secret, token, time(NULL) + 30, NULL};
    struct awsr_served s = {"race", &c};
    struct awsr_error err = {0};
    return awsr_segment_publish(seg, "eu-west-1", &s, 1, &err);
}

static void *writer(void *arg)
{
    struct awsr_segment *seg = arg;
    for (unsigned long long g = 2; g <= GENERATIONS; g++) {
        if (publish(seg, g) < 0) {
            __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
            break;
        }
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *reader(void *arg)
{
    int id = (int)(long)arg;
    unsigned long long last = 0;
    while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        const char *a = getenv("AWS_ACCESS_KEY_ID");
        const char *s = getenv("AWS_SECRET_ACCESS_KEY");
        const char *t = getenv("AWS_SESSION_TOKEN");
        unsigned long long ga, gs, gt;
        if (parse(a, "ASIAGEN", &ga) || parse(s, "secret/", &gs) || parse(t, "token-", &gt) ||
            ga != gs || ga != gt) {
            fprintf(stderr, "race_test: inconsistent triple (%.24s, %.24s, %.24s)\n",
                    a ? a : "-", s ? s : "-", t ? t : "-");
            __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
            return NULL;
        }
        if (ga < last) {
            fprintf(stderr, "race_test: generation went back %llu -> %llu\n", last, ga);
            __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
            return NULL;
        }
        if (ga != last)
            switches[id]++;
        last = ga;
    }
    return NULL;
}

int main(void)
{
    struct awsr_segment *seg;
    struct awsr_error err = {0};
    /* Lazy-flagged (published at once): the values live only in the segment, not in
     * environ, and are still the tree's (in a non-lazy tree their absence is a removal). */
    if (awsr_segment_create(&seg, true, &err) < 0 || publish(seg, 1) < 0) {
        fprintf(stderr, "race_test: %s\n", err.message);
        return 1;
    }
    setenv(AWSR_SEGMENT_ENV, awsr_segment_name(seg), 1);
    awsr_seg_reset_for_tests();

    pthread_t w, r[READERS];
    for (long i = 0; i < READERS; i++)
        pthread_create(&r[i], NULL, reader, (void *)i);
    pthread_create(&w, NULL, writer, seg);
    pthread_join(w, NULL);
    unsigned long long most = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(r[i], NULL);
        if (switches[i] > most)
            most = switches[i];
    }
    awsr_segment_destroy(seg);
    if (failed)
        return 1;
    if (most < 2) {
        fprintf(stderr, "race_test: readers never followed a new generation\n");
        return 1;
    }
    printf("race_test: ok (%d readers, %d generations, up to %llu switches per reader)\n",
           READERS, GENERATIONS, most);
    return 0;
}
