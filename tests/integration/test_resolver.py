"""The resolver through the real binary against the mock STS: every source and profile rule
(static keys, role chains, credential_source, credential_process, web identity, MFA,
external_id, session names, durations), region and endpoint selection, HTTPS with a CA
bundle, botocore's configuration errors, and where the two files come from."""
import json
import os
import re
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "mock_sts"))
import mock_sts  # noqa: E402
from mock_sts import (  # noqa: E402
    MockSTS, SEED_CHAIN_ROLE_ARN, SEED_CONTAINER_PATH, SEED_CONTAINER_ROLE_ARN,
    SEED_CONTAINER_TOKEN, SEED_EXTERNAL_ID, SEED_EXTERNAL_ID_ROLE_ARN, SEED_IMDS_ROLE_ARN,
    SEED_MFA_SERIAL, SEED_OPEN_ROLE_ARN, SEED_OTHER_USER_KEY, SEED_OTHER_USER_SECRET,
    SEED_ROLE_ARN, SEED_USER_ARN, SEED_USER_KEY, SEED_USER_SECRET, SEED_WEB_IDENTITY_TOKEN,
    SEED_WEB_ROLE_ARN)

ACCOUNT = "128716708097"
USER_CREDS = "[cli-user]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (
    SEED_USER_KEY, SEED_USER_SECRET)


# ---- helpers ----

def export(awsenv, args=(), env_extra=None, **kw):
    """Runs --export --format json; returns (CompletedProcess, parsed JSON or None)."""
    r = awsenv.run(list(args) + ["--export", "--format", "json"], env_extra=env_extra, **kw)
    data = None
    if r.returncode == 0:
        data = json.loads(r.stdout)
    return r, data


def ok(r):
    assert r.returncode == 0, r.stderr
    return r


def ar_calls(sts):
    return [c for c in sts.calls if c["op"] == "AssumeRole"]


def issued_key(sts, op="AssumeRole", index=-1):
    return [c for c in sts.calls if c["op"] == op and c.get("issued")][index]["issued"]


def config_error(r, text):
    assert r.returncode == 253, (r.returncode, r.stderr)
    assert r.stderr.startswith("awsrole-run: "), r.stderr
    assert text in r.stderr, r.stderr


def simple_role(awsenv, role_arn=SEED_OPEN_ROLE_ARN, extra="", name="r"):
    awsenv.write_credentials(USER_CREDS)
    awsenv.write_config("[profile %s]\nrole_arn = %s\nsource_profile = cli-user\n%s"
                        % (name, role_arn, extra))


# ---- the seed's profiles ----

@pytest.mark.valgrind
def test_seed_role_with_mfa_resolves(awsenv, sts):
    awsenv.seed()
    code = awsenv.totp()
    r, j = export(awsenv, ["--profile", "role-with-mfa", "--mfa-code", code])
    ok(r)
    assert [c["op"] for c in sts.calls] == ["GetSessionToken", "AssumeRole"]
    gst, ar = sts.calls
    assert gst["access_key_id"] == SEED_USER_KEY
    assert gst["params"]["SerialNumber"] == SEED_MFA_SERIAL
    assert gst["params"]["TokenCode"] == code
    assert ar["access_key_id"] == gst["issued"]  # the role came from the MFA session
    assert ar["params"]["RoleArn"] == SEED_ROLE_ARN
    assert j["AccessKeyId"] == ar["issued"]
    assert j["Region"] == "us-west-2" and j["Profile"] == "role-with-mfa"
    assert j["Expiration"].endswith("Z") and j["SessionToken"]


def test_seed_role_without_mfa_is_denied_by_the_trust_policy(awsenv, sts):
    awsenv.seed()
    r, _ = export(awsenv, ["--profile", "role-without-mfa"])
    assert r.returncode == 254
    assert ("An error occurred (AccessDenied) when calling the AssumeRole operation: "
            "Access denied") in r.stderr
    assert ar_calls(sts)[0]["access_key_id"] == SEED_USER_KEY


def test_seed_plain_profile_without_credentials(awsenv, sts):
    awsenv.seed()
    r, _ = export(awsenv, ["--profile", "anika"])
    config_error(r, "Unable to locate credentials")
    assert sts.calls == []


# ---- static keys ----

@pytest.mark.parametrize("where", ["credentials", "config"])
def test_static_keys_with_session_token(awsenv, sts, where):
    keys = ("aws_access_key_id = ASIASTATICEXAMPLE001\naws_secret_access_key = s3cr3t/+=\n"
            "aws_session_token = token-from-file\n")
    if where == "credentials":
        awsenv.write_credentials("[st]\n" + keys)
        awsenv.write_config("[profile st]\nregion = eu-central-1\n")
    else:
        awsenv.write_config("[profile st]\nregion = eu-central-1\n" + keys)
    r, j = export(awsenv, ["--profile", "st"])
    ok(r)
    assert j["AccessKeyId"] == "ASIASTATICEXAMPLE001"
    assert j["SecretAccessKey"] == "s3cr3t/+="
    assert j["SessionToken"] == "token-from-file"
    assert j["Region"] == "eu-central-1"
    assert sts.calls == []  # static keys need no STS call


def test_aws_security_token_beats_aws_session_token(awsenv, sts):
    awsenv.write_credentials("[st]\naws_access_key_id = AKIAX\naws_secret_access_key = s\n"
                             "aws_session_token = session\naws_security_token = security\n")
    r, j = export(awsenv, ["--profile", "st"])
    ok(r)
    assert j["SessionToken"] == "security"


def test_partial_static_keys(awsenv, sts):
    awsenv.write_credentials("[st]\naws_access_key_id = AKIAX\n")
    r, _ = export(awsenv, ["--profile", "st"])
    config_error(r, "Partial credentials found in shared-credentials-file, missing: "
                    "aws_secret_access_key")


def test_credentials_file_keys_beat_config_file_keys(awsenv, sts):
    awsenv.write_config("[profile st]\naws_access_key_id = AKIACONFIG\n"
                        "aws_secret_access_key = config-secret\n")
    awsenv.write_credentials("[st]\naws_access_key_id = AKIACREDS\n"
                             "aws_secret_access_key = creds-secret\n")
    r, j = export(awsenv, ["--profile", "st"])
    ok(r)
    assert (j["AccessKeyId"], j["SecretAccessKey"]) == ("AKIACREDS", "creds-secret")


def test_static_keys_with_mfa_serial_get_an_mfa_session(awsenv, sts):
    awsenv.write_credentials(USER_CREDS)
    awsenv.write_config("[profile cli-user]\nmfa_serial = %s\n" % SEED_MFA_SERIAL)
    code = awsenv.totp()
    r, j = export(awsenv, ["--profile", "cli-user", "--mfa-code", code])
    ok(r)
    assert [c["op"] for c in sts.calls] == ["GetSessionToken"]
    assert sts.calls[0]["params"]["SerialNumber"] == SEED_MFA_SERIAL
    assert sts.calls[0]["params"]["TokenCode"] == code
    assert j["AccessKeyId"] == sts.calls[0]["issued"]


# ---- role_arn + source_profile ----

def test_role_from_static_source_profile(awsenv, sts):
    simple_role(awsenv)
    r, j = export(awsenv, ["--profile", "r"])
    ok(r)
    (ar,) = ar_calls(sts)
    assert ar["access_key_id"] == SEED_USER_KEY
    assert ar["params"]["RoleArn"] == SEED_OPEN_ROLE_ARN
    assert "SerialNumber" not in ar["params"] and "TokenCode" not in ar["params"]
    assert j["AccessKeyId"] == ar["issued"]
    assert j["AccessKeyId"].startswith("ASIA")


def test_chain_through_the_mfa_role_to_the_chain_role(awsenv, sts):
    awsenv.seed()
    with open(awsenv.config_path, "a") as f:
        f.write("\n[profile chained]\nrole_arn = %s\nsource_profile = role-with-mfa\n"
                % SEED_CHAIN_ROLE_ARN)
    r, j = export(awsenv, ["--profile", "chained", "--mfa-code", awsenv.totp()])
    ok(r)
    assert [c["op"] for c in sts.calls] == ["GetSessionToken", "AssumeRole", "AssumeRole"]
    gst, ar1, ar2 = sts.calls
    assert ar1["params"]["RoleArn"] == SEED_ROLE_ARN and ar1["access_key_id"] == gst["issued"]
    assert ar2["params"]["RoleArn"] == SEED_CHAIN_ROLE_ARN
    assert ar2["access_key_id"] == ar1["issued"]
    assert ar2["principal"].startswith("arn:aws:sts::%s:assumed-role/cli-role/" % ACCOUNT)
    assert j["AccessKeyId"] == ar2["issued"]
    # The MFA settings of the source role are not those of the chained profile.
    assert "SerialNumber" not in ar2["params"]


def test_chain_of_depth_five(awsenv, sts):
    arns = [SEED_OPEN_ROLE_ARN]
    for i in range(1, 5):
        arn = "arn:aws:iam::%s:role/depth-%d" % (ACCOUNT, i)
        sts.add_role(arn, trusted=[arns[-1]])
        arns.append(arn)
    cfg = "[profile p0]\nrole_arn = %s\nsource_profile = cli-user\n" % arns[0]
    for i in range(1, 5):
        cfg += "[profile p%d]\nrole_arn = %s\nsource_profile = p%d\n" % (i, arns[i], i - 1)
    awsenv.write_config(cfg)
    awsenv.write_credentials(USER_CREDS)
    r, j = export(awsenv, ["--profile", "p4"])
    ok(r)
    calls = ar_calls(sts)
    assert [c["params"]["RoleArn"] for c in calls] == arns
    signer = SEED_USER_KEY
    for c in calls:
        assert c["access_key_id"] == signer
        signer = c["issued"]
    assert j["AccessKeyId"] == signer


def test_self_reference_with_static_keys(awsenv, sts):
    awsenv.write_credentials("[me]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                             % (SEED_USER_KEY, SEED_USER_SECRET))
    awsenv.write_config("[profile me]\nrole_arn = %s\nsource_profile = me\n" % SEED_OPEN_ROLE_ARN)
    r, j = export(awsenv, ["--profile", "me"])
    ok(r)
    (ar,) = ar_calls(sts)
    assert ar["access_key_id"] == SEED_USER_KEY
    assert j["AccessKeyId"] == ar["issued"]


def test_self_reference_without_keys_is_a_loop(awsenv, sts):
    awsenv.write_config("[profile me]\nrole_arn = %s\nsource_profile = me\n" % SEED_OPEN_ROLE_ARN)
    r, _ = export(awsenv, ["--profile", "me"])
    config_error(r, "Infinite loop in credential configuration detected. Attempting to load "
                    "from profile me which has already been visited. Visited profiles: ['me']")
    assert sts.calls == []


def test_static_keys_beat_role_arn_in_a_source_profile(awsenv, sts):
    # mid has keys and a role of its own (whose source does not even exist): its keys win.
    awsenv.write_credentials("[mid]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                             % (SEED_USER_KEY, SEED_USER_SECRET))
    awsenv.write_config("[profile top]\nrole_arn = %s\nsource_profile = mid\n"
                        "[profile mid]\nrole_arn = %s\nsource_profile = nowhere\n"
                        % (SEED_OPEN_ROLE_ARN, SEED_CHAIN_ROLE_ARN))
    r, j = export(awsenv, ["--profile", "top"])
    ok(r)
    (ar,) = ar_calls(sts)
    assert ar["params"]["RoleArn"] == SEED_OPEN_ROLE_ARN
    assert ar["access_key_id"] == SEED_USER_KEY


def test_cycle_names_the_visited_profiles(awsenv, sts):
    awsenv.write_config("[profile a]\nrole_arn = %s\nsource_profile = b\n"
                        "[profile b]\nrole_arn = %s\nsource_profile = a\n"
                        % (SEED_OPEN_ROLE_ARN, SEED_CHAIN_ROLE_ARN))
    r, _ = export(awsenv, ["--profile", "a"])
    config_error(r, "Infinite loop in credential configuration detected. Attempting to load "
                    "from profile a which has already been visited. "
                    "Visited profiles: ['a', 'b']")
    assert sts.calls == []


def test_source_profile_using_credential_process(awsenv, sts, tmp_path):
    script = process_script(tmp_path, {"Version": 1, "AccessKeyId": SEED_USER_KEY,
                                       "SecretAccessKey": SEED_USER_SECRET})
    awsenv.write_config("[profile r]\nrole_arn = %s\nsource_profile = proc\n"
                        "[profile proc]\ncredential_process = %s\n" % (SEED_OPEN_ROLE_ARN, script))
    r, j = export(awsenv, ["--profile", "r"])
    ok(r)
    (ar,) = ar_calls(sts)
    assert ar["access_key_id"] == SEED_USER_KEY
    assert j["AccessKeyId"] == ar["issued"]


# ---- credential_source ----

def test_credential_source_environment(awsenv, sts):
    awsenv.write_config("[profile e]\nrole_arn = %s\ncredential_source = Environment\n"
                        % SEED_OPEN_ROLE_ARN)
    r, j = export(awsenv, ["--profile", "e"],
                  env_extra={"AWS_ACCESS_KEY_ID": SEED_USER_KEY,
                             "AWS_SECRET_ACCESS_KEY": SEED_USER_SECRET})
    ok(r)
    (ar,) = ar_calls(sts)
    assert ar["access_key_id"] == SEED_USER_KEY
    assert j["AccessKeyId"] == ar["issued"] != SEED_USER_KEY


def test_credential_source_environment_without_variables(awsenv, sts):
    awsenv.write_config("[profile e]\nrole_arn = %s\ncredential_source = Environment\n"
                        % SEED_OPEN_ROLE_ARN)
    r, _ = export(awsenv, ["--profile", "e"])
    assert r.returncode in (253, 255)
    assert ("Error when retrieving credentials from Environment: No credentials found in "
            "credential_source referenced in profile e") in r.stderr
    assert sts.calls == []


@pytest.mark.valgrind
@pytest.mark.parametrize("slash", ["/", ""])
def test_credential_source_imds_v2(awsenv, sts, slash):
    sts.configure(imds=True)
    target = "arn:aws:iam::123456789012:role/from-imds"
    sts.add_role(target, trusted=[SEED_IMDS_ROLE_ARN])
    awsenv.write_config("[profile i]\nrole_arn = %s\ncredential_source = Ec2InstanceMetadata\n"
                        % target)
    r, j = export(awsenv, ["--profile", "i"],
                  env_extra={"AWS_EC2_METADATA_SERVICE_ENDPOINT": sts.url + slash})
    ok(r)
    ops = [c["op"] for c in sts.calls]
    assert ops[:3] == ["IMDS:token", "IMDS:role", "IMDS:credentials"]
    assert not [c for c in sts.calls if c.get("status") == 401]  # every GET carried the token
    imds_key = [c for c in sts.calls if c["op"] == "IMDS:credentials"][0]["access_key_id"]
    (ar,) = ar_calls(sts)
    assert ar["access_key_id"] == imds_key
    assert ar["params"]["RoleArn"] == target
    assert j["AccessKeyId"] == ar["issued"]


def test_credential_source_imds_unreachable(awsenv, sts):
    sts.configure(imds=False)  # the mock answers 404 to /latest/...
    awsenv.write_config("[profile i]\nrole_arn = %s\ncredential_source = Ec2InstanceMetadata\n"
                        % SEED_OPEN_ROLE_ARN)
    r, _ = export(awsenv, ["--profile", "i"],
                  env_extra={"AWS_EC2_METADATA_SERVICE_ENDPOINT": sts.url})
    assert r.returncode != 0
    assert "Ec2InstanceMetadata" in r.stderr
    assert not ar_calls(sts)


@pytest.mark.parametrize("how", ["token", "token_file"])
def test_credential_source_container(awsenv, sts, tmp_path, how):
    sts.configure(container=True)
    target = "arn:aws:iam::123456789012:role/from-container"
    sts.add_role(target, trusted=[SEED_CONTAINER_ROLE_ARN])
    awsenv.write_config("[profile c]\nrole_arn = %s\ncredential_source = EcsContainer\n" % target)
    env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": sts.url + SEED_CONTAINER_PATH}
    if how == "token":
        env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = SEED_CONTAINER_TOKEN
    else:
        tok = tmp_path / "auth-token"
        tok.write_text(SEED_CONTAINER_TOKEN)
        env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = str(tok)
        env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "wrong-token"  # the file is preferred
    r, j = export(awsenv, ["--profile", "c"], env_extra=env)
    ok(r)
    cont = [c for c in sts.calls if c["op"] == "Container"]
    assert [c["status"] for c in cont] == [200]
    (ar,) = ar_calls(sts)
    assert ar["access_key_id"] == cont[0]["access_key_id"]
    assert j["AccessKeyId"] == ar["issued"]


def test_credential_source_container_on_localhost_without_token(awsenv, sts):
    sts.configure(container={"token": None})
    target = "arn:aws:iam::123456789012:role/from-container"
    sts.add_role(target, trusted=[SEED_CONTAINER_ROLE_ARN])
    awsenv.write_config("[profile c]\nrole_arn = %s\ncredential_source = EcsContainer\n" % target)
    r, _ = export(awsenv, ["--profile", "c"], env_extra={
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://localhost:%d%s" % (sts.port,
                                                                        SEED_CONTAINER_PATH)})
    ok(r)
    assert len(ar_calls(sts)) == 1


def test_credential_source_environment_with_a_session_token(awsenv, sts):
    """Temporary source credentials from the environment sign with X-Amz-Security-Token."""
    awsenv.write_credentials(USER_CREDS)
    awsenv.write_config("[profile cli-user]\nmfa_serial = %s\n"
                        "[profile e]\nrole_arn = %s\ncredential_source = Environment\n"
                        % (SEED_MFA_SERIAL, SEED_OPEN_ROLE_ARN))
    r, session = export(awsenv, ["--profile", "cli-user", "--mfa-code", awsenv.totp()])
    ok(r)
    for var in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        r, j = export(awsenv, ["--profile", "e", "--no-cache"],
                      env_extra={"AWS_ACCESS_KEY_ID": session["AccessKeyId"],
                                 "AWS_SECRET_ACCESS_KEY": session["SecretAccessKey"],
                                 var: session["SessionToken"]})
        ok(r)
        ar = ar_calls(sts)[-1]
        assert ar["access_key_id"] == session["AccessKeyId"]
        assert "x-amz-security-token" in ar["signed_headers"].split(";")
        assert j["AccessKeyId"] == ar["issued"]


def test_credential_source_container_wrong_token(awsenv, sts):
    sts.configure(container=True)
    awsenv.write_config("[profile c]\nrole_arn = %s\ncredential_source = EcsContainer\n"
                        % SEED_OPEN_ROLE_ARN)
    r, _ = export(awsenv, ["--profile", "c"],
                  env_extra={"AWS_CONTAINER_CREDENTIALS_FULL_URI": sts.url + SEED_CONTAINER_PATH,
                             "AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong"})
    assert r.returncode in (253, 255)
    assert "container" in r.stderr.lower()
    assert [c["status"] for c in sts.calls if c["op"] == "Container"] == [403, 403, 403]
    assert not ar_calls(sts)


def test_credential_source_container_refuses_a_remote_http_host(awsenv, sts):
    awsenv.write_config("[profile c]\nrole_arn = %s\ncredential_source = EcsContainer\n"
                        % SEED_OPEN_ROLE_ARN)
    r, _ = export(awsenv, ["--profile", "c"],
                  env_extra={"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://example.com/creds"})
    config_error(r, "Unsupported host 'example.com'.  Can only retrieve metadata from a "
                    "loopback address or one of these hosts: 169.254.170.2, 169.254.170.23, "
                    "fd00:ec2::23, localhost")


# ---- credential_process ----

def process_script(tmp_path, doc=None, body=None, rc=0, stderr="", sleep=0):
    """A credential_process program that prints doc (JSON) or body, as a file path."""
    path = tmp_path / ("proc-%d.py" % len(list(tmp_path.glob("proc-*.py"))))
    out = body if body is not None else json.dumps(doc)
    path.write_text("#!/usr/bin/python3\nimport sys, time\ntime.sleep(%r)\n"
                    "sys.stderr.write(%r)\nsys.stdout.write(%r)\nsys.exit(%d)\n"
                    % (sleep, stderr, out, rc))
    path.chmod(0o755)
    return str(path)


@pytest.mark.valgrind
@pytest.mark.parametrize("with_expiration", [True, False])
def test_credential_process(awsenv, sts, tmp_path, with_expiration):
    doc = {"Version": 1, "AccessKeyId": "ASIAPROCESS000000001", "SecretAccessKey": "psecret",
           "SessionToken": "ptoken"}
    if with_expiration:
        doc["Expiration"] = "2099-01-02T03:04:05Z"
    awsenv.write_config("[profile p]\ncredential_process = %s --flag 'two words'\n"
                        % process_script(tmp_path, doc))
    r, j = export(awsenv, ["--profile", "p"])
    ok(r)
    assert (j["AccessKeyId"], j["SecretAccessKey"], j["SessionToken"]) == (
        "ASIAPROCESS000000001", "psecret", "ptoken")
    if with_expiration:
        assert j["Expiration"] == "2099-01-02T03:04:05Z"
    else:
        assert "Expiration" not in j
    assert sts.calls == []


@pytest.mark.parametrize("case", ["fails", "garbage", "version", "missing_key"])
def test_credential_process_errors(awsenv, sts, tmp_path, case):
    good = {"Version": 1, "AccessKeyId": "AKIAX", "SecretAccessKey": "s"}
    if case == "fails":
        script, want = process_script(tmp_path, good, rc=3, stderr="token expired, run login\n"), \
            "Error when retrieving credentials from custom-process: token expired, run login"
    elif case == "garbage":
        script, want = process_script(tmp_path, body="this is not JSON {"), \
            "Error when retrieving credentials from custom-process"
    elif case == "version":
        script, want = process_script(tmp_path, dict(good, Version=2)), \
            "Unsupported version '2' for credential process provider, supported versions: 1"
    else:
        script, want = process_script(tmp_path, {"Version": 1, "SecretAccessKey": "s"}), \
            "Missing required key in response: 'AccessKeyId'"
    awsenv.write_config("[profile p]\ncredential_process = %s\n" % script)
    r, _ = export(awsenv, ["--profile", "p"])
    assert r.returncode in (253, 255), r.stderr
    assert r.stderr.startswith("awsrole-run: ")
    assert want in r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("stamp", ["2099-01-02T03:04:05.123Z", "2099-01-02T03:04:05+00:00"])
def test_credential_process_expiration_formats(awsenv, sts, tmp_path, stamp):
    script = process_script(tmp_path, {"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "s",
                                       "Expiration": stamp})
    awsenv.write_config("[profile p]\ncredential_process = %s\n" % script)
    r, j = export(awsenv, ["--profile", "p"])
    ok(r)
    assert j["Expiration"] == "2099-01-02T03:04:05Z"


def test_credential_process_more_errors(awsenv, sts, tmp_path):
    expired = process_script(tmp_path, {"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "s",
                                        "Expiration": "2001-01-02T03:04:05Z"})
    string_version = process_script(tmp_path, {"Version": "1", "AccessKeyId": "A",
                                               "SecretAccessKey": "s"})
    awsenv.write_config("[profile expired]\ncredential_process = %s\n"
                        "[profile strver]\ncredential_process = %s\n"
                        "[profile missing]\ncredential_process = /no/such/helper --x\n"
                        % (expired, string_version))
    for profile, want in [
            ("expired", "Error when retrieving credentials from custom-process: the credentials "
                        "it returned expired at 2001-01-02T03:04:05Z"),
            ("strver", "Unsupported version '1' for credential process provider, supported "
                       "versions: 1"),
            ("missing", "Error when retrieving credentials from custom-process: cannot run "
                        "'/no/such/helper': No such file or directory")]:
        r = awsenv.run(["--profile", profile, "--", "sh", "-c", "echo RAN"])
        config_error(r, want)
        assert "RAN" not in r.stdout


def test_credential_process_that_hangs_is_killed(awsenv, sts, tmp_path):
    script = process_script(tmp_path, {"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "s"},
                            sleep=60)
    awsenv.write_config("[profile p]\ncredential_process = %s\n" % script)
    start = time.monotonic()
    r, _ = export(awsenv, ["--profile", "p"], env_extra={"AWSR_PROCESS_TIMEOUT_MS": "500"})
    assert r.returncode in (253, 255)
    assert "timed out" in r.stderr
    assert time.monotonic() - start < 40  # does not hang


# ---- web identity ----

@pytest.fixture
def auth_headers(monkeypatch):
    """Records the Authorization header of every STS request the mock receives."""
    seen = []
    orig = mock_sts._Handler._sts

    def wrapped(self, raw_path, raw_query):
        seen.append(self.headers.get("Authorization"))
        return orig(self, raw_path, raw_query)
    monkeypatch.setattr(mock_sts._Handler, "_sts", wrapped)
    return seen


@pytest.mark.valgrind
def test_web_identity_from_the_environment_without_any_config(awsenv, sts, tmp_path, auth_headers):
    token = tmp_path / "token"
    token.write_text(SEED_WEB_IDENTITY_TOKEN)
    assert not awsenv.config_path.exists() and not awsenv.credentials_path.exists()
    r, j = export(awsenv, env_extra={"AWS_WEB_IDENTITY_TOKEN_FILE": str(token),
                                     "AWS_ROLE_ARN": SEED_WEB_ROLE_ARN,
                                     "AWS_ROLE_SESSION_NAME": "ci-job-42"})
    ok(r)
    (call,) = sts.calls
    assert call["op"] == "AssumeRoleWithWebIdentity"
    assert call["params"]["RoleArn"] == SEED_WEB_ROLE_ARN
    assert call["params"]["WebIdentityToken"] == SEED_WEB_IDENTITY_TOKEN
    assert call["params"]["RoleSessionName"] == "ci-job-42"
    assert auth_headers == [None]  # unsigned
    assert j["AccessKeyId"] == call["issued"]


def test_web_identity_credentials_are_cached_like_botocore(awsenv, sts, tmp_path):
    token = tmp_path / "token"
    token.write_text(SEED_WEB_IDENTITY_TOKEN)
    env = {"AWS_WEB_IDENTITY_TOKEN_FILE": str(token), "AWS_ROLE_ARN": SEED_WEB_ROLE_ARN}
    r1, j1 = export(awsenv, env_extra=env)
    ok(r1)
    r2, j2 = export(awsenv, env_extra=env)
    ok(r2)
    assert j2["AccessKeyId"] == j1["AccessKeyId"]
    assert [c["op"] for c in sts.calls] == ["AssumeRoleWithWebIdentity"]
    # Another session name is another cache entry.
    r3, j3 = export(awsenv, env_extra=dict(env, AWS_ROLE_SESSION_NAME="other"))
    ok(r3)
    assert j3["AccessKeyId"] != j1["AccessKeyId"]
    assert len(sts.calls) == 2


def test_web_identity_from_a_profile(awsenv, sts, tmp_path, auth_headers):
    token = tmp_path / "token"
    token.write_text(SEED_WEB_IDENTITY_TOKEN)
    awsenv.write_config("[profile w]\nrole_arn = %s\nweb_identity_token_file = %s\n"
                        "role_session_name = from-profile\n" % (SEED_WEB_ROLE_ARN, token))
    r, j = export(awsenv, ["--profile", "w"])
    ok(r)
    (call,) = sts.calls
    assert call["op"] == "AssumeRoleWithWebIdentity"
    assert call["params"]["RoleSessionName"] == "from-profile"
    assert auth_headers == [None]
    assert j["AccessKeyId"] == call["issued"]


def test_web_identity_variables_beat_the_profile(awsenv, sts, tmp_path):
    """With the profile from AWS_PROFILE (an explicit --profile turns the variables off:
    test_cli_parity.py)."""
    token = tmp_path / "token"
    token.write_text(SEED_WEB_IDENTITY_TOKEN)
    awsenv.write_config("[profile w]\nrole_arn = arn:aws:iam::%s:role/not-this-one\n"
                        "web_identity_token_file = %s\n" % (ACCOUNT, tmp_path / "missing"))
    r, _ = export(awsenv,
                  env_extra={"AWS_WEB_IDENTITY_TOKEN_FILE": str(token),
                             "AWS_ROLE_ARN": SEED_WEB_ROLE_ARN, "AWS_PROFILE": "w"})
    ok(r)
    assert sts.calls[0]["params"]["RoleArn"] == SEED_WEB_ROLE_ARN
    assert re.fullmatch(r"awsrole-run-\d+", sts.calls[0]["params"]["RoleSessionName"])


def test_web_identity_duration_option(awsenv, sts, tmp_path):
    token = tmp_path / "token"
    token.write_text(SEED_WEB_IDENTITY_TOKEN)
    r, _ = export(awsenv, ["--duration", "1800"],
                  env_extra={"AWS_WEB_IDENTITY_TOKEN_FILE": str(token),
                             "AWS_ROLE_ARN": SEED_WEB_ROLE_ARN})
    ok(r)
    assert sts.calls[0]["params"]["DurationSeconds"] == "1800"


def test_web_identity_without_role_arn(awsenv, sts, tmp_path):
    token = tmp_path / "token"
    token.write_text(SEED_WEB_IDENTITY_TOKEN)
    r, _ = export(awsenv, env_extra={"AWS_WEB_IDENTITY_TOKEN_FILE": str(token)})
    config_error(r, "The provided profile or the current environment is configured to assume "
                    "role with web identity but has no role ARN configured. Ensure that the "
                    "profile has the role_arnconfiguration set or the AWS_ROLE_ARN env var is set.")


def test_web_identity_token_rejected(awsenv, sts, tmp_path):
    token = tmp_path / "token"
    token.write_text("not-a-valid-token")
    r, _ = export(awsenv, env_extra={"AWS_WEB_IDENTITY_TOKEN_FILE": str(token),
                                     "AWS_ROLE_ARN": SEED_WEB_ROLE_ARN})
    assert r.returncode == 254
    assert ("An error occurred (AccessDenied) when calling the AssumeRoleWithWebIdentity "
            "operation") in r.stderr


# ---- mfa_serial, external_id, role_session_name, duration_seconds ----

def test_mfa_serial_on_the_role_profile_only(awsenv, sts):
    # mfa_serial on the source profile is ignored: only the role profile's counts.
    awsenv.write_credentials(USER_CREDS)
    awsenv.write_config("[profile cli-user]\nmfa_serial = %s\n"
                        "[profile r]\nrole_arn = %s\nsource_profile = cli-user\n"
                        % (SEED_MFA_SERIAL, SEED_OPEN_ROLE_ARN))
    r, _ = export(awsenv, ["--profile", "r"])
    ok(r)
    assert [c["op"] for c in sts.calls] == ["AssumeRole"]
    assert "SerialNumber" not in sts.calls[0]["params"]


def test_external_id(awsenv, sts):
    simple_role(awsenv, SEED_EXTERNAL_ID_ROLE_ARN, "external_id = %s\n" % SEED_EXTERNAL_ID)
    r, _ = export(awsenv, ["--profile", "r"])
    ok(r)
    assert ar_calls(sts)[0]["params"]["ExternalId"] == SEED_EXTERNAL_ID


def test_missing_external_id_is_denied(awsenv, sts):
    simple_role(awsenv, SEED_EXTERNAL_ID_ROLE_ARN)
    r, _ = export(awsenv, ["--profile", "r"])
    assert r.returncode == 254
    assert "An error occurred (AccessDenied) when calling the AssumeRole operation" in r.stderr
    assert "ExternalId" not in ar_calls(sts)[0]["params"]


def test_role_session_name_configured(awsenv, sts):
    simple_role(awsenv, extra="role_session_name = alice@example.com\n")
    r, _ = export(awsenv, ["--profile", "r"])
    ok(r)
    (ar,) = ar_calls(sts)
    assert ar["params"]["RoleSessionName"] == "alice@example.com"
    assert sts.issued[-1]["principal"].endswith("/open-role/alice@example.com")


def test_role_session_name_generated(awsenv, sts):
    simple_role(awsenv)
    before = int(time.time())
    r, _ = export(awsenv, ["--profile", "r"])
    after = int(time.time())
    ok(r)
    name = ar_calls(sts)[0]["params"]["RoleSessionName"]
    m = re.fullmatch(r"awsrole-run-(\d+)", name)
    assert m, name
    assert before - 1 <= int(m.group(1)) <= after + 1


@pytest.mark.parametrize("value,sent", [("900", "900"), ("abc", None), ("1.5", None),
                                        ("", None)])
def test_duration_seconds(awsenv, sts, value, sent):
    simple_role(awsenv, extra="duration_seconds = %s\n" % value)
    r, _ = export(awsenv, ["--profile", "r"])
    ok(r)
    assert ar_calls(sts)[0]["params"].get("DurationSeconds") == sent


def test_duration_option_overrides_duration_seconds(awsenv, sts):
    simple_role(awsenv, extra="duration_seconds = 900\n")
    r, _ = export(awsenv, ["--profile", "r", "--duration", "1800"])
    ok(r)
    assert ar_calls(sts)[0]["params"]["DurationSeconds"] == "1800"


def test_duration_over_the_role_maximum_is_sts_error(awsenv, sts):
    simple_role(awsenv, extra="duration_seconds = 7200\n")
    r, _ = export(awsenv, ["--profile", "r"])
    assert r.returncode == 254
    assert "The requested DurationSeconds exceeds the MaxSessionDuration set for this role." \
        in r.stderr


# ---- region ----

REGION_VARS = ("AWS_REGION", "AWS_DEFAULT_REGION")


@pytest.mark.parametrize("winner", ["option", "AWS_REGION", "AWS_DEFAULT_REGION", "profile"])
def test_region_precedence(awsenv, sts, winner):
    simple_role(awsenv, extra="region = ap-south-1\n")
    values = {"option": "eu-west-1", "AWS_REGION": "eu-west-2", "AWS_DEFAULT_REGION": "eu-west-3",
              "profile": "ap-south-1"}
    order = ["option", "AWS_REGION", "AWS_DEFAULT_REGION", "profile"]
    present = order[order.index(winner):]
    args = ["--profile", "r"] + (["--region", values["option"]] if "option" in present else [])
    env = {k: values[k] for k in REGION_VARS if k in present}
    r, j = export(awsenv, args, env_extra=env)
    ok(r)
    assert j["Region"] == values[winner]
    assert ar_calls(sts)[0]["region"] == values[winner]  # the STS call is signed for it


def test_upper_case_region_is_accepted_as_botocore_does(awsenv, sts):
    simple_role(awsenv)
    r, j = export(awsenv, ["--profile", "r"], env_extra={"AWS_REGION": "EU-WEST-1"})
    ok(r)
    assert j["Region"] == "EU-WEST-1"
    assert ar_calls(sts)[0]["region"] == "EU-WEST-1"


def test_no_region_signs_for_us_east_1(awsenv, sts):
    simple_role(awsenv)
    r, j = export(awsenv, ["--profile", "r"])
    ok(r)
    assert "Region" not in j
    assert ar_calls(sts)[0]["region"] == "us-east-1"


@pytest.mark.parametrize("where", ["option", "AWS_REGION", "profile"])
def test_invalid_region(awsenv, sts, where):
    bad = "us_east_1!"
    simple_role(awsenv, extra="region = %s\n" % bad if where == "profile" else "")
    args = ["--profile", "r"] + (["--region", bad] if where == "option" else [])
    env = {"AWS_REGION": bad} if where == "AWS_REGION" else {}
    r, _ = export(awsenv, args, env_extra=env)
    config_error(r, "Provided region_name '%s' doesn't match a supported format." % bad)
    assert sts.calls == []


# ---- endpoint selection ----

@pytest.fixture
def other_sts(mock_certs):
    m = MockSTS(scenario="seed", cert_dir=mock_certs.dir).start()
    try:
        yield m
    finally:
        m.stop()


ENDPOINT_LEVELS = ["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL", "services", "endpoint_url"]


@pytest.mark.parametrize("winner", ENDPOINT_LEVELS)
def test_endpoint_precedence(awsenv, sts, other_sts, winner):
    """The winning level points at `sts`, every lower level at `other_sts`."""
    lower = ENDPOINT_LEVELS[ENDPOINT_LEVELS.index(winner) + 1:]
    url = {lvl: (sts.url if lvl == winner else other_sts.url) for lvl in [winner] + lower}
    cfg = "[profile r]\nrole_arn = %s\nsource_profile = cli-user\nregion = us-west-2\n" \
        % SEED_OPEN_ROLE_ARN
    if "services" in url:
        cfg += "services = mine\n"
    if "endpoint_url" in url:
        cfg += "endpoint_url = %s\n" % url["endpoint_url"]
    if "services" in url:
        cfg += "[services mine]\nsts =\n  endpoint_url = %s\n" % url["services"]
    awsenv.write_config(cfg)
    awsenv.write_credentials(USER_CREDS)
    env = {"AWS_ENDPOINT_URL_STS": url.get("AWS_ENDPOINT_URL_STS"),
           "AWS_ENDPOINT_URL": url.get("AWS_ENDPOINT_URL")}
    r, _ = export(awsenv, ["--profile", "r"], env_extra=env)
    ok(r)
    assert [c["op"] for c in sts.calls] == ["AssumeRole"]
    assert other_sts.calls == []


def test_services_section_without_sts_falls_back_to_endpoint_url(awsenv, sts, other_sts):
    awsenv.write_credentials(USER_CREDS)
    awsenv.write_config("[profile r]\nrole_arn = %s\nsource_profile = cli-user\n"
                        "services = mine\nendpoint_url = %s\n"
                        "[services mine]\ns3 =\n  endpoint_url = %s\n"
                        % (SEED_OPEN_ROLE_ARN, sts.url, other_sts.url))
    r, _ = export(awsenv, ["--profile", "r"], env_extra={"AWS_ENDPOINT_URL_STS": None})
    ok(r)
    assert len(ar_calls(sts)) == 1 and other_sts.calls == []


def test_missing_services_section(awsenv, sts):
    simple_role(awsenv, extra="services = nope\n")
    r, _ = export(awsenv, ["--profile", "r"], env_extra={"AWS_ENDPOINT_URL_STS": None})
    config_error(r, "The profile is configured to use the services section but the \"nope\" "
                    "services configuration does not exist.")


@pytest.mark.parametrize("how", ["variable", "variable-upper", "config"])
def test_ignore_configured_endpoint_urls(awsenv, sts, other_sts, how):
    """Every configured endpoint points at other_sts; ignoring them sends the call to the
    default regional endpoint, which the mock reaches through its CONNECT tunnel."""
    cfg = ("[profile r]\nrole_arn = %s\nsource_profile = cli-user\nregion = us-west-2\n"
           "endpoint_url = %s\nservices = mine\n" % (SEED_OPEN_ROLE_ARN, other_sts.url))
    if how == "config":
        cfg += "ignore_configured_endpoint_urls = true\n"
    cfg += "[services mine]\nsts =\n  endpoint_url = %s\n" % other_sts.url
    awsenv.write_config(cfg)
    awsenv.write_credentials(USER_CREDS)
    env = {"AWS_ENDPOINT_URL_STS": other_sts.url, "AWS_ENDPOINT_URL": other_sts.url,
           "HTTPS_PROXY": sts.proxy_url, "https_proxy": sts.proxy_url,
           "AWS_CA_BUNDLE": sts.ca_file}
    if how != "config":
        env["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "true" if how == "variable" else "TRUE"
    r, _ = export(awsenv, ["--profile", "r"], env_extra=env)
    ok(r)
    assert other_sts.calls == []
    (ar,) = ar_calls(sts)
    assert ar["tunnel_host"] == "sts.us-west-2.amazonaws.com"
    assert ar["region"] == "us-west-2"


def test_ignore_configured_endpoint_urls_false_keeps_them(awsenv, sts, other_sts):
    simple_role(awsenv)
    r, _ = export(awsenv, ["--profile", "r"],
                  env_extra={"AWS_ENDPOINT_URL_STS": other_sts.url,
                             "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "false"})
    ok(r)
    assert len(ar_calls(other_sts)) == 1 and sts.calls == []


@pytest.mark.parametrize("suffix", ["/", "/sts-prefix/", "/a/b"])
def test_endpoint_url_with_a_path_is_signed_with_it(awsenv, sts, suffix):
    simple_role(awsenv)
    r, _ = export(awsenv, ["--profile", "r"], env_extra={"AWS_ENDPOINT_URL_STS": sts.url + suffix})
    ok(r)
    (ar,) = ar_calls(sts)
    assert ar["path"] == suffix  # and the mock checked the signature over it


def test_endpoint_with_a_closed_port_is_not_silently_replaced(awsenv, sts):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    simple_role(awsenv)
    r, _ = export(awsenv, ["--profile", "r"],
                  env_extra={"AWS_ENDPOINT_URL_STS": "http://127.0.0.1:%d" % port,
                             "AWS_ENDPOINT_URL": sts.url})
    assert r.returncode == 255
    assert "127.0.0.1:%d" % port in r.stderr
    assert sts.calls == []


# ---- HTTPS ----

@pytest.mark.valgrind
@pytest.mark.parametrize("how", ["AWS_CA_BUNDLE", "ca_bundle"])
def test_https_with_the_throwaway_ca(make_awsenv, sts_https, how):
    env = make_awsenv(sts_https)
    assert env.env["AWS_ENDPOINT_URL_STS"].startswith("https://")
    simple_role(env, extra=("ca_bundle = %s\n" % sts_https.ca_file) if how == "ca_bundle" else "")
    extra = {"AWS_CA_BUNDLE": sts_https.ca_file} if how == "AWS_CA_BUNDLE" else {}
    r, j = export(env, ["--profile", "r"], env_extra=extra)
    ok(r)
    (ar,) = ar_calls(sts_https)
    assert j["AccessKeyId"] == ar["issued"]


def test_aws_ca_bundle_beats_ca_bundle_key(make_awsenv, sts_https):
    env = make_awsenv(sts_https)
    simple_role(env, extra="ca_bundle = %s\n" % sts_https.wrong_ca_file)
    r, _ = export(env, ["--profile", "r"], env_extra={"AWS_CA_BUNDLE": sts_https.ca_file})
    ok(r)


@pytest.mark.parametrize("how", ["AWS_CA_BUNDLE", "ca_bundle"])
def test_https_with_the_wrong_ca(make_awsenv, sts_https, how):
    env = make_awsenv(sts_https)
    simple_role(env, extra=("ca_bundle = %s\n" % sts_https.wrong_ca_file)
                if how == "ca_bundle" else "")
    extra = {"AWS_CA_BUNDLE": sts_https.wrong_ca_file} if how == "AWS_CA_BUNDLE" else {}
    r, _ = export(env, ["--profile", "r"], env_extra=extra)
    assert r.returncode == 255
    assert "SSL validation failed" in r.stderr and "certificate" in r.stderr
    assert r.stderr.count("\n") <= 2
    assert not ar_calls(sts_https)


def test_https_with_a_missing_ca_file(make_awsenv, sts_https, tmp_path):
    env = make_awsenv(sts_https)
    simple_role(env)
    missing = str(tmp_path / "no-such-ca.pem")
    r, _ = export(env, ["--profile", "r"], env_extra={"AWS_CA_BUNDLE": missing})
    assert r.returncode == 255
    assert missing in r.stderr


def test_empty_ca_bundle(awsenv, sts):
    simple_role(awsenv)
    r, _ = export(awsenv, ["--profile", "r"], env_extra={"AWS_CA_BUNDLE": "  "})
    config_error(r, "Invalid CA bundle: the configured value (ca_bundle, AWS_CA_BUNDLE, "
                    "REQUESTS_CA_BUNDLE, or verify) resolved to an empty or whitespace-only "
                    "string. Provide a valid path to a CA bundle file.")


# ---- configuration errors: exit 253 and botocore's wording ----

CONFIG_ERRORS = {
    "missing_profile": (
        "[profile other]\nregion = us-east-1\n", "nope",
        "The config profile (nope) could not be found"),
    "missing_source_profile": (
        "[profile a]\nrole_arn = %s\nsource_profile = ghost\n" % SEED_OPEN_ROLE_ARN, "a",
        "The source_profile \"ghost\" referenced in the profile \"a\" does not exist."),
    "both_sources": (
        "[profile a]\nrole_arn = %s\nsource_profile = cli-user\ncredential_source = Environment\n"
        % SEED_OPEN_ROLE_ARN, "a",
        "The profile \"a\" contains both source_profile and credential_source."),
    "neither_source": (
        "[profile a]\nrole_arn = %s\n" % SEED_OPEN_ROLE_ARN, "a",
        "Partial credentials found in assume-role, missing: source_profile or credential_source"),
    "bad_credential_source": (
        "[profile a]\nrole_arn = %s\ncredential_source = Bogus\n" % SEED_OPEN_ROLE_ARN, "a",
        "The credential source \"Bogus\" referenced in profile \"a\" is not valid."),
    "source_without_credentials": (
        "[profile a]\nrole_arn = %s\nsource_profile = b\n[profile b]\nregion = us-east-1\n"
        % SEED_OPEN_ROLE_ARN, "a",
        "The source profile \"b\" must have credentials."),
    "cycle_three": (
        "[profile a]\nrole_arn = %s\nsource_profile = b\n"
        "[profile b]\nrole_arn = %s\nsource_profile = c\n"
        "[profile c]\nrole_arn = %s\nsource_profile = b\n"
        % (SEED_OPEN_ROLE_ARN, SEED_OPEN_ROLE_ARN, SEED_OPEN_ROLE_ARN), "a",
        "Attempting to load from profile b which has already been visited. "
        "Visited profiles: ['a', 'b', 'c']"),
}


@pytest.mark.parametrize("case", sorted(CONFIG_ERRORS))
def test_config_errors(awsenv, sts, case):
    cfg, profile, message = CONFIG_ERRORS[case]
    awsenv.write_config(cfg)
    awsenv.write_credentials(USER_CREDS)
    r, _ = export(awsenv, ["--profile", profile])
    config_error(r, message)
    assert r.stdout == ""
    assert sts.calls == []
    r = awsenv.run(["--profile", profile, "--", "sh", "-c", "echo RAN"])
    assert r.returncode == 253 and "RAN" not in r.stdout


PARSE_ERRORS = {
    "no_delimiter": ("[profile a]\nregion = us-east-1\njust-a-word\n", 3),
    "duplicate_section": ("[profile a]\nregion = x\n\n[profile a]\nregion = y\n", 4),
    "duplicate_key": ("[profile a]\nregion = x\nREGION = y\n", 3),
    "before_any_section": ("region = x\n[profile a]\n", 1),
    # A bad nested value is reported at the line of its key.
    "bad_subsection": ("[profile a]\nregion = x\ns3 =\n  not a pair\n", 3),
}


@pytest.mark.parametrize("which", ["config", "credentials"])
@pytest.mark.parametrize("case", sorted(PARSE_ERRORS))
def test_parse_errors_name_the_file_and_line(awsenv, sts, case, which):
    text, line = PARSE_ERRORS[case]
    if which == "credentials":
        text = text.replace("[profile a]", "[a]")
        path = awsenv.write_credentials(text)
        awsenv.write_config("[profile a]\nregion = us-east-1\n")
    else:
        path = awsenv.write_config(text)
        awsenv.write_credentials(USER_CREDS)
    r, _ = export(awsenv, ["--profile", "a"])
    config_error(r, "Unable to parse config file: %s" % path)
    assert re.search(r"\bline %d\b" % line, r.stderr), r.stderr


# ---- where the files come from, and how sections map to profiles ----

def test_config_and_credentials_paths_with_tilde_and_variables(awsenv, sts, tmp_path):
    alt = tmp_path / "elsewhere"
    alt.mkdir()
    (awsenv.home / "conf").mkdir()
    (awsenv.home / "conf" / "cfg").write_text(
        "[profile r]\nrole_arn = %s\nsource_profile = u\nregion = ca-central-1\n"
        % SEED_OPEN_ROLE_ARN)
    (alt / "creds").write_text("[u]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                               % (SEED_USER_KEY, SEED_USER_SECRET))
    # The default files would give something else entirely.
    awsenv.write_config("[profile r]\nregion = us-east-1\n")
    awsenv.write_credentials("[u]\naws_access_key_id = AKIAWRONG\naws_secret_access_key = x\n")
    r, j = export(awsenv, ["--profile", "r"],
                  env_extra={"AWS_CONFIG_FILE": "~/conf/cfg",
                             "AWS_SHARED_CREDENTIALS_FILE": "${ALTDIR}/creds",
                             "ALTDIR": str(alt)})
    ok(r)
    assert j["Region"] == "ca-central-1"
    assert ar_calls(sts)[0]["access_key_id"] == SEED_USER_KEY


def test_dollar_var_without_braces_and_missing_files(awsenv, sts, tmp_path):
    (tmp_path / "c").write_text("[profile st]\naws_access_key_id = AKIAFROMVAR\n"
                                "aws_secret_access_key = x\n")
    r, j = export(awsenv, ["--profile", "st"],
                  env_extra={"AWS_CONFIG_FILE": "$CFGDIR/c", "CFGDIR": str(tmp_path),
                             "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "absent")})
    ok(r)
    assert j["AccessKeyId"] == "AKIAFROMVAR"


@pytest.mark.parametrize("later", ["profile default", "default"])
def test_default_and_profile_default_last_one_wins(awsenv, sts, later):
    earlier = "default" if later == "profile default" else "profile default"
    awsenv.write_credentials(USER_CREDS)
    awsenv.write_config(
        "[%s]\nrole_arn = %s\nsource_profile = cli-user\nregion = eu-west-1\n"
        "[%s]\naws_access_key_id = AKIALATERSECTION\naws_secret_access_key = x\n"
        % (earlier, SEED_OPEN_ROLE_ARN, later))
    r, j = export(awsenv)  # no --profile: "default"
    ok(r)
    # The later section replaced the earlier one completely: no role, no region.
    assert j["AccessKeyId"] == "AKIALATERSECTION"
    assert "Region" not in j
    assert sts.calls == []


def test_profile_default_is_used_without_profile_option(awsenv, sts):
    simple_role(awsenv, name="default")
    awsenv.write_config("[profile default]\nrole_arn = %s\nsource_profile = cli-user\n"
                        % SEED_OPEN_ROLE_ARN)
    r, j = export(awsenv)
    ok(r)
    assert j["Profile"] == "default"
    assert len(ar_calls(sts)) == 1


def test_aws_profile_and_aws_default_profile(awsenv, sts):
    awsenv.write_credentials("[one]\naws_access_key_id = AKIAONE\naws_secret_access_key = x\n"
                             "[two]\naws_access_key_id = AKIATWO\naws_secret_access_key = x\n")
    r, j = export(awsenv, env_extra={"AWS_PROFILE": "one", "AWS_DEFAULT_PROFILE": "two"})
    ok(r)
    assert j["AccessKeyId"] == "AKIAONE"
    r, j = export(awsenv, env_extra={"AWS_DEFAULT_PROFILE": "two"})
    ok(r)
    assert j["AccessKeyId"] == "AKIATWO"
    r, j = export(awsenv, ["--profile", "two"], env_extra={"AWS_PROFILE": "one"})
    ok(r)
    assert j["AccessKeyId"] == "AKIATWO"


def test_credentials_file_wins_per_key_in_the_merged_profile(awsenv, sts):
    # role_arn comes from the credentials file, region stays from the config file.
    awsenv.write_config("[profile r]\nrole_arn = %s\nsource_profile = cli-user\n"
                        "region = sa-east-1\n" % SEED_ROLE_ARN)
    awsenv.write_credentials(USER_CREDS + "[r]\nrole_arn = %s\n" % SEED_OPEN_ROLE_ARN)
    r, j = export(awsenv, ["--profile", "r"])
    ok(r)
    assert ar_calls(sts)[0]["params"]["RoleArn"] == SEED_OPEN_ROLE_ARN
    assert j["Region"] == "sa-east-1"


def test_profile_only_in_the_credentials_file_with_a_role(awsenv, sts):
    awsenv.write_credentials(USER_CREDS + "[r]\nrole_arn = %s\nsource_profile = cli-user\n"
                             % SEED_OPEN_ROLE_ARN)
    r, _ = export(awsenv, ["--profile", "r"])
    ok(r)
    assert ar_calls(sts)[0]["access_key_id"] == SEED_USER_KEY


def test_default_section_keys_merge_into_every_profile(awsenv, sts):
    awsenv.write_credentials(USER_CREDS)
    awsenv.write_config("[DEFAULT]\nregion = eu-north-1\n"
                        "[profile r]\nrole_arn = %s\nsource_profile = cli-user\n"
                        % SEED_OPEN_ROLE_ARN)
    r, j = export(awsenv, ["--profile", "r"])
    ok(r)
    assert j["Region"] == "eu-north-1"


def test_other_user_is_not_trusted(awsenv, sts):
    awsenv.write_credentials("[bob]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                             % (SEED_OTHER_USER_KEY, SEED_OTHER_USER_SECRET))
    awsenv.write_config("[profile r]\nrole_arn = %s\nsource_profile = bob\n" % SEED_OPEN_ROLE_ARN)
    r, _ = export(awsenv, ["--profile", "r"])
    assert r.returncode == 254
    assert ("User: arn:aws:iam::123456789012:user/bob is not authorized to perform: "
            "sts:AssumeRole on resource: %s" % SEED_OPEN_ROLE_ARN) in r.stderr


def test_the_command_runs_with_the_resolved_role(awsenv, sts):
    simple_role(awsenv, extra="region = eu-west-1\n")
    r = awsenv.run(["--profile", "r", "--", "sh", "-c",
                    'echo "$AWS_ACCESS_KEY_ID $AWS_REGION $AWSROLE_PROFILE"'])
    ok(r)
    assert r.stdout.split() == [ar_calls(sts)[0]["issued"], "eu-west-1", "r"]
    assert SEED_USER_KEY not in r.stdout


# ---- the cache from the resolver's side ----

def test_credentials_with_less_than_15_minutes_left_are_not_reused(awsenv, sts):
    sts.configure(credential_lifetime=600)
    simple_role(awsenv)
    for _ in range(2):
        r, _ = export(awsenv, ["--profile", "r"])
        ok(r)
    assert len(ar_calls(sts)) == 2
    sts.configure(credential_lifetime=None)
    for _ in range(2):
        r, _ = export(awsenv, ["--profile", "r"])
        ok(r)
    assert len(ar_calls(sts)) == 3  # a fresh one-hour credential is reused


def test_cache_key_depends_on_the_role_settings(awsenv, sts):
    simple_role(awsenv)
    ok(export(awsenv, ["--profile", "r"])[0])
    simple_role(awsenv, extra="role_session_name = other-name\n")
    ok(export(awsenv, ["--profile", "r"])[0])
    assert [c["params"]["RoleSessionName"] for c in ar_calls(sts)][1] == "other-name"


def test_relative_xdg_cache_home_is_ignored(awsenv, sts):
    simple_role(awsenv)
    for _ in range(2):
        ok(export(awsenv, ["--profile", "r"], env_extra={"XDG_CACHE_HOME": "relative/dir"})[0])
    assert len(ar_calls(sts)) == 1
    assert [f for f in os.listdir(awsenv.home / ".cache" / "awsrole") if f.endswith(".json")]
    assert not (awsenv.tmp / "relative").exists()
