/* gen_probe THREADS SECONDS - reader threads read AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
 * and AWS_SESSION_TOKEN in a row, over and over, while a writer (segwriter --flip-us)
 * flips generations. The generation is written into every value (ASIAGEN<n>, secret/<n>/,
 * token-<n>-), so a triple mixing two generations is detected: exit 1 with "MIXED".
 * Prints "ok reads=<n> generations=<distinct generations seen>" otherwise. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double seconds;
static unsigned long long total_reads, distinct, max_gen;
static int failed;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int parse(const char *v, const char *prefix, unsigned long long *g)
{
    size_t n = strlen(prefix);
    if (!v || strncmp(v, prefix, n) != 0)
        return -1;
    char *end;
    *g = strtoull(v + n, &end, 10);
    return end == v + n ? -1 : 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *reader(void *arg)
{
    (void)arg;
    double end = now() + seconds;
    unsigned long long reads = 0, last = 0, seen = 0;
    while (now() < end) {
        for (int i = 0; i < 1000; i++) {
            const char *a = getenv("AWS_ACCESS_KEY_ID");
            const char *s = getenv("AWS_SECRET_ACCESS_KEY");
            const char *t = getenv("AWS_SESSION_TOKEN");
            unsigned long long ga, gs, gt;
            if (parse(a, "ASIAGEN", &ga) || parse(s, "secret/", &gs) || parse(t, "token-", &gt)) {
                fprintf(stderr, "BAD VALUES akid=%.30s secret=%.30s token=%.30s\n",
                        a ? a : "(null)", s ? s : "(null)", t ? t : "(null)");
                pthread_mutex_lock(&lock);
                failed = 1;
                pthread_mutex_unlock(&lock);
                return NULL;
            }
            if (ga != gs || ga != gt) {
                fprintf(stderr, "MIXED generations akid=%llu secret=%llu token=%llu\n", ga, gs, gt);
                pthread_mutex_lock(&lock);
                failed = 1;
                pthread_mutex_unlock(&lock);
                return NULL;
            }
            if (ga != last) {
                seen++;
                last = ga;
            }
            reads++;
        }
    }
    pthread_mutex_lock(&lock);
    total_reads += reads;
    if (seen > distinct)
        distinct = seen;
    if (last > max_gen)
        max_gen = last;
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 4;
    seconds = argc > 2 ? atof(argv[2]) : 2.0;
    if (n < 1 || n > 256)
        return 2;
    pthread_t th[256];
    for (int i = 0; i < n; i++)
        pthread_create(&th[i], NULL, reader, NULL);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    if (failed) {
        printf("FAILED\n");
        return 1;
    }
    printf("ok reads=%llu generations=%llu last=%llu\n", total_reads, distinct, max_gen);
    return 0;
}
