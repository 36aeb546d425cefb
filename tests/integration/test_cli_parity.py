"""Parity with the AWS CLI where an audit against aws-cli 2.9 and botocore 1.43 found
awsrole-run differing: an explicit --profile and the web-identity variables, exact
credential_source names, empty role_session_name, botocore's client-side parameter checks,
retry settings, FIPS and dual-stack endpoints, CA bundle paths, unreadable files, SSO
profiles, and an empty --profile."""
import os
import re
import shutil
import subprocess
import tempfile

from test_resolver import (  # noqa: F401 (fixtures come from conftest)
    ACCOUNT, USER_CREDS, ar_calls, config_error, export, ok, simple_role)
from mock_sts import SEED_OPEN_ROLE_ARN, SEED_USER_KEY, SEED_WEB_IDENTITY_TOKEN, SEED_WEB_ROLE_ARN

NOBODY = 65534


def web_identity_env(tmp_path):
    token = tmp_path / "token"
    token.write_text(SEED_WEB_IDENTITY_TOKEN)
    return {"AWS_WEB_IDENTITY_TOKEN_FILE": str(token), "AWS_ROLE_ARN": SEED_WEB_ROLE_ARN}


# ---- --profile and the web-identity variables (botocore's disable_env_vars) ----

def test_explicit_profile_ignores_the_web_identity_variables(awsenv, sts, tmp_path):
    awsenv.write_config("[profile w]\nregion = us-west-2\n")
    awsenv.write_credentials(USER_CREDS.replace("[cli-user]", "[w]"))
    r, j = export(awsenv, ["--profile", "w"], env_extra=web_identity_env(tmp_path))
    ok(r)
    assert j["AccessKeyId"] == SEED_USER_KEY
    assert sts.calls == []


def test_profile_from_aws_profile_honours_the_web_identity_variables(awsenv, sts, tmp_path):
    awsenv.write_config("[profile w]\nregion = us-west-2\n")
    awsenv.write_credentials(USER_CREDS.replace("[cli-user]", "[w]"))
    r, j = export(awsenv, env_extra=dict(web_identity_env(tmp_path), AWS_PROFILE="w"))
    ok(r)
    (call,) = sts.calls
    assert call["op"] == "AssumeRoleWithWebIdentity"
    assert j["AccessKeyId"] == call["issued"]


def test_explicit_profile_uses_its_own_web_identity_settings(awsenv, sts, tmp_path):
    token = tmp_path / "profile-token"
    token.write_text(SEED_WEB_IDENTITY_TOKEN)
    awsenv.write_config("[profile w]\nweb_identity_token_file = %s\nrole_arn = %s\n"
                        % (token, SEED_WEB_ROLE_ARN))
    env = dict(web_identity_env(tmp_path), AWS_ROLE_ARN="arn:aws:iam::%s:role/not-this" % ACCOUNT,
               AWS_ROLE_SESSION_NAME="from-env")
    r, _ = export(awsenv, ["--profile", "w"], env_extra=env)
    ok(r)
    (call,) = sts.calls
    assert call["params"]["RoleArn"] == SEED_WEB_ROLE_ARN
    assert re.fullmatch(r"awsrole-run-\d+", call["params"]["RoleSessionName"])


def test_empty_profile_option_means_none(awsenv, sts):
    awsenv.write_credentials(USER_CREDS.replace("[cli-user]", "[default]"))
    r, j = export(awsenv, ["--profile", ""])
    ok(r)
    assert j["AccessKeyId"] == SEED_USER_KEY


# ---- names and values ----

def test_credential_source_names_are_exact(awsenv, sts):
    awsenv.write_config("[profile e]\nrole_arn = %s\ncredential_source = environment\n"
                        % SEED_OPEN_ROLE_ARN)
    r, _ = export(awsenv, ["--profile", "e"])
    config_error(r, 'The credential source "environment" referenced in profile "e" is not valid.')
    assert sts.calls == []


def test_empty_role_session_name_is_generated(awsenv, sts):
    simple_role(awsenv, extra="role_session_name =\n")
    r, _ = export(awsenv, ["--profile", "r"])
    ok(r)
    (ar,) = ar_calls(sts)
    assert re.fullmatch(r"awsrole-run-\d+", ar["params"]["RoleSessionName"])


def test_parameter_minimums_stop_before_any_call(awsenv, sts):
    simple_role(awsenv, extra="duration_seconds = 600\nrole_session_name = x\n")
    r, _ = export(awsenv, ["--profile", "r"])
    config_error(r, "Parameter validation failed: Invalid length for parameter RoleSessionName, "
                    "value: 1, valid min length: 2; Invalid value for parameter DurationSeconds, "
                    "value: 600, valid min value: 900")
    assert sts.calls == []


def test_duration_zero_is_refused_not_dropped(awsenv, sts):
    simple_role(awsenv, extra="duration_seconds = 0\n")
    r, _ = export(awsenv, ["--profile", "r"])
    config_error(r, "Invalid value for parameter DurationSeconds, value: 0, valid min value: 900")
    assert sts.calls == []


def test_short_mfa_serial_and_code_stop_before_any_call(awsenv, sts):
    awsenv.seed()
    r, _ = export(awsenv, ["--profile", "role-with-mfa", "--mfa-code", "12345"])
    assert r.returncode == 252, r.stderr  # the CLI's status for a parameter error
    assert ("Parameter validation failed: Invalid length for parameter TokenCode, value: 5, "
            "valid min length: 6 (from --mfa-code)") in r.stderr
    for code in ("1234567", "12345a", " 123456"):
        r, _ = export(awsenv, ["--profile", "role-with-mfa"], env_extra={"AWSROLE_MFA_CODE": code})
        assert r.returncode == 252, r.stderr
        assert "the MFA code from AWSROLE_MFA_CODE must be the 6 digits" in r.stderr
        assert code.strip() not in r.stderr
    simple_role(awsenv, extra="mfa_serial =\n")
    r, _ = export(awsenv, ["--profile", "r"], env_extra={"AWSROLE_MFA_CODE": "123456"})
    config_error(r, "Invalid length for parameter SerialNumber, value: 0, valid min length: 9")
    assert sts.calls == []


# ---- retries ----

def test_retries_follow_the_cli_v2_standard_mode(awsenv, sts):
    simple_role(awsenv)
    sts.add_fault("AssumeRole", "throttling", count=-1)
    r, _ = export(awsenv, ["--profile", "r"])
    assert r.returncode == 254, r.stderr
    assert ("An error occurred (Throttling) when calling the AssumeRole operation "
            "(reached max retries: 2): Rate exceeded") in r.stderr
    assert len(ar_calls(sts)) == 3


def test_max_attempts_from_the_variable_and_the_profile(awsenv, sts):
    simple_role(awsenv, extra="max_attempts = 2\n")
    sts.add_fault("AssumeRole", "throttling", count=-1)
    r, _ = export(awsenv, ["--profile", "r"])
    assert "(reached max retries: 1)" in r.stderr
    assert len(ar_calls(sts)) == 2
    r, _ = export(awsenv, ["--profile", "r"], env_extra={"AWS_MAX_ATTEMPTS": "1"})
    assert "(reached max retries: 0)" in r.stderr
    assert len(ar_calls(sts)) == 3


def test_bad_retry_settings_are_configuration_errors(awsenv, sts):
    simple_role(awsenv)
    r, _ = export(awsenv, ["--profile", "r"], env_extra={"AWS_MAX_ATTEMPTS": "0"})
    config_error(r, 'Value provided to "max_attempts": 0 must be an integer greater than or '
                    'equal to 1.')
    r, _ = export(awsenv, ["--profile", "r"], env_extra={"AWS_RETRY_MODE": "eager"})
    config_error(r, 'Invalid value provided to "mode": "eager" must be one of: (\'legacy\', '
                    '\'standard\', \'adaptive\')')
    assert sts.calls == []


# ---- FIPS and dual-stack (reached through the mock's CONNECT tunnel) ----

def tunnel(sts):
    return {"AWS_ENDPOINT_URL_STS": None, "HTTPS_PROXY": sts.proxy_url,
            "https_proxy": sts.proxy_url, "AWS_CA_BUNDLE": sts.ca_file}


def test_fips_endpoint_from_the_variable_and_the_profile(awsenv, sts):
    simple_role(awsenv, extra="region = us-west-2\n")
    r, _ = export(awsenv, ["--profile", "r"],
                  env_extra=dict(tunnel(sts), AWS_USE_FIPS_ENDPOINT="true"))
    ok(r)
    simple_role(awsenv, extra="region = us-west-2\nuse_fips_endpoint = true\n")
    r, _ = export(awsenv, ["--profile", "r", "--no-cache"], env_extra=tunnel(sts))
    ok(r)
    hosts = [c["tunnel_host"] for c in ar_calls(sts)]
    assert hosts == ["sts-fips.us-west-2.amazonaws.com"] * 2
    assert all(c["region"] == "us-west-2" for c in ar_calls(sts))


def test_dualstack_endpoint(awsenv, sts):
    simple_role(awsenv, extra="region = us-east-1\nuse_dualstack_endpoint = true\n")
    r, _ = export(awsenv, ["--profile", "r"], env_extra=tunnel(sts))
    ok(r)
    (ar,) = ar_calls(sts)
    assert ar["tunnel_host"] == "sts.us-east-1.api.aws"


def test_fips_with_a_custom_endpoint_is_refused(awsenv, sts):
    simple_role(awsenv)
    r, _ = export(awsenv, ["--profile", "r"], env_extra={"AWS_USE_FIPS_ENDPOINT": "true"})
    config_error(r, "Invalid Configuration: FIPS and custom endpoint are not supported")
    assert sts.calls == []


# ---- CA bundles ----

def test_ca_bundle_with_tilde_and_requests_ca_bundle(make_awsenv, sts_https):
    env = make_awsenv(sts_https)
    ca = env.home / "ca.pem"
    ca.write_bytes(open(sts_https.ca_file, "rb").read())
    simple_role(env, extra="ca_bundle = ~/ca.pem\n")
    r, _ = export(env, ["--profile", "r", "--no-cache"])
    ok(r)
    simple_role(env)
    r, _ = export(env, ["--profile", "r", "--no-cache"],
                  env_extra={"REQUESTS_CA_BUNDLE": str(ca)})
    ok(r)
    assert len(ar_calls(sts_https)) == 2


# ---- files the CLI cannot read count as empty ----

def test_unreadable_credentials_file_counts_as_empty(awsenv, sts):
    """Run as nobody (root reads anything), in a directory nobody may enter."""
    d = tempfile.mkdtemp(prefix="awsr-unreadable-")
    try:
        os.chmod(d, 0o755)
        cfg, cred = os.path.join(d, "config"), os.path.join(d, "credentials")
        with open(cfg, "w") as f:
            f.write("[profile u]\naws_access_key_id = %s\naws_secret_access_key = x\n"
                    % SEED_USER_KEY)
        with open(cred, "w") as f:
            f.write(USER_CREDS)
        os.chmod(cfg, 0o644)
        os.chmod(cred, 0)
        env = awsenv._env({"HOME": d, "AWS_CONFIG_FILE": cfg, "AWS_SHARED_CREDENTIALS_FILE": cred})
        argv = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
                awsenv.bin, "--profile", "u", "--export", "--format", "json", "--no-cache"]
        r = subprocess.run(argv, env=env, cwd="/", stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert SEED_USER_KEY in r.stdout
        assert ("warning: cannot read %s (Permission denied); it counts as empty" % cred
                in r.stderr)
    finally:
        shutil.rmtree(d)


# ---- SSO ----

def test_sso_profile_is_not_silently_replaced_by_its_keys(awsenv, sts):
    awsenv.write_config("[profile s]\nsso_start_url = https://x.awsapps.com/start\n"
                        "sso_region = us-east-1\nsso_account_id = %s\nsso_role_name = R\n"
                        % ACCOUNT)
    awsenv.write_credentials(USER_CREDS.replace("[cli-user]", "[s]"))
    r, _ = export(awsenv, ["--profile", "s"])
    config_error(r, 'The profile "s" uses IAM Identity Center (SSO), which awsrole-run does not '
                    'sign in to')
    assert "credential_process = aws configure export-credentials --profile s" in r.stderr
    awsenv.write_config("[profile s]\nsso_role_name = R\nsso_session = nope\n")
    r, _ = export(awsenv, ["--profile", "s"])
    config_error(r, 'The specified sso-session does not exist: "nope"')
    assert sts.calls == []
