/* main.c - awsrole-run: options, modes (run, --export, --forget, --lazy), exit statuses. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "export.h"
#include "front.h"
#include "genconfig.h"
#include "mfa.h"
#include "resolve.h"
#include "secmem.h"
#include "segment.h"
#include "server.h"
#include "sts_params.h"

extern char **environ;

#define MAX_ALSO 16
#define DEFAULT_REFRESH_MARGIN 600
/* The tree's private config copy replaces AWS_CONFIG_FILE in the child; nested launchers
 * put the user's own file back before resolving anything themselves. */
#define CONFIG_COPY_ENV "AWSROLE_CONFIG_COPY"
#define USER_CONFIG_ENV "AWSROLE_USER_CONFIG_FILE"
/* Likewise AWS_SHARED_CREDENTIALS_FILE names the tree's credentials file (see tree_env). */
#define CREDS_COPY_ENV "AWSROLE_CREDENTIALS_COPY"
#define USER_CREDS_ENV "AWSROLE_USER_CREDENTIALS_FILE"

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

/* The MFA code lives in this one buffer, wiped as soon as the first resolution is done;
 * where it came from (argv, the environment) is overwritten at once, so the launcher's
 * /proc/PID/cmdline and /proc/PID/environ stop showing it. */
static char mfa_code_copy[64];

static const char *keep_code(const char *src)
{
    snprintf(mfa_code_copy, sizeof mfa_code_copy, "%s", src);
    return mfa_code_copy;
}

static void forget_code(void)
{
    explicit_bzero(mfa_code_copy, sizeof mfa_code_copy);
}

/* A code from -t or AWSROLE_MFA_CODE is checked here, where its source is known, before
 * anything runs: botocore's minimum for TokenCode in its words, then the 6 digits every
 * MFA device shows (STS takes nothing else, and its ValidationError would quote the code
 * back into the log). The code itself is never printed. */
static int check_code(const char *code, const char *source)
{
    struct awsr_param_report r = {0};
    awsr_param_min_len(&r, "TokenCode", code, AWSR_MIN_TOKEN_CODE);
    if (r.count) {
        fprintf(stderr, "awsrole-run: Parameter validation failed: %s (from %s)\n", r.text,
                source);
        return AWSR_E_USAGE;
    }
    size_t n = strspn(code, "0123456789");
    if (n != 6 || code[n] != '\0')
        return usage_error("the MFA code from %s must be the 6 digits the MFA device shows",
                           source);
    return 0;
}

/* glibc's getopt_long reports "--flag=value" for a flag without a value like an unknown
 * option, with optopt set to the flag: say which it was. */
static int unknown_option(const char *arg)
{
    if (optopt != 0 && strncmp(arg, "--", 2) == 0 && strchr(arg, '=')) {
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(strchr(arg, '=') - arg), arg);
        return usage_error("option '%s' takes no value", name);
    }
    if (optopt != 0 && optopt < 128 && strncmp(arg, "--", 2) != 0) {
        char opt[3] = {'-', (char)optopt, '\0'};
        return usage_error("unknown option '%s'", opt);
    }
    return usage_error("unknown option '%s'", arg);
}

/* --help and --version: output that could not be written is a failure (as with --export),
 * not a silent success. */
static int stdout_status(const char *what)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return 0;
    awsr_log("could not write %s: %s", what, strerror(errno));
    return AWSR_E_OTHER;
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
            /* The CLI treats an empty --profile as not given. */
            o->ro.plan.profile = *optarg ? optarg : NULL;
            break;
        case 'd': {
            char *end;
            errno = 0;
            long d = strtol(optarg, &end, 10);
            if (errno || *end || !isdigit((unsigned char)optarg[0]) || d < 900 || d > 43200)
                return usage_error("--duration must be a number of seconds from 900 to 43200, not '%s'", optarg);
            o->ro.plan.duration_seconds = (int)d;
            break;
        }
        case 'r':
            if (!*optarg)
                return usage_error("--region needs a region name, not an empty value%s", "");
            o->ro.plan.region = optarg;
            break;
        case 't':
            o->ro.mfa_code = keep_code(optarg);
            memset(optarg, 'x', strlen(optarg));
            break;
        case 'v':
            o->ro.verbose = true;
            break;
        case 'h':
            usage(stdout);
            exit(stdout_status("the help"));
        case OPT_VERSION:
            printf("awsrole-run %s\n", AWSR_VERSION);
            exit(stdout_status("the version"));
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
            return unknown_option(argv[optind - 1]);
        }
    }
    const char *code_source = "--mfa-code";
    char *env = getenv("AWSROLE_MFA_CODE");
    if (env && *env) {
        if (!o->ro.mfa_code) {
            o->ro.mfa_code = keep_code(env);
            code_source = "AWSROLE_MFA_CODE";
        }
        explicit_bzero(env, strlen(env));
    }
#ifdef AWSR_COMPANION
    /* The static launcher checked the code and wiped argv's copy: it comes by pipe. */
    bool checked = getenv(AWSR_FRONT_CODE_FD_ENV) || getenv(AWSR_FRONT_RESOLVE_ENV);
#else
    bool checked = false;
#endif
    if (o->ro.mfa_code && !checked) {
        int rc = check_code(o->ro.mfa_code, code_source);
        if (rc) {
            forget_code();
            return rc;
        }
    }
    o->command = argv + optind;
    bool has_cmd = *o->command != NULL;
    if (format_given && !o->export_mode)
        return usage_error("--format goes with --export%s", "");
    if ((o->export_mode || o->forget) && has_cmd)
        return usage_error("no command may follow --export or --forget (got '%s')", o->command[0]);
    if (o->export_mode && o->forget)
        return usage_error("--export and --forget cannot be combined%s", "");
    if (o->forget && o->ro.no_cache)
        return usage_error("--forget removes cached entries: not with --no-cache%s", "");
    if (o->nalso && (o->export_mode || o->forget))
        return usage_error("--also serves more profiles to a command (not with --export or "
                           "--forget)%s", "");
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
    return awsr_front_find_beside("libawsrole-shim.so");
}

/* AWSROLE_REFRESH_MARGIN: seconds, 0 or more; a bad value is a configuration error, not
 * a silent default. -1 after printing the error. */
static long refresh_margin(void)
{
    const char *v = getenv("AWSROLE_REFRESH_MARGIN");
    if (!v)
        return DEFAULT_REFRESH_MARGIN;
    char *end;
    errno = 0;
    long m = strtol(v, &end, 10);
    if (errno || *end || end == v || m < 0 || !isdigit((unsigned char)*v)) {
        char clean[64];
        fprintf(stderr, "awsrole-run: AWSROLE_REFRESH_MARGIN must be a number of seconds (0 or "
                "more), not '%s'\n", awsr_sanitize(clean, sizeof clean, v));
        return -1;
    }
    return m;
}

/* ---- a nested run: the tree already holds this profile's credentials ---- */

static bool nested_from_env(const char *profile, struct awsr_creds *out)
{
    const char *tree = getenv("AWSROLE_PROFILE");
    if (!tree || strcmp(tree, profile) != 0)
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

/* 1: the enclosing tree holds the profile's credentials (*out); 0: it does not (resolve
 * as usual); -1: it serves the profile but its credentials expired (message printed: a
 * nested launcher never prompts behind the tree's back). The tree's endpoint answers for
 * every served profile (--export only: a nested run of another profile needs its own
 * environment); the environment for the tree's own profile. */
static int nested_credentials(const struct options *o, const char *profile, struct awsr_creds *out)
{
    if (o->nalso || o->server || o->forget)
        return 0;
    const char *tree = getenv("AWSROLE_PROFILE");
    bool own = tree && strcmp(tree, profile) == 0;
    const char *url = getenv(AWSR_ENDPOINT_ENV), *tok = getenv(AWSR_ENDPOINT_TOKEN_ENV);
    if (url && *url && tok && *tok && (own || o->export_mode)) {
        bool answered = false;
        struct awsr_error e = {0};
        if (awsr_server_fetch(url, tok, profile, out, &answered, &e) == 0)
            return 1;
        if (answered && strcmp(e.code, "Expired") == 0) {
            awsr_log("the credentials of the enclosing awsrole-run tree for profile %s have "
                     "expired and could not be renewed without a new MFA code; run awsrole-run "
                     "again to enter one",
                     profile);
            return -1;
        }
        if (o->ro.verbose)
            awsr_log("the enclosing tree's endpoint did not answer for profile %s (%s)", profile,
                     e.message);
    }
    return own && nested_from_env(profile, out) ? 1 : 0;
}

/* A run inside a tree without a profile of its own falls back to "default" (the tree
 * unsets AWS_PROFILE, as the contract says): when that fails, say how to reach the tree's. */
static void print_failure(const struct options *o, const struct awsr_error *err)
{
    awsr_error_print(err);
    const char *tree = getenv("AWSROLE_PROFILE");
    if (err->status == AWSR_E_CONFIG && !o->ro.plan.profile && !getenv("AWS_PROFILE") &&
        !getenv("AWS_DEFAULT_PROFILE") && tree && *tree && strcmp(tree, "default") != 0) {
        char clean[128];
        awsr_log("this runs inside the awsrole-run tree of profile %s, which does not pass "
                 "AWS_PROFILE on: add --profile %s to use that profile",
                 awsr_sanitize(clean, sizeof clean, tree), clean);
    }
}

/* Inside a tree, AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE name the tree's own
 * files, whose served profiles run awsrole-run itself: resolve from the user's files
 * instead (no recursion, and the source profiles' keys are found). */
static void restore_user_file(const char *var, const char *copy_env, const char *user_env)
{
    const char *copy = getenv(copy_env), *user = getenv(user_env), *cur = getenv(var);
    if (!copy || !cur || strcmp(cur, copy) != 0)
        return; /* not the tree's value (the program set its own since) */
    if (user && *user)
        setenv(var, user, 1);
    else
        unsetenv(var);
}

static void restore_user_config(void)
{
    restore_user_file("AWS_CONFIG_FILE", CONFIG_COPY_ENV, USER_CONFIG_ENV);
    restore_user_file("AWS_SHARED_CREDENTIALS_FILE", CREDS_COPY_ENV, USER_CREDS_ENV);
}

/* ---- the launcher's state while the command runs ---- */

struct tree {
    struct options *o;
    struct awsr_resolver res[1 + MAX_ALSO];
    struct awsr_creds creds[1 + MAX_ALSO];
    size_t n;              /* resolvers in use */
    bool resolved;
    struct awsr_segment *seg;
    bool publish_segment;  /* the preload library reads it (not with --server) */
    struct awsr_server *srv;
    struct awsr_served served[1 + MAX_ALSO]; /* what srv answers: profiles and &creds[i] */
    char *config_copy;     /* the private AWS config copy, removed at the end */
    time_t resolved_at;    /* last successful resolution */
    long margin;
    time_t retry_at;       /* after a failed renewal */
    bool renew_via_companion; /* the static launcher, after its first phase (front.h) */
    bool renew_given_up;
};

static int publish(struct tree *t, struct awsr_error *err)
{
    /* The endpoint reads t->creds at each request: nothing to do for it. */
    if (!t->seg || !t->publish_segment)
        return 0;
    struct awsr_served served[1 + MAX_ALSO];
    for (size_t i = 0; i < t->n; i++)
        served[i] = (struct awsr_served){.profile = t->res[i].plan.profile, .creds = &t->creds[i]};
    return awsr_segment_publish(t->seg, t->res[0].plan.region, served, t->n, err);
}

static int resolve_all(struct tree *t, int flags, struct awsr_error *err)
{
    if (t->renew_via_companion) {
        if (awsr_front_resolve(t->res, t->n, flags, t->creds, err))
            return -1;
    } else {
        for (size_t i = 0; i < t->n; i++)
            if (awsr_resolve(&t->res[i], flags, &t->creds[i], err))
                return -1;
    }
    t->resolved = true;
    t->resolved_at = time(NULL);
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
    if (!t->resolved || (!t->seg && !t->srv) || t->renew_given_up)
        return 0;
    if (t->retry_at)
        return t->retry_at;
    time_t e = earliest_expiry(t);
    if (!e)
        return 0;
    time_t due = e - t->margin;
    /* Credentials that live less than the margin: renew halfway through their life, not
     * in a loop of STS calls. */
    if (due <= t->resolved_at)
        due = t->resolved_at + (e - t->resolved_at) / 2;
    return due > t->resolved_at + 5 ? due : t->resolved_at + 5;
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
    int rc = resolve_all(t, 0, &err);
    forget_code();
    if (rc || publish(t, &err)) {
        awsr_error_print(&err);
        awsr_segment_publish_failure(t->seg);
        t->resolved = false;
    }
}

static void on_server(void *ctx)
{
    struct tree *t = ctx;
    awsr_server_handle(t->srv);
}

/* Leftovers of dead launchers are swept while the command runs, once signals are
 * forwarded and lazy requests served. */
static void sweep_leftovers(void *ctx)
{
    struct tree *t = ctx;
    if (t->seg)
        awsr_segment_sweep();
}

/* Stops the endpoint, removes the config copy, then the segment (and its directory). */
static void teardown(struct tree *t)
{
    awsr_server_stop(t->srv);
    t->srv = NULL;
    if (t->config_copy) {
        unlink(t->config_copy);
        free(t->config_copy);
        t->config_copy = NULL;
    }
    awsr_segment_destroy(t->seg);
    t->seg = NULL;
}

/* The endpoint: for --server the SDKs' container provider, in every resident mode the way
 * nested launchers (and so the config copy's credential_process) reach every profile. */
static int start_server(struct options *o, struct tree *t, struct awsr_error *err)
{
    for (size_t i = 0; i < t->n; i++)
        t->served[i] = (struct awsr_served){.profile = t->res[i].plan.profile, .creds = &t->creds[i]};
    if (awsr_server_start(&t->srv, t->served, t->n, o->ro.verbose, err) == 0)
        return 0;
    if (o->server)
        return -1;
    awsr_log("warning: %s; nested awsrole-run calls will resolve on their own", err->message);
    awsr_error_clear(err);
    return 0;
}

/* In the companion: the static launcher that handed over (front.h), the program users
 * run; NULL elsewhere. */
static char *front_self;

/* Writes the private config copy in the segment's directory (best effort). No PATH_MAX
 * buffers on the stack: each page of stack a start touches is a fault (~10 us on the bench
 * VM). */
static void write_config_copy(struct options *o, struct tree *t)
{
    const struct awsr_config *cfg = t->res[0].cfg;
    const char *self = front_self ? front_self : awsr_self_path();
    if (!t->seg || !cfg || !cfg->config_path || !self[0])
        return;
    const char *cred = awsr_segment_credentials_path(t->seg);
    const char *slash = strrchr(cred, '/');
    char *dir = slash ? strndup(cred, (size_t)(slash - cred)) : NULL;
    if (!dir)
        return;
    struct awsr_genconfig_profile served[1 + MAX_ALSO];
    for (size_t i = 0; i < t->n; i++)
        served[i] = (struct awsr_genconfig_profile){.name = t->res[i].plan.profile,
                                                    .region = t->res[i].plan.region};
    struct awsr_genconfig_opts go = {.launcher = self, .served = served, .nserved = t->n,
                                     .server_mode = o->server};
    struct awsr_error err = {0};
    if (awsr_genconfig_write(dir, cfg->config_path, &go, &t->config_copy, &err)) {
        awsr_log("warning: %s; the command sees your AWS config as it is", err.message);
        t->config_copy = NULL;
    } else if (o->ro.verbose) {
        awsr_log("the command's AWS_CONFIG_FILE is a private copy whose served profiles use "
                 "credential_process = awsrole-run");
    }
    free(dir);
}

/* `p` made absolute against the current directory (the tree may change its own), without
 * resolving symlinks (the preload library adds their targets itself). NULL for NULL. */
static char *absolute_path(const char *p)
{
    if (!p || !*p)
        return NULL;
    if (p[0] == '/')
        return strdup(p);
    char *cwd = getcwd(NULL, 0), *abs = NULL;
    if (!cwd)
        return strdup(p); /* the directory is gone: the value as it is still restores */
    if (asprintf(&abs, "%s/%s", cwd, p) < 0)
        abs = NULL;
    free(cwd);
    return abs;
}

/* The tree's variables beyond awsr_child_env_apply: the endpoint, the config copy, and for
 * --server the container provider's pair with nothing that could beat it. */
static int tree_env(struct options *o, struct tree *t, struct awsr_envp *env)
{
    int rc = 0;
    rc |= awsr_envp_set(env, AWSR_ENDPOINT_ENV, t->srv ? awsr_server_url(t->srv) : NULL);
    rc |= awsr_envp_set(env, AWSR_ENDPOINT_TOKEN_ENV, t->srv ? awsr_server_token(t->srv) : NULL);
    if (t->config_copy) {
        rc |= awsr_envp_set(env, USER_CONFIG_ENV, t->res[0].cfg->config_path);
        rc |= awsr_envp_set(env, CONFIG_COPY_ENV, t->config_copy);
        rc |= awsr_envp_set(env, "AWS_CONFIG_FILE", t->config_copy);
    } else {
        rc |= awsr_envp_set(env, USER_CONFIG_ENV, NULL);
        rc |= awsr_envp_set(env, CONFIG_COPY_ENV, NULL);
    }
    /* The credentials file SDKs are pointed at while the config copy serves profiles: SDKs
     * rank a profile's keys in the credentials file above its credential_process (and
     * above the container endpoint), so the user's file would hand a static program
     * asking for a served profile by name (a terraform provider's `profile = "default"`)
     * the long-term keys instead of the role, and the synthesized file keys that never
     * renew. A file that does not exist holds nothing: the copy's credential_process
     * answers, and renews. With the preload library it is a name in the tree's private
     * directory, which the library serves like any credentials path (programs that read
     * the file themselves get the synthesized one); without it /dev/null. */
    const char *creds_file = NULL;
    char *none = NULL;
    if (o->server && t->srv) {
        creds_file = "/dev/null";
    } else if (t->config_copy && t->publish_segment) {
        const char *slash = strrchr(t->config_copy, '/');
        if (slash && asprintf(&none, "%.*s/no-credentials", (int)(slash - t->config_copy),
                              t->config_copy) < 0)
            none = NULL;
        creds_file = none;
    } else if (t->config_copy) {
        creds_file = "/dev/null";
    }
    char *user_creds = creds_file ? absolute_path(t->res[0].cfg->credentials_path) : NULL;
    rc |= awsr_envp_set(env, USER_CREDS_ENV, user_creds);
    free(user_creds);
    rc |= awsr_envp_set(env, CREDS_COPY_ENV, creds_file);
    if (creds_file)
        rc |= awsr_envp_set(env, "AWS_SHARED_CREDENTIALS_FILE", creds_file);
    free(none);
    if (o->server && t->srv) {
        char uri[96];
        snprintf(uri, sizeof uri, "%s/", awsr_server_url(t->srv));
        rc |= awsr_envp_set(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI", uri);
        rc |= awsr_envp_set(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN", awsr_server_token(t->srv));
        /* Both beat the pair above in the SDKs. */
        rc |= awsr_envp_set(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", NULL);
        rc |= awsr_envp_set(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", NULL);
    }
    return rc ? -1 : 0;
}

static int run_command(struct options *o, struct tree *t)
{
    struct awsr_error err = {0};
    char *shim = NULL;
    /* --server hands out no keys: the preload library would put them back in getenv. */
    if (!o->no_shim && !o->server) {
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
    /* --server and --also keep the launcher resident even without the preload library:
     * the segment's private directory then holds only the config copy. */
    bool resident = shim || o->server || o->nalso;
    /* Leftovers of dead launchers are swept while the command runs; only when creating
     * fails (a full /dev/shm, say) does the sweep come first. */
    if (resident && awsr_segment_create(&t->seg, o->lazy, &err)) {
        awsr_error_clear(&err);
        awsr_segment_sweep();
    }
    if (resident && !t->seg && awsr_segment_create(&t->seg, o->lazy, &err)) {
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
    if (shim && t->resolved && !awsr_segment_fits(&t->creds[0])) {
        /* Rare (a session token over 16 KiB): the variables still carry them. */
        awsr_log("warning: these credentials are too large for the preload library; "
                 "using environment variables only");
        free(shim);
        shim = NULL;
    }
    t->publish_segment = t->seg && shim;
    if (t->resolved && publish(t, &err)) {
        awsr_error_print(&err);
        teardown(t);
        free(shim);
        return err.status ? err.status : AWSR_E_OTHER;
    }
    if (!o->lazy && t->resolved && (t->seg || o->server)) {
        if (start_server(o, t, &err)) {
            awsr_error_print(&err);
            teardown(t);
            free(shim);
            return err.status ? err.status : AWSR_E_OTHER;
        }
        write_config_copy(o, t);
    }

    struct awsr_envp env;
    struct awsr_child_env ce = {
        .creds = t->resolved && !o->server ? &t->creds[0] : NULL,
        .region = t->res[0].plan.region,
        .profile = t->res[0].plan.profile,
        .shim = t->publish_segment ? shim : NULL,
        .segment = t->publish_segment ? awsr_segment_name(t->seg) : NULL,
    };
    if (awsr_envp_init(&env, environ) || awsr_child_env_apply(&env, &ce) ||
        tree_env(o, t, &env)) {
        awsr_log("out of memory");
        teardown(t);
        free(shim);
        return AWSR_E_OTHER;
    }
    free(shim);

    if (!t->seg && !t->srv) {
        /* Nothing to keep alive for: become the command, so its exit status and signals
         * are native. */
        for (size_t i = 0; i < t->n; i++) {
            awsr_creds_clear(&t->creds[i]);
            awsr_resolver_free(&t->res[i]);
        }
        awsr_segment_sweep(); /* no resident launcher will do it for this run */
        return awsr_child_exec(o->command, env.v);
    }

    pid_t pid;
    if (o->lazy)
        awsr_mfa_note_terminal_owner();
    int rc = awsr_child_spawn(o->command, env.v, &pid);
    awsr_envp_free(&env);
    if (rc) {
        teardown(t);
        return rc;
    }
    struct awsr_supervisor sup = {
        .next_deadline = next_renewal,
        .on_timer = renew,
        .watch_fd = o->lazy ? awsr_segment_request_fd(t->seg) : -1,
        .on_watch = on_lazy_request,
        .watch_fd2 = t->srv ? awsr_server_fd(t->srv) : -1,
        .on_watch2 = on_server,
        .on_start = sweep_leftovers,
        .ctx = t,
    };
    int status = awsr_child_supervise(pid, &sup);
    teardown(t);
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
    /* The launcher holds the MFA session for the whole run: no core dumps, and other
     * processes of the same user may not ptrace it or read its memory. Children get the
     * default back at execve. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    awsr_child_survive_closed_readers();
    awsr_secmem_use_for_jansson();
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc;
    bool front = awsr_front_is_static();
#ifdef AWSR_COMPANION
    const bool companion = true;
#else
    const bool companion = false;
    /* Only the static launcher sets these, for its companion. */
    unsetenv(AWSR_FRONT_RESOLVE_ENV);
    unsetenv(AWSR_FRONT_CODE_FD_ENV);
    unsetenv(AWSR_FRONT_SELF_ENV);
#endif
    if (front) {
        awsr_front_begin(argv, o.ro.mfa_code);
        /* --lazy resolves (and may prompt) at a child's request, long after the start. */
        if (o.lazy)
            awsr_front_handover_now("--lazy");
    } else if (companion) {
        /* The static launcher's path is kept for the config copy, out of the tree's sight. */
        const char *fp = getenv(AWSR_FRONT_SELF_ENV);
        if (fp)
            front_self = strdup(fp);
        unsetenv(AWSR_FRONT_SELF_ENV);
        char code[sizeof mfa_code_copy];
        if (awsr_front_take_code(code, sizeof code))
            o.ro.mfa_code = keep_code(code);
        explicit_bzero(code, sizeof code);
    }
    bool internal = companion && getenv(AWSR_FRONT_RESOLVE_ENV);
    if (internal) {
        o.ro.mfa_code = NULL; /* renewals never use a code: argv's is a wiped one */
        for (int fd = AWSR_FRONT_SNAPSHOT_FD0; fd < AWSR_FRONT_SNAPSHOT_FD0 + 2; fd++)
            if (fcntl(fd, F_GETFD) >= 0)
                fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    struct awsr_error err = {0};
    const char *profile = awsr_plan_profile_name(&o.ro.plan);

    restore_user_config();
    struct awsr_creds nested = {0};
    int nested_rc = o.lazy || internal ? 0 : nested_credentials(&o, profile, &nested);
    if (nested_rc < 0)
        return AWSR_E_OTHER;
    if (nested_rc > 0) {
        awsr_front_settle();
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
    if (t.margin < 0)
        return AWSR_E_CONFIG;
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
            print_failure(&o, &err);
            return err.status ? err.status : AWSR_E_OTHER;
        }
        t.n = i + 1;
    }
    awsr_resolver_share(t.res, t.n);
    if (internal) {
        rc = awsr_front_serve(t.res, t.n);
        for (size_t i = 0; i < t.n; i++)
            awsr_resolver_free(&t.res[i]);
        return rc;
    }

    if (o.forget) {
        awsr_segment_sweep();
        for (size_t i = 0; i < t.n; i++) {
            if (awsr_resolver_forget(&t.res[i], &err)) {
                awsr_error_print(&err);
                return err.status ? err.status : AWSR_E_OTHER;
            }
        }
        return 0;
    }

    if (!o.lazy) {
        rc = resolve_all(&t, 0, &err);
        if (front) {
            awsr_front_settle();
            t.renew_via_companion = true;
        }
        forget_code();
        if (rc) {
            print_failure(&o, &err);
            return err.status ? err.status : AWSR_E_OTHER;
        }
    }

    if (o.export_mode) {
        rc = awsr_export_print(stdout, o.format, &t.creds[0], t.res[0].plan.region,
                               t.res[0].plan.profile);
        if (rc)
            awsr_log("could not write the credentials: %s", strerror(errno));
        /* Runs that never stay resident sweep too (after the answer is out): a tree whose
         * launcher was killed must not wait for the next resident run to go. */
        awsr_segment_sweep();
        for (size_t i = 0; i < t.n; i++) {
            awsr_creds_clear(&t.creds[i]);
            awsr_resolver_free(&t.res[i]);
        }
        return rc ? AWSR_E_OTHER : 0;
    }
    return run_command(&o, &t);
}
