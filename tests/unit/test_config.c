/* test_config.c - the INI parser (configparser RawConfigParser(strict=True) rules), the
 * profile map (botocore build_profile_map), the credentials merge, paths and file loading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

/* ---------- helpers ---------- */

static struct awsr_ini *ini_ok(const char *text)
{
    struct awsr_ini *ini = NULL;
    struct awsr_error err = {0};
    int rc = awsr_ini_parse(text, strlen(text), "/t/config", &ini, &err);
    if (rc != 0)
        print_error("unexpected parse error: %s\n", err.message);
    assert_int_equal(rc, 0);
    assert_non_null(ini);
    return ini;
}

/* Expects a parse error reported on `line`. */
static void ini_err_len(const char *text, size_t len, unsigned line)
{
    struct awsr_ini *ini = NULL;
    struct awsr_error err = {0};
    assert_int_equal(awsr_ini_parse(text, len, "/t/config", &ini, &err), -1);
    assert_null(ini);
    assert_int_equal(err.status, 253);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "Unable to parse config file: /t/config (line %u: ", line);
    if (strncmp(err.message, prefix, strlen(prefix)) != 0)
        print_error("message: %s\n", err.message);
    assert_true(strncmp(err.message, prefix, strlen(prefix)) == 0);
    assert_true(err.message[strlen(err.message) - 1] == ')');
}

static void ini_err(const char *text, unsigned line)
{
    ini_err_len(text, strlen(text), line);
}

static const struct awsr_section *sect(const struct awsr_ini *ini, const char *name)
{
    struct awsr_section *s = NULL;
    HASH_FIND_STR(ini->sections, name, s);
    return s;
}

static const char *val(const struct awsr_ini *ini, const char *section, const char *key)
{
    const struct awsr_section *s = sect(ini, section);
    if (!s)
        return NULL;
    const struct awsr_kv *kv = awsr_kv_find(s->keys, key);
    return kv ? kv->value : NULL;
}

static struct awsr_config *cfg_ok(const char *cfg, const char *cred)
{
    struct awsr_config *c = NULL;
    struct awsr_error err = {0};
    int rc = awsr_config_parse(cfg, cfg ? strlen(cfg) : 0, "/t/config", cred,
                               cred ? strlen(cred) : 0, "/t/credentials", &c, &err);
    if (rc != 0)
        print_error("unexpected error: %s\n", err.message);
    assert_int_equal(rc, 0);
    return c;
}

static const char *pval(const struct awsr_config *c, const char *profile, const char *key)
{
    const struct awsr_profile *p = awsr_config_profile(c, profile);
    return p ? awsr_profile_get(p, key) : NULL;
}

static size_t count_sections(const struct awsr_ini *ini)
{
    return HASH_COUNT(ini->sections);
}

/* ---------- delimiters, whitespace, comments ---------- */

static void test_delimiters(void **state)
{
    (void)state;
    struct awsr_ini *ini = ini_ok("[s]\na = b=c\nb: x\nc = x:y\nd : e = f\ne=f\n");
    assert_string_equal(val(ini, "s", "a"), "b=c");
    assert_string_equal(val(ini, "s", "b"), "x");
    assert_string_equal(val(ini, "s", "c"), "x:y");
    assert_string_equal(val(ini, "s", "d"), "e = f");
    assert_string_equal(val(ini, "s", "e"), "f");
    awsr_ini_free(ini);
}

static void test_whitespace_stripped(void **state)
{
    (void)state;
    struct awsr_ini *ini = ini_ok("[s]\n  region \t=\t us-east-1  \t\nempty =\nempty2:\n");
    assert_string_equal(val(ini, "s", "region"), "us-east-1");
    assert_string_equal(val(ini, "s", "empty"), "");
    assert_string_equal(val(ini, "s", "empty2"), "");
    awsr_ini_free(ini);
}

static void test_comments(void **state)
{
    (void)state;
    struct awsr_ini *ini =
        ini_ok("# top comment\n; another\n[s]\n# c\n   ; indented\n\t# tab\n"
               "region = us-east-1 # c\nk = v ; not a comment\n");
    assert_string_equal(val(ini, "s", "region"), "us-east-1 # c");
    assert_string_equal(val(ini, "s", "k"), "v ; not a comment");
    assert_int_equal(HASH_COUNT(sect(ini, "s")->keys), 2);
    awsr_ini_free(ini);
}

static void test_quotes_and_percent_literal(void **state)
{
    (void)state;
    struct awsr_ini *ini = ini_ok("[s]\nregion = \"us-east-1\"\np = 100%s %(x)s\nq = 'a'\n");
    assert_string_equal(val(ini, "s", "region"), "\"us-east-1\"");
    assert_string_equal(val(ini, "s", "p"), "100%s %(x)s");
    assert_string_equal(val(ini, "s", "q"), "'a'");
    awsr_ini_free(ini);
}

static void test_keys_lowercased_with_spaces(void **state)
{
    (void)state;
    struct awsr_ini *ini = ini_ok("[s]\nAWS_Access_Key_ID = AK\nmy key = v\n\xc3\x89T\xc3\x89 = 1\n");
    assert_string_equal(val(ini, "s", "aws_access_key_id"), "AK");
    assert_null(val(ini, "s", "AWS_Access_Key_ID"));
    assert_string_equal(val(ini, "s", "my key"), "v");
    assert_string_equal(val(ini, "s", "\xc3\xa9t\xc3\xa9"), "1"); /* "ÉTÉ" -> "été" */
    awsr_ini_free(ini);
}

static void test_line_without_delimiter(void **state)
{
    (void)state;
    ini_err("[s]\na = 1\nfoo\n", 3);
    ini_err("[s]\n= v\n", 2);  /* empty key name */
    ini_err("[s]\n : v\n", 2); /* idem with ':' */
    ini_err("[]\n", 1);        /* "[]" is no header (.+ needs one character) */
}

/* ---------- section headers ---------- */

static void test_header_regex(void **state)
{
    (void)state;
    struct awsr_ini *ini = ini_ok("[default] # c\na = 1\n[x]junk\nb = 2\n[a] # c ]\nc = 3\n"
                                  "[]]\nd = 4\n");
    assert_string_equal(val(ini, "default", "a"), "1");
    assert_string_equal(val(ini, "x", "b"), "2");
    assert_string_equal(val(ini, "a] # c ", "c"), "3");
    assert_string_equal(val(ini, "]", "d"), "4");
    assert_int_equal(count_sections(ini), 4);
    awsr_ini_free(ini);
}

static void test_header_names_case_sensitive_untrimmed(void **state)
{
    (void)state;
    struct awsr_ini *ini = ini_ok("[Default]\na = 1\n[ default ]\nb = 2\n[default]\nc = 3\n");
    assert_string_equal(val(ini, "Default", "a"), "1");
    assert_string_equal(val(ini, " default ", "b"), "2");
    assert_string_equal(val(ini, "default", "c"), "3");
    awsr_ini_free(ini);
}

static void test_unclosed_bracket_is_an_option(void **state)
{
    (void)state;
    /* "[a=b" does not match the header regex, so it is an option line "[a" = "b". */
    struct awsr_ini *ini = ini_ok("[s]\n[a=b\n");
    assert_string_equal(val(ini, "s", "[a"), "b");
    awsr_ini_free(ini);
    ini_err("[s]\n[abc\n", 2);
}

static void test_text_before_first_section(void **state)
{
    (void)state;
    ini_err("region=x\n[default]\n", 1);
    ini_err("\n\n# c\nregion=x\n[default]\n", 4);
}

static void test_duplicates(void **state)
{
    (void)state;
    ini_err("[x]\na = 1\n[y]\n[x]\n", 4);
    ini_err("[profile a]\nREGION=x\nregion=y\n", 3);
    ini_err("[DEFAULT]\na=1\n[DEFAULT]\nA=2\n", 4);
    /* The same key in different sections is fine; [DEFAULT] may be repeated. */
    struct awsr_ini *ini = ini_ok("[DEFAULT]\na=1\n[x]\na=2\n[DEFAULT]\nb=3\n[y]\na=4\n");
    assert_string_equal(val(ini, "x", "a"), "2");
    assert_string_equal(val(ini, "x", "b"), "3");
    assert_string_equal(val(ini, "y", "a"), "4");
    awsr_ini_free(ini);
}

/* ---------- continuation lines and nested blocks ---------- */

static void test_continuation(void **state)
{
    (void)state;
    struct awsr_ini *ini =
        ini_ok("[s]\nregion = a\n  b\nk = x\n\n   y\n  # comment\n  z\nlast = 1\n\n\n");
    assert_string_equal(val(ini, "s", "region"), "a\nb");
    assert_string_equal(val(ini, "s", "k"), "x\n\ny\nz");
    assert_string_equal(val(ini, "s", "last"), "1");
    awsr_ini_free(ini);
}

static void test_indented_keys_and_header_as_continuation(void **state)
{
    (void)state;
    /* Keys at the same indentation are separate keys; a more indented line continues. */
    struct awsr_ini *ini = ini_ok("[s]\n  a = 1\n  b = 2\n    c\nd = 3\n   [t]\n");
    assert_string_equal(val(ini, "s", "a"), "1");
    assert_string_equal(val(ini, "s", "b"), "2\nc");
    assert_string_equal(val(ini, "s", "d"), "3\n[t]");
    assert_null(sect(ini, "t"));
    awsr_ini_free(ini);
}

static void test_nested(void **state)
{
    (void)state;
    struct awsr_ini *ini = ini_ok("[default]\ns3 =\n  # c\n  a = 1\n\n  Max_Con=x=y\n  a = 2\n"
                                  "empty =\n\n\n");
    const struct awsr_kv *s3 = awsr_kv_find(sect(ini, "default")->keys, "s3");
    assert_non_null(s3);
    assert_string_equal(s3->value, "\na = 1\n\nMax_Con=x=y\na = 2");
    assert_int_equal(HASH_COUNT(s3->sub), 2);
    assert_string_equal(awsr_kv_find(s3->sub, "a")->value, "2"); /* later wins */
    assert_string_equal(awsr_kv_find(s3->sub, "Max_Con")->value, "x=y");
    assert_null(awsr_kv_find(s3->sub, "max_con"));
    /* Only blank lines after "empty =": the value is "" and nothing is nested. */
    const struct awsr_kv *e = awsr_kv_find(sect(ini, "default")->keys, "empty");
    assert_string_equal(e->value, "");
    assert_null(e->sub);
    awsr_ini_free(ini);
    ini_err("[default]\ns3 =\n  text\n", 2);
    ini_err("[default]\nrole_arn =\n  arn:aws:iam::1:role/x\n", 2);
}

static void test_default_section_merged(void **state)
{
    (void)state;
    struct awsr_ini *ini = ini_ok("[DEFAULT]\nregion=zz\nout = a\n[profile p]\nout = b\n"
                                  "[q]\n");
    assert_null(sect(ini, "DEFAULT"));
    assert_string_equal(val(ini, "profile p", "region"), "zz");
    assert_string_equal(val(ini, "profile p", "out"), "b");
    assert_string_equal(val(ini, "q", "region"), "zz");
    /* Own keys first, then the [DEFAULT] keys the section lacks (cp.options order). */
    assert_string_equal(sect(ini, "profile p")->keys->key, "out");
    awsr_ini_free(ini);
    /* [DEFAULT] after the sections still applies to them. */
    ini = ini_ok("[a]\nx=1\n[DEFAULT]\ny=2\n");
    assert_string_equal(val(ini, "a", "y"), "2");
    awsr_ini_free(ini);
}

/* ---------- encodings and line endings ---------- */

static void test_line_endings(void **state)
{
    (void)state;
    struct awsr_ini *ini = ini_ok("[s]\r\na = 1\r\nb = x\r\n  y\r\n");
    assert_string_equal(val(ini, "s", "a"), "1");
    assert_string_equal(val(ini, "s", "b"), "x\ny");
    awsr_ini_free(ini);
    ini = ini_ok("[s]\ra = 1\rb = 2"); /* universal newlines: a lone CR ends a line */
    assert_string_equal(val(ini, "s", "a"), "1");
    assert_string_equal(val(ini, "s", "b"), "2");
    awsr_ini_free(ini);
    ini_err("[s]\r\na = 1\r\nbad\r\n", 3);
}

static void test_bom_invalid_utf8_nul(void **state)
{
    (void)state;
    ini_err("\xef\xbb\xbf[default]\nregion = x\n", 1);
    ini_err("[s]\na = \xff\n", 2);
    ini_err("[s]\na = \xc0\xaf\n", 2);     /* overlong */
    ini_err("[s]\n\na = \xed\xa0\x80\n", 3); /* surrogate */
    ini_err("[s]\na = \xe2\x82\n", 2);     /* truncated */
    ini_err_len("[s]\na = x\0y\n", 11, 2);
    /* Valid non-ASCII is fine; Unicode spaces are stripped like str.strip(). */
    struct awsr_ini *ini = ini_ok("[s]\nname = caf\xc3\xa9\xc2\xa0\n");
    assert_string_equal(val(ini, "s", "name"), "caf\xc3\xa9");
    awsr_ini_free(ini);
}

static void test_empty_text(void **state)
{
    (void)state;
    struct awsr_ini *ini = ini_ok("");
    assert_null(ini->sections);
    awsr_ini_free(ini);
    ini = ini_ok("\n  \n# only comments\n");
    assert_null(ini->sections);
    awsr_ini_free(ini);
}

/* ---------- size ---------- */

static void test_one_megabyte_line(void **state)
{
    (void)state;
    size_t n = 1024 * 1024;
    char *text = malloc(n + 64);
    assert_non_null(text);
    int off = sprintf(text, "[s]\nbig = ");
    memset(text + off, 'x', n);
    strcpy(text + off + n, "\nafter = 1\n");
    struct awsr_ini *ini = ini_ok(text);
    assert_int_equal(strlen(val(ini, "s", "big")), n);
    assert_string_equal(val(ini, "s", "after"), "1");
    awsr_ini_free(ini);
    free(text);
}

static void test_hundred_thousand_keys(void **state)
{
    (void)state;
    size_t n = 100000;
    char *text = malloc(n * 32 + 16);
    assert_non_null(text);
    size_t off = (size_t)sprintf(text, "[s]\n");
    for (size_t i = 0; i < n; i++)
        off += (size_t)sprintf(text + off, "key%zu = v%zu\n", i, i);
    struct awsr_ini *ini = ini_ok(text);
    const struct awsr_section *s = sect(ini, "s");
    assert_int_equal(HASH_COUNT(s->keys), n);
    assert_string_equal(val(ini, "s", "key99999"), "v99999");
    assert_string_equal(s->keys->key, "key0"); /* file order kept */
    assert_int_equal(awsr_kv_find(s->keys, "key5")->line, 7);
    awsr_ini_free(ini);
    /* The same count as sections, and the config layer over it. */
    off = 0;
    for (size_t i = 0; i < n; i++)
        off += (size_t)sprintf(text + off, "[profile p%zu]\nk=%zu\n", i, i);
    struct awsr_config *c = cfg_ok(text, NULL);
    assert_int_equal(HASH_COUNT(c->profiles), n);
    assert_string_equal(pval(c, "p4242", "k"), "4242");
    awsr_config_free(c);
    free(text);
}

/* ---------- section 1.6 table ---------- */

static void test_reference_table(void **state)
{
    (void)state;
    struct awsr_config *c = cfg_ok("[default]\nregion = us-east-1 # c\n", NULL);
    assert_string_equal(pval(c, "default", "region"), "us-east-1 # c");
    awsr_config_free(c);

    struct awsr_config *bad = NULL;
    struct awsr_error err = {0};
    const char *t = "[profile a]\nREGION=x\nregion=y\n";
    assert_int_equal(awsr_config_parse(t, strlen(t), "/t/config", NULL, 0, NULL, &bad, &err), -1);
    assert_null(bad);
    assert_int_equal(err.status, 253);
    assert_true(strncmp(err.message, "Unable to parse config file: /t/config", 38) == 0);

    c = cfg_ok("[profile  dev ]\nk=1\n", NULL);
    assert_string_equal(pval(c, "dev", "k"), "1");
    awsr_config_free(c);

    c = cfg_ok("[profile a b]\nk=1\n", NULL);
    assert_null(c->profiles);
    awsr_config_free(c);

    c = cfg_ok("[Default]\nk=1\n", NULL);
    assert_null(awsr_config_profile(c, "Default"));
    assert_null(awsr_config_profile(c, "default"));
    awsr_config_free(c);

    c = cfg_ok("[DEFAULT]\nregion=zz\n[profile p]\n", NULL);
    assert_string_equal(pval(c, "p", "region"), "zz");
    assert_null(awsr_config_profile(c, "DEFAULT"));
    awsr_config_free(c);

    c = cfg_ok("[default]\ns3 =\n  # c\n  a = 1", NULL);
    const struct awsr_kv *s3 = awsr_kv_find(awsr_config_profile(c, "default")->keys, "s3");
    assert_int_equal(HASH_COUNT(s3->sub), 1);
    assert_string_equal(awsr_kv_find(s3->sub, "a")->value, "1");
    awsr_config_free(c);

    const char *errs[] = {"[default]\ns3 =\n  text", "\xef\xbb\xbf[default]",
                          "region=x\n[default]\n"};
    for (size_t i = 0; i < sizeof errs / sizeof *errs; i++) {
        bad = NULL;
        assert_int_equal(awsr_config_parse(errs[i], strlen(errs[i]), "/t/config", NULL, 0, NULL,
                                           &bad, &err),
                         -1);
        assert_int_equal(err.status, 253);
        assert_true(strstr(err.message, "Unable to parse config file: /t/config") == err.message);
    }
}

/* ---------- profile map ---------- */

static void test_profile_section_names(void **state)
{
    (void)state;
    struct awsr_config *c = cfg_ok("[profile foo]\nk=1\n[profile \"my prof\"]\nk=2\n"
                                   "[profile 'a b']\nk=3\n[profile a\\ b2]\nk=4\n"
                                   "[profile]\nk=5\n[profile a b]\nk=6\n[profilefoo]\nk=7\n"
                                   "[profile-x]\nk=8\n[profile \"unbalanced]\nk=9\n"
                                   "[preview]\nk=10\n[profile\ttab]\nk=11\n",
                                   NULL);
    assert_string_equal(pval(c, "foo", "k"), "1");
    assert_string_equal(pval(c, "my prof", "k"), "2");
    assert_string_equal(pval(c, "a b", "k"), "3");
    assert_string_equal(pval(c, "a b2", "k"), "4");
    assert_string_equal(pval(c, "tab", "k"), "11");
    assert_int_equal(HASH_COUNT(c->profiles), 5);
    assert_null(awsr_config_profile(c, "preview"));
    assert_null(awsr_config_profile(c, "profilefoo"));
    awsr_config_free(c);
}

static void test_default_last_wins_completely(void **state)
{
    (void)state;
    struct awsr_config *c = cfg_ok("[default]\na=1\nb=2\n[profile default]\na=3\n", NULL);
    assert_string_equal(pval(c, "default", "a"), "3");
    assert_null(pval(c, "default", "b"));
    awsr_config_free(c);
    c = cfg_ok("[profile default]\na=3\nc=4\n[default]\na=1\n", NULL);
    assert_string_equal(pval(c, "default", "a"), "1");
    assert_null(pval(c, "default", "c"));
    assert_int_equal(HASH_COUNT(c->profiles), 1);
    awsr_config_free(c);
}

static void test_services_and_sso_sessions(void **state)
{
    (void)state;
    struct awsr_config *c =
        cfg_ok("[services dev]\nsts =\n  endpoint_url = http://a\n[services  dev ]\n"
               "s3 =\n  endpoint_url = http://b\n[sso-session corp]\nsso_region = r\n"
               "[services a b]\nx=1\n",
               NULL);
    struct awsr_section *s = NULL;
    HASH_FIND_STR(c->services, "dev", s);
    assert_non_null(s);
    assert_null(awsr_kv_find(s->keys, "sts")); /* the later section replaced the first */
    assert_non_null(awsr_kv_find(s->keys, "s3"));
    assert_int_equal(HASH_COUNT(c->services), 1);
    HASH_FIND_STR(c->sso_sessions, "corp", s);
    assert_non_null(s);
    assert_string_equal(awsr_kv_find(s->keys, "sso_region")->value, "r");
    assert_null(c->profiles);
    awsr_config_free(c);
}

static void test_credentials_literal_and_merge(void **state)
{
    (void)state;
    struct awsr_config *c =
        cfg_ok("[profile a]\nregion = r1\nrole_arn = cfg\n[profile foo]\nx=1\n",
               "[a]\nrole_arn = cred\naws_access_key_id = AK\n[profile foo]\ny=2\n[b]\nz=3\n");
    const struct awsr_profile *a = awsr_config_profile(c, "a");
    assert_string_equal(awsr_profile_get(a, "role_arn"), "cred");
    assert_string_equal(awsr_profile_get(a, "region"), "r1");
    assert_string_equal(awsr_profile_get(a, "aws_access_key_id"), "AK");
    /* merged order: config keys first (updated in place), then new ones */
    assert_string_equal(a->keys->key, "region");
    assert_string_equal(awsr_kv_find(a->cfg_keys, "role_arn")->value, "cfg");
    assert_null(awsr_kv_find(a->cfg_keys, "aws_access_key_id"));
    assert_string_equal(awsr_kv_find(a->cred_keys, "role_arn")->value, "cred");
    assert_null(awsr_kv_find(a->cred_keys, "region"));
    /* "[profile foo]" in the credentials file is a profile named "profile foo". */
    assert_string_equal(pval(c, "profile foo", "y"), "2");
    assert_null(pval(c, "foo", "y"));
    const struct awsr_profile *b = awsr_config_profile(c, "b");
    assert_null(b->cfg_keys);
    assert_string_equal(awsr_profile_get(b, "z"), "3");
    assert_true(c->config_found && c->credentials_found);
    assert_string_equal(c->config_path, "/t/config");
    awsr_config_free(c);

    /* A credentials parse error names the credentials file. */
    struct awsr_error err = {0};
    c = NULL;
    assert_int_equal(awsr_config_parse(NULL, 0, "/t/config", "junk", 4, "/t/credentials", &c,
                                       &err),
                     -1);
    assert_true(strstr(err.message, "Unable to parse config file: /t/credentials (line 1") ==
                err.message);
}

/* ---------- paths and files ---------- */

static void test_expand_path(void **state)
{
    (void)state;
    setenv("HOME", "/home/tester/", 1);
    setenv("AWSR_T_DIR", "/opt/x", 1);
    unsetenv("AWSR_T_NOPE");
    char *p = awsr_expand_path("$AWSR_T_DIR/config");
    assert_string_equal(p, "/opt/x/config");
    free(p);
    p = awsr_expand_path("${AWSR_T_DIR}c/$AWSR_T_NOPE/${AWSR_T_NOPE}/$/${}");
    assert_string_equal(p, "/opt/xc/$AWSR_T_NOPE/${AWSR_T_NOPE}/$/${}");
    free(p);
    p = awsr_expand_path("~/.aws/config");
    assert_string_equal(p, "/home/tester/.aws/config");
    free(p);
    p = awsr_expand_path("~");
    assert_string_equal(p, "/home/tester");
    free(p);
    p = awsr_expand_path("~root/x");
    assert_string_equal(p, "/root/x");
    free(p);
    p = awsr_expand_path("~no_such_user_awsr/x");
    assert_string_equal(p, "~no_such_user_awsr/x");
    free(p);
    setenv("AWSR_T_HOMEISH", "~", 1); /* variables first, then ~ */
    p = awsr_expand_path("$AWSR_T_HOMEISH/a");
    assert_string_equal(p, "/home/tester/a");
    free(p);
    p = awsr_expand_path("a/~");
    assert_string_equal(p, "a/~");
    free(p);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_config_load(void **state)
{
    (void)state;
    char dir[] = "/tmp/awsr-test-config-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cfgp[256], credp[256], big[256];
    snprintf(cfgp, sizeof cfgp, "%s/config", dir);
    snprintf(credp, sizeof credp, "%s/credentials", dir);
    snprintf(big, sizeof big, "%s/big", dir);
    write_file(cfgp, "[profile a]\nregion = r\n");
    write_file(credp, "[a]\naws_access_key_id = AK\naws_secret_access_key = SK\n");
    setenv("AWSR_T_DIR", dir, 1);
    setenv("AWS_CONFIG_FILE", "$AWSR_T_DIR/config", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", credp, 1);

    struct awsr_config *c = NULL;
    struct awsr_error err = {0};
    assert_int_equal(awsr_config_load(&c, &err), 0);
    assert_string_equal(c->config_path, cfgp);
    assert_true(c->config_found && c->credentials_found);
    assert_string_equal(pval(c, "a", "region"), "r");
    assert_string_equal(pval(c, "a", "aws_access_key_id"), "AK");
    awsr_config_free(c);

    /* A directory is not a regular file: absent. An empty variable means no file. */
    setenv("AWS_CONFIG_FILE", dir, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "", 1);
    assert_int_equal(awsr_config_load(&c, &err), 0);
    assert_false(c->config_found);
    assert_false(c->credentials_found);
    assert_null(c->credentials_path);
    assert_null(c->profiles);
    awsr_config_free(c);

    /* Missing file: absent. */
    setenv("AWS_CONFIG_FILE", "/nonexistent/awsr/config", 1);
    assert_int_equal(awsr_config_load(&c, &err), 0);
    assert_false(c->config_found);
    awsr_config_free(c);

    /* Over 16 MiB: refused, naming the file. */
    int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 16 * 1024 * 1024 + 1), 0);
    close(fd);
    setenv("AWS_CONFIG_FILE", big, 1);
    c = NULL;
    assert_int_equal(awsr_config_load(&c, &err), -1);
    assert_null(c);
    assert_int_equal(err.status, 253);
    assert_non_null(strstr(err.message, big));
    assert_non_null(strstr(err.message, "16 MiB"));

    /* A parse error in a loaded file names the expanded path. */
    write_file(cfgp, "oops\n");
    setenv("AWS_CONFIG_FILE", "$AWSR_T_DIR/config", 1);
    assert_int_equal(awsr_config_load(&c, &err), -1);
    char want[300];
    snprintf(want, sizeof want, "Unable to parse config file: %s (line 1: ", cfgp);
    assert_true(strncmp(err.message, want, strlen(want)) == 0);

    unlink(cfgp);
    unlink(credp);
    unlink(big);
    rmdir(dir);
    unsetenv("AWS_CONFIG_FILE");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delimiters),
        cmocka_unit_test(test_whitespace_stripped),
        cmocka_unit_test(test_comments),
        cmocka_unit_test(test_quotes_and_percent_literal),
        cmocka_unit_test(test_keys_lowercased_with_spaces),
        cmocka_unit_test(test_line_without_delimiter),
        cmocka_unit_test(test_header_regex),
        cmocka_unit_test(test_header_names_case_sensitive_untrimmed),
        cmocka_unit_test(test_unclosed_bracket_is_an_option),
        cmocka_unit_test(test_text_before_first_section),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_continuation),
        cmocka_unit_test(test_indented_keys_and_header_as_continuation),
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_default_section_merged),
        cmocka_unit_test(test_line_endings),
        cmocka_unit_test(test_bom_invalid_utf8_nul),
        cmocka_unit_test(test_empty_text),
        cmocka_unit_test(test_one_megabyte_line),
        cmocka_unit_test(test_hundred_thousand_keys),
        cmocka_unit_test(test_reference_table),
        cmocka_unit_test(test_profile_section_names),
        cmocka_unit_test(test_default_last_wins_completely),
        cmocka_unit_test(test_services_and_sso_sessions),
        cmocka_unit_test(test_credentials_literal_and_merge),
        cmocka_unit_test(test_expand_path),
        cmocka_unit_test(test_config_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
