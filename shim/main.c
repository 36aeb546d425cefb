/* main.c - awsrole-run: options, modes (run, --export, --forget, --lazy), exit statuses. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "export.h"
#include "resolve.h"
#include "segment.h"

extern char **environ;

#define MAX_ALSO 16
#define DEFAULT_REFRESH_MARGIN 600

struct options {
    struct awsr_resolve_opts ro;
    const char *also[MAX_ALSO];
    size_t nalso;
    bool export_mode, forget, lazy, no_shim, server;
    enum awsr_format format;
    char **command;
};

static void usage(FILE *f)
{
    fputs("Usage: awsrole-run [OPTIONS] [--] COMMAND [ARG...]\n"
          "       awsrole-run [OPTIONS] --export [--format env|json|process]\n"
          "       awsrole-run [OPTIONS] --forget\n"
          "       awsrole-run --help | --version\n"
          "\n"
          "Run COMMAND, and every process it starts, with temporary credentials for an AWS\n"
          "CLI profile, asking for an MFA code at most once per device.\n"
          "\n"
          "Options:\n"
          "  -p, --profile NAME      profile (default: $AWS_PROFILE, $AWS_DEFAULT_PROFILE, default)\n"
          "  -d, --duration SECONDS  role session duration (overrides duration_seconds)\n"
          "  -r, --region REGION     region for STS and for the command\n"
          "  -t, --mfa-code CODE     MFA code for non-interactive use (also $AWSROLE_MFA_CODE)\n"
          "      --export            print the credentials instead of running a command\n"
          "      --format F          with --export: env (default), json or process\n"
          "      --lazy              resolve only when a process of the tree first asks\n"
          "      --no-shim           environment variables only, no preload library\n"
          "      --no-cache          do not read or write the on-disk session cache\n"
          "      --server            serve credentials from a local container-credentials endpoint\n"
          "      --forget            remove the profile's cached sessions and credentials\n"
          "      --also NAME         serve this profile too (repeatable)\n"
          "  -v, --verbose           say on stderr which path was taken\n"
          "  -h, --help              show this help\n"
          "      --version           show the version\n"
          "\n"
          "Exit status: the command's; 126/127 command not executable/not found; 252 bad usage;\n"
          "253 configuration error; 254 STS error; 255 anything else.\n"
          "Environment: AWSROLE_REFRESH_MARGIN (seconds before expiry to renew, default 600),\n"
          "AWSROLE_MFA_CODE, and the AWS CLI's own variables (AWS_CONFIG_FILE, ...).\n",
          f);
}

static int usage_error(const char *fmt, const char *arg)
{
    char clean[256];
    fputs("awsrole-run: ", stderr);
    fprintf(stderr, fmt, awsr_sanitize(clean, sizeof clean, arg ? arg : ""));
    fputs("\nTry 'awsrole-run --help' for more information.\n", stderr);
    return AWSR_E_USAGE;
}

enum { OPT_EXPORT = 256, OPT_FORMAT, OPT_LAZY, OPT_NO_SHIM, OPT_NO_CACHE, OPT_SERVER,
       OPT_FORGET, OPT_ALSO, OPT_VERSION };

static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longs[] = {
        {"profile", required_argument, NULL, 'p'},
        {"duration", required_argument, NULL, 'd'},
        {"region", required_argument, NULL, 'r'},
        {"mfa-code", required_argument, NULL, 't'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"export", no_argument, NULL, OPT_EXPORT},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"lazy", no_argument, NULL, OPT_LAZY},
        {"no-shim", no_argument, NULL, OPT_NO_SHIM},
        {"no-cache", no_argument, NULL, OPT_NO_CACHE},
        {"server", no_argument, NULL, OPT_SERVER},
        {"forget", no_argument, NULL, OPT_FORGET},
        {"also", required_argument, NULL, OPT_ALSO},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    bool format_given = false;
    opterr = 0;
    int c;
    /* '+': options stop at the command, so its own options are left alone. */
    while ((c = getopt_long(argc, argv, "+:p:d:r:t:vh", longs, NULL)) != -1) {
        switch (c) {
        case 'p':
            o->ro.plan.profile = optarg;
            break;
        case 'd': {
            char *end;
            errno = 0;
            long d = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || d < 900 || d > 43200)
                return usage_error("--duration must be a number of seconds from 900 to 43200, not '%s'", optarg);
            o->ro.plan.duration_seconds = (int)d;
            break;
        }
        case 'r':
            o->ro.plan.region = optarg;
            break;
        case 't':
            o->ro.mfa_code = optarg;
            break;
        case 'v':
            o->ro.verbose = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case OPT_VERSION:
            printf("awsrole-run %s\n", AWSR_VERSION);
            exit(0);
        case OPT_EXPORT:
            o->export_mode = true;
            break;
        case OPT_FORMAT:
            if (awsr_format_parse(optarg, &o->format))
                return usage_error("unknown --format '%s' (use env, json or process)", optarg);
            format_given = true;
            break;
        case OPT_LAZY:
            o->lazy = true;
            break;
        case OPT_NO_SHIM:
            o->no_shim = true;
            break;
        case OPT_NO_CACHE:
            o->ro.no_cache = true;
            break;
        case OPT_SERVER:
            o->server = true;
            break;
        case OPT_FORGET:
            o->forget = true;
            break;
        case OPT_ALSO:
            if (o->nalso == MAX_ALSO)
                return usage_error("too many --also profiles (at most 16)%s", "");
            o->also[o->nalso++] = optarg;
            break;
        case ':':
            return usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!o->ro.mfa_code) {
        const char *env = getenv("AWSROLE_MFA_CODE");
        if (env && *env)
            o->ro.mfa_code = env;
    }
    o->command = argv + optind;
    bool has_cmd = *o->command != NULL;
    if (format_given && !o->export_mode)
        return usage_error("--format goes with --export%s", "");
    if ((o->export_mode || o->forget) && has_cmd)
        return usage_error("no command may follow --export or --forget (got '%s')", o->command[0]);
    if (o->export_mode && o->forget)
        return usage_error("--export and --forget cannot be combined%s", "");
    if (!o->export_mode && !o->forget && !has_cmd)
        return usage_error("no command given: awsrole-run [OPTIONS] -- COMMAND [ARG...]%s", "");
    if (o->lazy && (o->no_shim || o->export_mode || o->forget))
        return usage_error("--lazy needs the preload library (not with --no-shim, --export or --forget)%s", "");
    if (o->server && (o->export_mode || o->forget || o->lazy))
        return usage_error("--server runs a command (not with --export, --forget or --lazy)%s", "");
    return 0;
}

/* The preload library: beside the launcher, or in ../lib/awsrole/ from it. */
static char *find_shim(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return NULL;
    self[n] = '\0';
    char *dir = dirname(self);
    const char *candidates[] = {"%s/libawsrole-shim.so", "%s/../lib/awsrole/libawsrole-shim.so"};
    for (size_t i = 0; i < 2; i++) {
        char path[PATH_MAX + 64], real[PATH_MAX];
        snprintf(path, sizeof path, candidates[i], dir);
        if (access(path, R_OK) == 0 && realpath(path, real))
            return strdup(real);
    }
    return NULL;
}

static long refresh_margin(void)
{
    const char *v = getenv("AWSROLE_REFRESH_MARGIN");
    char *end;
    long m = v ? strtol(v, &end, 10) : -1;
    return (!v || *end || end == v || m < 0) ? DEFAULT_REFRESH_MARGIN : m;
}

/* ---- a nested run: the tree already holds this profile's credentials ---- */

static bool nested_credentials(const struct options *o, const char *profile, struct awsr_creds *out)
{
    const char *tree = getenv("AWSROLE_PROFILE");
    if (!tree || strcmp(tree, profile) != 0 || o->nalso || o->server || o->forget)
        return false;
    const char *exp = getenv("AWS_CREDENTIAL_EXPIRATION");
    time_t when = 0;
    if (exp && awsr_time_parse(exp, &when))
        return false;
    if (when && when - time(NULL) < 60)
        return false;
    if (awsr_creds_set(out, getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"),
                       getenv("AWS_SESSION_TOKEN"), when) || !awsr_creds_present(out)) {
        awsr_creds_clear(out);
        return false;
    }
    return true;
}

/* ---- the launcher's state while the command runs ---- */

struct tree {
    struct options *o;
    struct awsr_resolver res[1 + MAX_ALSO];
    struct awsr_creds creds[1 + MAX_ALSO];
    size_t n;              /* resolvers in use */
    bool resolved;
    struct awsr_segment *seg;
    long margin;
    time_t retry_at;       /* after a failed renewal */
    bool renew_given_up;
};

static int publish(struct tree *t, struct awsr_error *err)
{
    if (!t->seg)
        return 0;
    struct awsr_served served[1 + MAX_ALSO];
    for (size_t i = 0; i < t->n; i++)
        served[i] = (struct awsr_served){.profile = t->res[i].plan.profile, .creds = &t->creds[i]};
    return awsr_segment_publish(t->seg, t->res[0].plan.region, served, t->n, err);
}

static int resolve_all(struct tree *t, int flags, struct awsr_error *err)
{
    for (size_t i = 0; i < t->n; i++)
        if (awsr_resolve(&t->res[i], flags, &t->creds[i], err))
            return -1;
    t->resolved = true;
    return 0;
}

static time_t earliest_expiry(const struct tree *t)
{
    time_t e = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->creds[i].expiration && (!e || t->creds[i].expiration < e))
            e = t->creds[i].expiration;
    return e;
}

static time_t next_renewal(void *ctx)
{
    struct tree *t = ctx;
    if (!t->resolved || !t->seg || t->renew_given_up)
        return 0;
    if (t->retry_at)
        return t->retry_at;
    time_t e = earliest_expiry(t);
    return e ? e - t->margin : 0;
}

static void renew(void *ctx)
{
    struct tree *t = ctx;
    struct awsr_error err = {0};
    time_t old_expiry = earliest_expiry(t);
    if (resolve_all(t, AWSR_RESOLVE_NO_PROMPT | AWSR_RESOLVE_FRESH, &err) == 0 &&
        publish(t, &err) == 0) {
        t->retry_at = 0;
        if (t->o->ro.verbose) {
            char when[32];
            awsr_time_format(earliest_expiry(t), when, sizeof when);
            awsr_log("renewed the credentials of the tree; they now expire at %s", when);
        }
        return;
    }
    time_t now = time(NULL);
    bool transient = err.status == AWSR_E_OTHER;
    if (transient && old_expiry > now + 60) {
        /* The network may come back before the current credentials end. */
        t->retry_at = now + 30;
        if (t->o->ro.verbose)
            awsr_log("could not renew the credentials yet (%s); retrying in 30 s", err.message);
        return;
    }
    char when[32];
    awsr_time_format(old_expiry, when, sizeof when);
    awsr_log("could not renew the credentials without a new MFA code (%s); the current ones "
             "stay in use until they expire at %s. Run awsrole-run again after that to enter a new code.",
             err.message, when);
    t->renew_given_up = true;
}

static void on_lazy_request(void *ctx)
{
    struct tree *t = ctx;
    if (!awsr_segment_take_request(t->seg) || t->resolved)
        return;
    struct awsr_error err = {0};
    if (resolve_all(t, 0, &err) || publish(t, &err)) {
        awsr_error_print(&err);
        awsr_segment_publish_failure(t->seg);
        t->resolved = false;
    }
}

static int run_command(struct options *o, struct tree *t)
{
    struct awsr_error err = {0};
    char *shim = NULL;
    if (!o->no_shim) {
        shim = find_shim();
        if (!shim)
            awsr_log("warning: libawsrole-shim.so not found beside awsrole-run; "
                     "using environment variables only");
        else if (strpbrk(shim, ": ")) {
            awsr_log("warning: the preload library's path contains ':' or ' ' and cannot go in "
                     "LD_PRELOAD; using environment variables only");
            free(shim);
            shim = NULL;
        }
    }
    if (o->lazy && !shim) {
        awsr_log("--lazy needs the preload library; it was not found");
        return AWSR_E_OTHER;
    }
    if (shim && awsr_segment_create(&t->seg, o->lazy, &err)) {
        if (o->lazy) {
            awsr_error_print(&err);
            free(shim);
            return AWSR_E_OTHER;
        }
        awsr_log("warning: %s; using environment variables only", err.message);
        awsr_error_clear(&err);
        free(shim);
        shim = NULL;
    }
    if (t->resolved && publish(t, &err)) {
        awsr_error_print(&err);
        awsr_segment_destroy(t->seg);
        free(shim);
        return err.status ? err.status : AWSR_E_OTHER;
    }

    struct awsr_envp env;
    struct awsr_child_env ce = {
        .creds = t->resolved ? &t->creds[0] : NULL,
        .region = t->res[0].plan.region,
        .profile = t->res[0].plan.profile,
        .shim = t->seg ? shim : NULL,
        .segment = t->seg ? awsr_segment_name(t->seg) : NULL,
    };
    if (awsr_envp_init(&env, environ) || awsr_child_env_apply(&env, &ce)) {
        awsr_log("out of memory");
        awsr_segment_destroy(t->seg);
        free(shim);
        return AWSR_E_OTHER;
    }
    free(shim);

    if (!t->seg) {
        /* Nothing to keep alive for: become the command, so its exit status and signals
         * are native. */
        for (size_t i = 0; i < t->n; i++) {
            awsr_creds_clear(&t->creds[i]);
            awsr_resolver_free(&t->res[i]);
        }
        return awsr_child_exec(o->command, env.v);
    }

    pid_t pid;
    int rc = awsr_child_spawn(o->command, env.v, &pid);
    awsr_envp_free(&env);
    if (rc) {
        awsr_segment_destroy(t->seg);
        return rc;
    }
    struct awsr_supervisor sup = {
        .next_deadline = next_renewal,
        .on_timer = renew,
        .watch_fd = o->lazy ? awsr_segment_request_fd(t->seg) : -1,
        .on_watch = on_lazy_request,
        .watch_fd2 = -1,
        .ctx = t,
    };
    int status = awsr_child_supervise(pid, &sup);
    awsr_segment_destroy(t->seg);
    t->seg = NULL;
    for (size_t i = 0; i < t->n; i++) {
        awsr_creds_clear(&t->creds[i]);
        awsr_resolver_free(&t->res[i]);
    }
    awsr_child_propagate(status);
}

int main(int argc, char **argv)
{
    static struct options o;
    static struct tree t;
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc;
    struct awsr_error err = {0};
    const char *profile = awsr_plan_profile_name(&o.ro.plan);

    struct awsr_creds nested = {0};
    if (!o.lazy && nested_credentials(&o, profile, &nested)) {
        if (o.ro.verbose)
            awsr_log("reusing the credentials of the enclosing awsrole-run tree for profile %s",
                     profile);
        if (o.export_mode) {
            const char *region = o.ro.plan.region ? o.ro.plan.region : getenv("AWS_REGION");
            rc = awsr_export_print(stdout, o.format, &nested, region, profile) ? AWSR_E_OTHER : 0;
            awsr_creds_clear(&nested);
            return rc;
        }
        awsr_creds_clear(&nested);
        if (o.ro.plan.region) {
            setenv("AWS_REGION", o.ro.plan.region, 1);
            setenv("AWS_DEFAULT_REGION", o.ro.plan.region, 1);
        }
        return awsr_child_exec(o.command, environ);
    }

    t.o = &o;
    t.margin = refresh_margin();
    const char *names[1 + MAX_ALSO] = {NULL};
    names[0] = o.ro.plan.profile;
    for (size_t i = 0; i < o.nalso; i++)
        names[1 + i] = o.also[i];
    for (size_t i = 0; i < 1 + o.nalso; i++) {
        struct awsr_resolve_opts ro = o.ro;
        ro.plan.profile = names[i];
        if (i > 0)
            ro.plan.duration_seconds = o.ro.plan.duration_seconds;
        if (awsr_resolver_init(&t.res[i], &ro, &err)) {
            awsr_error_print(&err);
            return err.status ? err.status : AWSR_E_OTHER;
        }
        t.n = i + 1;
    }

    if (o.forget) {
        for (size_t i = 0; i < t.n; i++) {
            if (awsr_resolver_forget(&t.res[i], &err)) {
                awsr_error_print(&err);
                return err.status ? err.status : AWSR_E_OTHER;
            }
        }
        return 0;
    }

    if (!o.lazy && resolve_all(&t, 0, &err)) {
        awsr_error_print(&err);
        return err.status ? err.status : AWSR_E_OTHER;
    }

    if (o.export_mode) {
        rc = awsr_export_print(stdout, o.format, &t.creds[0], t.res[0].plan.region,
                               t.res[0].plan.profile);
        if (rc)
            awsr_log("could not write the credentials: %s", strerror(errno));
        for (size_t i = 0; i < t.n; i++) {
            awsr_creds_clear(&t.creds[i]);
            awsr_resolver_free(&t.res[i]);
        }
        return rc ? AWSR_E_OTHER : 0;
    }
    return run_command(&o, &t);
}
