/* creds_json.c - the JSON credentials documents of credential_process and of the
 * container and IMDS endpoints: one object, AccessKeyId, SecretAccessKey, a token,
 * Expiration, AccountId. */
#include "creds_json.h"

#include <string.h>
#include <time.h>

/* jansson frees without wiping: clear every string of the document first. */
static void json_wipe(json_t *j)
{
    if (json_is_string(j)) {
        explicit_bzero((char *)json_string_value(j), json_string_length(j));
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) json_wipe(v);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) json_wipe(v);
    }
}

void awsr_json_wipe_free(json_t *j)
{
    if (j) {
        json_wipe(j);
        json_decref(j);
    }
}

/* Loads an object. The parser's own message can quote input text (a secret), so only
 * the position is reported. */
json_t *awsr_creds_json_load(const char *json, size_t len, const char *prefix,
                              const char *what, struct awsr_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_DECODE_ANY, &jerr);
    if (!root) {
        awsr_error_set(err, AWSR_E_CONFIG,
                       "%s%s is not valid JSON (line %d, column %d)", prefix, what,
                       jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        awsr_json_wipe_free(root);
        awsr_error_set(err, AWSR_E_CONFIG, "%s%s is not a JSON object", prefix, what);
        return NULL;
    }
    return root;
}

/* A string member: 1 found, 0 absent or null, -1 wrong type (err set). */
static int get_string(json_t *obj, const char *key, const char **out, const char *prefix,
                      struct awsr_error *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        awsr_error_set(err, AWSR_E_CONFIG, "%sthe value of '%s' must be a string", prefix,
                       key);
        return -1;
    }
    *out = json_string_value(v);
    return 1;
}


/* token_key: "SessionToken" (credential_process) or "Token" (container, IMDS). */
int awsr_creds_json_fill(json_t *root, const char *token_key, const char *prefix,
                         struct awsr_creds *out, struct awsr_error *err)
{
    const char *akid, *secret, *token, *exp, *account;
    static const char *const required[] = {"AccessKeyId", "SecretAccessKey"};
    for (size_t i = 0; i < 2; i++) {
        if (!json_object_get(root, required[i]))
            return awsr_error_set(err, AWSR_E_CONFIG,
                                  "%sMissing required key in response: '%s'", prefix,
                                  required[i]);
    }
    if (get_string(root, "AccessKeyId", &akid, prefix, err) < 0 ||
        get_string(root, "SecretAccessKey", &secret, prefix, err) < 0 ||
        get_string(root, token_key, &token, prefix, err) < 0 ||
        get_string(root, "Expiration", &exp, prefix, err) < 0 ||
        get_string(root, "AccountId", &account, prefix, err) < 0)
        return -1;
    if (!akid || !*akid || !secret || !*secret)
        return awsr_error_set(err, AWSR_E_CONFIG, "%s'%s' is empty", prefix,
                              !akid || !*akid ? "AccessKeyId" : "SecretAccessKey");
    time_t expiration = 0;
    if (exp && awsr_time_parse(exp, &expiration) != 0)
        return awsr_error_set(err, AWSR_E_CONFIG,
                              "%sthe Expiration '%.64s' is not an ISO 8601 time", prefix, exp);
    struct awsr_creds c = {0};
    if (awsr_creds_set(&c, akid, secret, token && *token ? token : NULL, expiration) ||
        (account && *account && !(c.account_id = strdup(account)))) {
        awsr_creds_clear(&c);
        return awsr_error_set(err, AWSR_E_OTHER, "%sout of memory", prefix);
    }
    awsr_creds_clear(out);
    *out = c;
    return 0;
}
