/* test_genconfig.c - the tree's private config copy: served sections replaced (region, kept
 * settings, credential_process), everything else byte for byte, [default] in server mode,
 * unsafe names left alone, the launcher path quoted, the file written 0600 once. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "genconfig.h"

#define LAUNCHER "/opt/awsrole/bin/awsrole-run"
#define PROCESS(name) LAUNCHER " --export --format process --profile " name

static const char USER_CONFIG[] =
    "# my config\n"
    "[DEFAULT]\n"
    "cli_pager =\n"
    "\n"
    "[default]\n"
    "region = eu-central-1\n"
    "aws_access_key_id = AKIADEFAULTKEY000001\n"
    "aws_secret_access_key = defaultsecret\n"
    "\n"
    "[profile prod]\n"
    "region = us-west-2\n"
    "role_arn= arn:aws:iam::128716708097:role/cli-role\n"
    "source_profile = cli-user\n"
    "mfa_serial = arn:aws:iam::128716708097:mfa/cli-user\n"
    "output = json\n"
    "s3 =\n"
    "    max_concurrent_requests = 20\n"
    "# trailing comment of prod\n"
    "\n"
    "[profile dev]\n"
    "role_arn = arn:aws:iam::128716708097:role/dev\n"
    "source_profile = cli-user\n"
    "mfa_serial = arn:aws:iam::128716708097:mfa/cli-user\n"
    "\n"
    "[profile   untouched  ]\n"
    "region=ap-south-1\n"
    "credential_process = /bin/echo  'weird  spacing'   kept\n"
    "\n"
    "[services local]\n"
    "sts =\n"
    "  endpoint_url = http://127.0.0.1:9\n"
    "\n"
    "[sso-session corp]\n"
    "sso_start_url = https://example.awsapps.com/start\n"
    "sso_region = us-east-1\n"
    "\n"
    "[profile \"with space\"]\n"
    "role_arn = arn:aws:iam::1:role/x\n";

static char *render(const struct awsr_genconfig_profile *served, size_t n, bool server,
                    const char *text, const char *launcher)
{
    struct awsr_genconfig_opts o = {.launcher = launcher ? launcher : LAUNCHER,
                                    .served = served, .nserved = n, .server_mode = server};
    char *out = NULL;
    size_t len = 0;
    struct awsr_error err = {0};
    int rc = awsr_genconfig_render(text, text ? strlen(text) : 0, "/home/u/.aws/config", &o,
                                   &out, &len, &err);
    if (rc != 0)
        fail_msg("render failed: %s", err.message);
    assert_int_equal(strlen(out), len);
    return out;
}

static struct awsr_config *parse(const char *text)
{
    struct awsr_config *cfg = NULL;
    struct awsr_error err = {0};
    if (awsr_config_parse(text, strlen(text), "gen", NULL, 0, NULL, &cfg, &err) != 0)
        fail_msg("the copy does not parse: %s", err.message);
    return cfg;
}

static const char *get(const struct awsr_config *cfg, const char *profile, const char *key)
{
    const struct awsr_profile *p = awsr_config_profile(cfg, profile);
    assert_non_null(p);
    return awsr_profile_get(p, key);
}

static void test_names(void **state)
{
    (void)state;
    assert_true(awsr_genconfig_name_ok("prod"));
    assert_true(awsr_genconfig_name_ok("team/prod-eu_1.a+b@c=d,e:f"));
    assert_true(awsr_genconfig_name_ok("default"));
    const char *bad[] = {"", "with space", "quote'", "dq\"", "back\\slash", "semi;colon",
                         "dollar$", "tilde~", "glob*", "br[a]", "new\nline", "tab\t",
                         "caf\xc3\xa9", "hash#", "amp&", "pipe|", "paren(", NULL};
    for (size_t i = 0; bad[i]; i++)
        assert_false(awsr_genconfig_name_ok(bad[i]));
    assert_false(awsr_genconfig_name_ok(NULL));
}

static void test_served_sections_replaced_rest_verbatim(void **state)
{
    (void)state;
    struct awsr_genconfig_profile served[] = {{"prod", NULL}, {"dev", "eu-west-1"}};
    char *out = render(served, 2, false, USER_CONFIG, NULL);

    /* Untouched sections, comments and [DEFAULT], byte for byte, but for the long-term
     * keys: they stay out of the tree. */
    assert_null(strstr(out, "AKIADEFAULTKEY000001"));
    assert_null(strstr(out, "defaultsecret"));
    const char *verbatim[] = {
        "# my config\n[DEFAULT]\ncli_pager =\n\n[default]\nregion = eu-central-1\n\n",
        "[profile   untouched  ]\nregion=ap-south-1\n"
        "credential_process = /bin/echo  'weird  spacing'   kept\n\n"
        "[services local]\nsts =\n  endpoint_url = http://127.0.0.1:9\n\n"
        "[sso-session corp]\nsso_start_url = https://example.awsapps.com/start\n"
        "sso_region = us-east-1\n\n[profile \"with space\"]\nrole_arn = arn:aws:iam::1:role/x\n",
    };
    for (size_t i = 0; i < 2; i++)
        assert_non_null(strstr(out, verbatim[i]));
    /* The served originals are gone (their comment too). */
    assert_null(strstr(out, "role/cli-role"));
    assert_null(strstr(out, "role/dev"));
    assert_null(strstr(out, "trailing comment of prod"));
    assert_null(strstr(out, "mfa_serial"));

    struct awsr_config *cfg = parse(out);
    assert_string_equal(get(cfg, "prod", "credential_process"), PROCESS("prod"));
    assert_string_equal(get(cfg, "prod", "region"), "us-west-2");
    assert_string_equal(get(cfg, "prod", "output"), "json");
    const struct awsr_kv *s3 = awsr_kv_find(awsr_config_profile(cfg, "prod")->keys, "s3");
    assert_non_null(s3);
    assert_string_equal(awsr_kv_find(s3->sub, "max_concurrent_requests")->value, "20");
    assert_null(get(cfg, "prod", "role_arn"));
    assert_null(get(cfg, "prod", "source_profile"));
    assert_null(get(cfg, "prod", "mfa_serial"));
    /* The region given for dev wins over (absent) config. */
    assert_string_equal(get(cfg, "dev", "region"), "eu-west-1");
    assert_string_equal(get(cfg, "dev", "credential_process"), PROCESS("dev"));
    assert_null(get(cfg, "dev", "role_arn"));
    /* Others as they were; [DEFAULT] still applies. */
    assert_string_equal(get(cfg, "untouched", "credential_process"),
                        "/bin/echo  'weird  spacing'   kept");
    assert_null(get(cfg, "default", "aws_access_key_id"));
    assert_string_equal(get(cfg, "default", "region"), "eu-central-1");
    assert_string_equal(get(cfg, "with space", "role_arn"), "arn:aws:iam::1:role/x");
    assert_non_null(cfg->services);
    assert_non_null(cfg->sso_sessions);
    awsr_config_free(cfg);
    free(out);
}

static void test_default_served_and_server_mode(void **state)
{
    (void)state;
    /* Not server mode, default served: its keys are replaced by credential_process. */
    struct awsr_genconfig_profile d[] = {{"default", NULL}};
    char *out = render(d, 1, false, USER_CONFIG, NULL);
    assert_null(strstr(out, "AKIADEFAULTKEY000001"));
    struct awsr_config *cfg = parse(out);
    assert_string_equal(get(cfg, "default", "credential_process"), PROCESS("default"));
    assert_string_equal(get(cfg, "default", "region"), "eu-central-1");
    assert_string_equal(get(cfg, "prod", "role_arn"), "arn:aws:iam::128716708097:role/cli-role");
    awsr_config_free(cfg);
    free(out);

    /* Server mode: [default] carries no credential source at all (the endpoint must be
     * reached), served profiles still get credential_process. */
    struct awsr_genconfig_profile p[] = {{"prod", NULL}};
    out = render(p, 1, true, USER_CONFIG, NULL);
    assert_null(strstr(out, "AKIADEFAULTKEY000001"));
    assert_null(strstr(out, "defaultsecret"));
    cfg = parse(out);
    assert_string_equal(get(cfg, "default", "region"), "eu-central-1");
    assert_null(get(cfg, "default", "credential_process"));
    assert_null(get(cfg, "default", "aws_access_key_id"));
    assert_string_equal(get(cfg, "prod", "credential_process"), PROCESS("prod"));
    awsr_config_free(cfg);
    free(out);

    /* Server mode serving default itself: still no credential_process in [default]. */
    out = render(d, 1, true, USER_CONFIG, NULL);
    cfg = parse(out);
    assert_null(get(cfg, "default", "credential_process"));
    assert_null(get(cfg, "default", "aws_secret_access_key"));
    awsr_config_free(cfg);
    free(out);

    /* Server mode without any config file: a bare [default] is written. */
    out = render(p, 1, true, NULL, NULL);
    cfg = parse(out);
    assert_non_null(awsr_config_profile(cfg, "default"));
    assert_null(get(cfg, "default", "credential_process"));
    awsr_config_free(cfg);
    free(out);
}

static void test_profile_default_spelling_and_missing_sections(void **state)
{
    (void)state;
    const char *text = "[profile default]\nregion = us-east-2\nrole_arn = x\n";
    struct awsr_genconfig_profile s[] = {{"default", NULL}, {"only-in-credentials", "us-east-1"},
                                         {"default", NULL}};
    char *out = render(s, 3, false, text, NULL);
    assert_null(strstr(out, "role_arn"));
    assert_null(strstr(out, "[profile default]"));
    struct awsr_config *cfg = parse(out);
    assert_string_equal(get(cfg, "default", "region"), "us-east-2");
    assert_string_equal(get(cfg, "default", "credential_process"), PROCESS("default"));
    assert_string_equal(get(cfg, "only-in-credentials", "credential_process"),
                        PROCESS("only-in-credentials"));
    assert_string_equal(get(cfg, "only-in-credentials", "region"), "us-east-1");
    awsr_config_free(cfg);
    free(out);
}

static void test_unsafe_names_and_launcher_paths(void **state)
{
    (void)state;
    struct awsr_genconfig_profile s[] = {{"with space", NULL}, {"prod", NULL}};
    char *out = render(s, 2, false, USER_CONFIG, NULL);
    struct awsr_config *cfg = parse(out);
    /* Left as the user wrote it: no credential_process line for a name that cannot be
     * written safely in one. */
    assert_string_equal(get(cfg, "with space", "role_arn"), "arn:aws:iam::1:role/x");
    assert_null(get(cfg, "with space", "credential_process"));
    assert_string_equal(get(cfg, "prod", "credential_process"), PROCESS("prod"));
    awsr_config_free(cfg);
    free(out);

    /* A path with blanks is single-quoted (shlex and sh agree on that). */
    struct awsr_genconfig_profile p[] = {{"prod", NULL}};
    out = render(p, 1, false, USER_CONFIG, "/home/me/my tools/awsrole-run");
    cfg = parse(out);
    assert_string_equal(get(cfg, "prod", "credential_process"),
                        "'/home/me/my tools/awsrole-run' --export --format process --profile prod");
    awsr_config_free(cfg);
    free(out);

    /* A quote or a newline cannot be written: refused. */
    struct awsr_genconfig_opts o = {.launcher = "/tmp/it's/awsrole-run", .served = p, .nserved = 1};
    char *t = NULL;
    size_t len;
    struct awsr_error err = {0};
    assert_int_equal(awsr_genconfig_render(USER_CONFIG, strlen(USER_CONFIG), "c", &o, &t, &len, &err), -1);
    assert_null(t);
    o.launcher = "/tmp/a\nb";
    assert_int_equal(awsr_genconfig_render(USER_CONFIG, strlen(USER_CONFIG), "c", &o, &t, &len, &err), -1);
}

/* Every setting that is not a credential source survives in a served section, whether
 * the copy knows it or not; every credential source goes, also from [DEFAULT] (botocore
 * merges it into every section, the generated ones included). */
static void test_settings_kept_and_sources_dropped(void **state)
{
    (void)state;
    const char *text = "[DEFAULT]\n"
                       "role_arn = arn:aws:iam::1:role/from-default\n"
                       "source_profile = u\n"
                       "cli_pager =\n"
                       "\n"
                       "[profile p]\n"
                       "region = eu-west-1\n"
                       "request_checksum_calculation = when_required\n"
                       "Sdk_Ua_App_Id = myapp\n"
                       "some_future_setting = 42\n"
                       "sso_session = corp\n"
                       "sso_account_id = 111122223333\n"
                       "sso_role_name = Admin\n"
                       "credential_source = Environment\n"
                       "web_identity_token_file = /tmp/t\n"
                       "external_id = ext\n"
                       "duration_seconds = 3600\n"
                       "mfa_process = echo 123456\n"
                       "login_session = arn:aws:iam::1:user/x\n"
                       "\n"
                       "[profile other]\n"
                       "region = us-east-2\n";
    struct awsr_genconfig_profile s[] = {{"p", NULL}};
    char *out = render(s, 1, false, text, NULL);
    assert_null(strstr(out, "from-default"));
    assert_null(strstr(out, "source_profile"));
    assert_null(strstr(out, "sso_"));
    assert_null(strstr(out, "Environment"));
    assert_null(strstr(out, "ext\n"));
    assert_null(strstr(out, "mfa_process"));
    assert_null(strstr(out, "login_session"));
    struct awsr_config *cfg = parse(out);
    assert_string_equal(get(cfg, "p", "credential_process"), PROCESS("p"));
    assert_string_equal(get(cfg, "p", "region"), "eu-west-1");
    assert_string_equal(get(cfg, "p", "request_checksum_calculation"), "when_required");
    assert_string_equal(get(cfg, "p", "sdk_ua_app_id"), "myapp");
    assert_string_equal(get(cfg, "p", "some_future_setting"), "42");
    assert_string_equal(get(cfg, "p", "cli_pager"), "");
    assert_null(get(cfg, "p", "role_arn"));
    assert_null(get(cfg, "p", "duration_seconds"));
    /* the rest of [DEFAULT] still reaches every section */
    assert_string_equal(get(cfg, "other", "cli_pager"), "");
    assert_null(get(cfg, "other", "role_arn"));
    awsr_config_free(cfg);
    free(out);
}

/* [DEFAULT] loses what makes a source even when every section sets the same key itself
 * (so no section holds a merged copy of it), and keeps what only modifies one. */
static void test_default_section_sources_and_modifiers(void **state)
{
    (void)state;
    const char *text = "[DEFAULT]\n"
                       "Role_Arn = arn:aws:iam::1:role/from-default\n"
                       "source_profile : base\n"
                       "external_id = ext-123\n"
                       "sso_session = corp\n"
                       "credential_process = /bin/echo\n"
                       "    continued\n"
                       "\n"
                       "[profile dev]\n"
                       "role_arn = arn:aws:iam::1:role/dev\n"
                       "source_profile = base\n"
                       "sso_session = x\n"
                       "credential_process = /bin/true\n"
                       "\n"
                       "[profile other]\n"
                       "role_arn = arn:aws:iam::1:role/other\n"
                       "credential_source = Environment\n"
                       "source_profile = base\n"
                       "sso_session = y\n"
                       "credential_process = /bin/false\n";
    struct awsr_genconfig_profile s[] = {{"dev", NULL}};
    char *out = render(s, 1, false, text, NULL);
    assert_null(strstr(out, "from-default"));
    assert_null(strstr(out, "continued"));
    assert_null(strstr(out, "/bin/echo"));
    assert_null(strstr(out, "corp"));
    assert_non_null(strstr(out, "external_id = ext-123"));
    struct awsr_config *cfg = parse(out);
    assert_string_equal(get(cfg, "dev", "credential_process"), PROCESS("dev"));
    assert_null(get(cfg, "dev", "role_arn"));
    assert_null(get(cfg, "dev", "source_profile"));
    /* external_id reaches dev from [DEFAULT] again: harmless without a role_arn */
    assert_string_equal(get(cfg, "other", "role_arn"), "arn:aws:iam::1:role/other");
    assert_string_equal(get(cfg, "other", "external_id"), "ext-123");
    awsr_config_free(cfg);
    free(out);

    /* Nothing but [DEFAULT]: its sources go as well. */
    const char *only = "[DEFAULT]\nrole_arn = arn:aws:iam::1:role/d\nregion = eu-west-3\n";
    struct awsr_genconfig_profile d[] = {{"default", NULL}};
    out = render(d, 1, false, only, NULL);
    assert_null(strstr(out, "role/d"));
    cfg = parse(out);
    assert_string_equal(get(cfg, "default", "region"), "eu-west-3");
    assert_null(get(cfg, "default", "role_arn"));
    awsr_config_free(cfg);
    free(out);
}

static void test_line_endings_and_errors(void **state)
{
    (void)state;
    /* CRLF and a last line without a newline. */
    const char *text = "[profile a]\r\nregion = r1\r\nrole_arn = x\r\n[profile b]\r\nregion = r2";
    struct awsr_genconfig_profile s[] = {{"a", NULL}};
    char *out = render(s, 1, false, text, NULL);
    assert_non_null(strstr(out, "[profile b]\r\nregion = r2\n"));
    struct awsr_config *cfg = parse(out);
    assert_string_equal(get(cfg, "a", "region"), "r1");
    assert_null(get(cfg, "a", "role_arn"));
    assert_string_equal(get(cfg, "b", "region"), "r2");
    awsr_config_free(cfg);
    free(out);

    /* An unparsable config: an error, no copy. */
    struct awsr_genconfig_opts o = {.launcher = LAUNCHER, .served = s, .nserved = 1};
    char *t = NULL;
    size_t len;
    struct awsr_error err = {0};
    const char *bad = "[profile a]\nregion = 1\nregion = 2\n";
    assert_int_equal(awsr_genconfig_render(bad, strlen(bad), "c", &o, &t, &len, &err), -1);
    assert_int_equal(err.status, AWSR_E_CONFIG);
}

static void test_write(void **state)
{
    (void)state;
    char dir[] = "/tmp/test-genconfig-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char user[128];
    snprintf(user, sizeof user, "%s/user-config", dir);
    FILE *f = fopen(user, "w");
    fputs(USER_CONFIG, f);
    fclose(f);
    struct awsr_genconfig_profile s[] = {{"prod", NULL}};
    struct awsr_genconfig_opts o = {.launcher = LAUNCHER, .served = s, .nserved = 1};
    char *path = NULL;
    struct awsr_error err = {0};
    assert_int_equal(awsr_genconfig_write(dir, user, &o, &path, &err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *expect = render(s, 1, false, USER_CONFIG, NULL);
    char buf[8192] = {0};
    int fd = open(path, O_RDONLY);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    assert_int_equal((size_t)n, strlen(expect));
    assert_string_equal(buf, expect);
    free(expect);
    /* Never over an existing file (or a planted symlink). */
    char *again = NULL;
    assert_int_equal(awsr_genconfig_write(dir, user, &o, &again, &err), -1);
    assert_null(again);
    unlink(path);
    assert_int_equal(symlink("/tmp/elsewhere", path), 0);
    assert_int_equal(awsr_genconfig_write(dir, user, &o, &again, &err), -1);
    unlink(path);
    /* A missing user config counts as empty. */
    char missing[160];
    snprintf(missing, sizeof missing, "%s/none", dir);
    assert_int_equal(awsr_genconfig_write(dir, missing, &o, &again, &err), 0);
    unlink(again);
    free(again);
    free(path);
    unlink(user);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_served_sections_replaced_rest_verbatim),
        cmocka_unit_test(test_default_served_and_server_mode),
        cmocka_unit_test(test_profile_default_spelling_and_missing_sections),
        cmocka_unit_test(test_unsafe_names_and_launcher_paths),
        cmocka_unit_test(test_settings_kept_and_sources_dropped),
        cmocka_unit_test(test_default_section_sources_and_modifiers),
        cmocka_unit_test(test_line_endings_and_errors),
        cmocka_unit_test(test_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
