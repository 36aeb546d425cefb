"""Long runs (issue 7): renewal before expiry from the cached MFA session, the end of the MFA
session, --server (a container-credentials endpoint for the SDKs), several profiles in one
tree (--also) and the private config copy whose credential_process answers from the tree.

The mock issues short-lived credentials (credential_lifetime) and the launcher renews with a
small AWSROLE_REFRESH_MARGIN, so these tests wait for real renewals (a few seconds each).
"""
import io
import json
import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pexpect
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "mock_sts"))
import mock_sts  # noqa: E402

SERIAL = mock_sts.SEED_MFA_SERIAL
PROMPT = "Enter MFA code for %s: " % SERIAL
AWS_CLI = "/usr/bin/aws"
PY = "/usr/bin/python3"

# Beside the seed profiles: the same role under another name (its own role-cache entry,
# the same MFA session), and a second role from the same source and device.
EXTRA_CONFIG = """
[profile long-run]
region = us-west-2
role_arn = arn:aws:iam::128716708097:role/cli-role
role_session_name = long-run
source_profile = cli-user
mfa_serial = arn:aws:iam::128716708097:mfa/cli-user

[profile second]
region = us-west-2
output = json
role_arn = arn:aws:iam::128716708097:role/open-role
source_profile = cli-user
mfa_serial = arn:aws:iam::128716708097:mfa/cli-user
"""

# A C child: reads AWS_ACCESS_KEY_ID/SECRET/TOKEN through getenv (live through the preload
# library) and the [default] section of ~/.aws/credentials (redirected to the tree's file)
# until both changed; prints the triples it saw.
POLLER_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void file_key(char *out, size_t n)
{
    char path[1024], line[8192];
    snprintf(path, sizeof path, "%s/.aws/credentials", getenv("HOME"));
    out[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    int in_default = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] == '[')
            in_default = strcmp(line, "[default]") == 0;
        else if (in_default && strncmp(line, "aws_access_key_id = ", 20) == 0)
            snprintf(out, n, "%s", line + 20);
    }
    fclose(f);
}

static void show(const char *tag)
{
    /* One SDK-like read: key id first, then secret and token. */
    const char *k = getenv("AWS_ACCESS_KEY_ID");
    const char *s = getenv("AWS_SECRET_ACCESS_KEY");
    const char *t = getenv("AWS_SESSION_TOKEN");
    printf("%s %s %s %s\n", tag, k ? k : "-", s ? s : "-", t ? t : "-");
}

int main(void)
{
    char first[256], fk[256], cur[256];
    snprintf(first, sizeof first, "%s", getenv("AWS_ACCESS_KEY_ID"));
    file_key(fk, sizeof fk);
    show("ENV0");
    printf("FILE0 %s\n", fk);
    fflush(stdout);
    int env_changed = 0, file_changed = 0;
    for (int i = 0; i < 1200 && !(env_changed && file_changed); i++) {
        usleep(100000);
        if (!env_changed && strcmp(getenv("AWS_ACCESS_KEY_ID"), first) != 0) {
            env_changed = 1;
            show("ENV1");
        } else if (i % 5 == 0) {
            show("ENVX"); /* consistency samples while waiting */
        }
        file_key(cur, sizeof cur);
        if (!file_changed && cur[0] && strcmp(cur, fk) != 0) {
            file_changed = 1;
            printf("FILE1 %s\n", cur);
        }
        fflush(stdout);
    }
    return env_changed && file_changed ? 0 : 3;
}
"""

# A Python child for --server and --also: reports its environment, what the endpoint says
# with and without the token, and what its AWS config copy holds.
PROBE_PY = r"""
import json, os, sys, urllib.request, urllib.error

def get(url, token=None):
    rq = urllib.request.Request(url)
    if token is not None:
        rq.add_header("Authorization", token)
    try:
        with urllib.request.urlopen(rq, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")

out = {"env": {k: v for k, v in os.environ.items() if k.startswith(("AWS", "AWSROLE"))}}
base = os.environ.get("AWSROLE_ENDPOINT")
tok = os.environ.get("AWSROLE_ENDPOINT_TOKEN")
out["endpoint"] = {}
for path in sys.argv[1:]:
    out["endpoint"][path] = {
        "token": get(base + path, tok),
        "none": get(base + path),
        "wrong": get(base + path, "0" * 64),
    }
cfg = os.environ.get("AWS_CONFIG_FILE")
out["config"] = open(cfg).read() if cfg and os.path.exists(cfg) else None
try:
    out["credentials_file"] = open(os.path.expanduser("~/.aws/credentials")).read()
except OSError:
    out["credentials_file"] = None
print("PROBE " + json.dumps(out))
"""


def ops(sts, op):
    return [c["op"] for c in sts.calls].count(op)


def issued_triples(sts):
    return {(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]): c for c in sts.issued}


def setup_profiles(awsenv):
    awsenv.seed()
    with open(awsenv.config_path, "a") as f:
        f.write(EXTRA_CONFIG)


def prime_mfa_session(awsenv, sts):
    """One run that gets (and caches on disk) a 12-hour MFA session, before the mock is
    told to issue short-lived credentials."""
    r = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--export"])
    assert r.returncode == 0, r.stderr
    assert ops(sts, "GetSessionToken") == 1


@pytest.fixture(scope="module")
def poller(tmp_path_factory):
    d = tmp_path_factory.mktemp("poller")
    src = d / "poller.c"
    src.write_text(POLLER_C)
    exe = d / "poller"
    subprocess.run(["cc", "-O1", "-o", str(exe), str(src)], check=True)
    return str(exe)


@pytest.fixture
def probe(tmp_path):
    p = tmp_path / "probe.py"
    p.write_text(PROBE_PY)
    return str(p)


def probe_output(stdout):
    line = [l for l in stdout.splitlines() if l.startswith("PROBE ")]
    assert line, stdout
    return json.loads(line[-1][len("PROBE "):])


def port_closed(url):
    m = re.match(r"http://127\.0\.0\.1:(\d+)", url)
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", int(m.group(1))))
        return False
    except ConnectionRefusedError:
        return True
    finally:
        s.close()


# ---- renewal ----

@pytest.mark.slow
def test_renewal_reaches_live_getenv_and_the_credentials_file_without_prompt(awsenv, sts, poller):
    setup_profiles(awsenv)
    prime_mfa_session(awsenv, sts)
    sts.configure(credential_lifetime=24)
    # No code source and no terminal: any attempt to prompt would fail the run at once.
    r = awsenv.run(["-p", "long-run", "-v", "--", poller], env_extra={"AWSROLE_REFRESH_MARGIN": "12"},
                   timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    seen = {}
    samples = []
    for line in r.stdout.splitlines():
        tag, rest = line.split(" ", 1)
        if tag.startswith("ENV"):
            triple = tuple(rest.split(" "))
            samples.append(triple)
            seen.setdefault(tag, triple)
        else:
            seen[tag] = rest
    assert seen["ENV0"][0] != seen["ENV1"][0]
    assert seen["FILE0"] == seen["ENV0"][0]
    assert seen["FILE1"] == seen["ENV1"][0]
    # Every key, secret and token read together belongs to one issue by STS.
    issued = issued_triples(sts)
    for t in samples:
        assert t in issued, "a mixed or unknown triple was read"
        assert issued[t]["kind"] == "role"
    # The prime run's GetSessionToken is the only one; AssumeRole: prime, start, renewal.
    assert ops(sts, "GetSessionToken") == 1
    assert ops(sts, "AssumeRole") == 3
    assert all("TokenCode" not in c["params"] for c in sts.calls_for("AssumeRole")[1:])
    assert "renewed the credentials of the tree" in r.stderr
    assert "Enter MFA code" not in r.stderr


# A parent that copied its environment at start (CPython) keeps passing the first
# generation to its children after a renewal; each child's shim must renew that stale copy,
# and must keep what the parent set or removed itself.
STALE_PARENT_PY = r"""
import json, os, subprocess, time

def printenv(*names, env=None):
    r = subprocess.run(["printenv"] + list(names), env=env, capture_output=True, text=True)
    return r.stdout.split()

start = os.environ["AWS_ACCESS_KEY_ID"]
deadline = time.time() + 60
while time.time() < deadline and printenv("AWS_ACCESS_KEY_ID") == [start]:
    time.sleep(0.3)
out = {"start": start, "start_token": os.environ["AWS_SESSION_TOKEN"]}
out["child"] = printenv("AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "AWS_CREDENTIAL_EXPIRATION",
                        "AWS_SESSION_EXPIRATION")
out["minio"] = printenv("AWS_ACCESS_KEY_ID", "AWS_REGION",
                        env=dict(os.environ, AWS_ACCESS_KEY_ID="MINIOKEY", AWS_REGION="eu-west-3"))
out["removed"] = printenv("AWS_SESSION_TOKEN",
                          env={k: v for k, v in os.environ.items() if k != "AWS_SESSION_TOKEN"})
print("PROBE " + json.dumps(out))
"""


@pytest.mark.slow
def test_renewal_replaces_stale_copies_but_keeps_what_a_parent_set(awsenv, sts, tmp_path):
    setup_profiles(awsenv)
    prime_mfa_session(awsenv, sts)
    sts.configure(credential_lifetime=24)
    script = tmp_path / "stale_parent.py"
    script.write_text(STALE_PARENT_PY)
    r = awsenv.run(["-p", "long-run", "--", PY, str(script)],
                   env_extra={"AWSROLE_REFRESH_MARGIN": "12"}, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    out = probe_output(r.stdout)
    akid, token, exp, session_exp = out["child"]
    assert akid != out["start"] and token != out["start_token"]
    assert (akid, token) in {(k, t) for k, _, t in issued_triples(sts)}
    assert session_exp == exp
    assert out["minio"] == ["MINIOKEY", "eu-west-3"]
    assert out["removed"] == []


@pytest.mark.slow
def test_tree_started_from_a_cache_hit_renews_the_same_way(awsenv, sts):
    """A cache hit starts the tree in the statically linked launcher, which renews through
    awsrole-run-full (shim/front.h); the tree must not see a difference: the same role
    session name at every renewal, the config as it was at the start even if the file
    changes, renewed credentials for new processes and in the file. (Running processes
    switch to a new generation only 10 minutes before theirs expires.)"""
    setup_profiles(awsenv)
    with open(awsenv.config_path, "a") as f:
        f.write("\n[profile generated-name]\nregion = us-west-2\n"
                "role_arn = arn:aws:iam::128716708097:role/cli-role\n"
                "source_profile = cli-user\nmfa_serial = arn:aws:iam::128716708097:mfa/cli-user\n"
                "duration_seconds = 3600\n")  # a role-cache entry of its own
    prime_mfa_session(awsenv, sts)
    sts.configure(credential_lifetime=960)  # long enough for the cache (15 minutes)
    first = awsenv.run(["-p", "generated-name", "--export"])
    assert first.returncode == 0, first.stderr
    build = os.environ.get("AWSROLE_BUILD", "/work/main/build")
    probe = os.path.join(build, "probes", "getenv_probe")
    # Renewals are due 6 s after each issue: two of them while the command runs. Halfway,
    # the user's config changes role (the tree keeps the one it started with).
    script = ("readlink /proc/$PPID/exe; {p} AWS_ACCESS_KEY_ID; sleep 3; "
              "cp \"$AWSROLE_USER_CONFIG_FILE\" \"$AWSROLE_USER_CONFIG_FILE.bak\"; "
              "sed -i s/cli-role/open-role/ \"$AWSROLE_USER_CONFIG_FILE\"; sleep 10; "
              "mv \"$AWSROLE_USER_CONFIG_FILE.bak\" \"$AWSROLE_USER_CONFIG_FILE\"; "
              "{p} AWS_ACCESS_KEY_ID; cat ~/.aws/credentials").format(p=probe)
    r = awsenv.run(["-p", "generated-name", "-v", "--", "sh", "-c", script],
                   env_extra={"AWSROLE_REFRESH_MARGIN": "954"}, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "using cached role credentials for profile generated-name" in r.stderr
    assert r.stderr.count("renewed the credentials of the tree") >= 2, r.stderr
    lines = r.stdout.splitlines()
    full = os.path.join(build, "awsrole-run-full")
    assert lines[0] == os.path.realpath(os.path.join(build, "awsrole-run")), lines[0]
    if os.path.exists(full):  # the statically linked one: no program interpreter
        headers = subprocess.run(["readelf", "-lW", lines[0]], stdout=subprocess.PIPE,
                                 text=True, check=True).stdout
        assert "ELF" in open(lines[0], "rb").read(4).decode("latin-1")
        assert "INTERP" not in headers
    before, after = lines[1].split("=", 1)[1], lines[2].split("=", 1)[1]
    assert before != after
    assert "aws_access_key_id = " + after in lines[3:], r.stdout
    issued = {c["AccessKeyId"]: c for c in sts.issued}
    assert issued[after]["kind"] == "role"
    assert ops(sts, "GetSessionToken") == 1
    renewals = sts.calls_for("AssumeRole")[2:]
    assert len(renewals) >= 2
    assert all("TokenCode" not in c["params"] for c in renewals)
    # the tree's own generated name, kept: not a new one per renewal (they are 6 s apart)
    names = {c["params"]["RoleSessionName"] for c in renewals}
    assert len(names) == 1, names
    assert re.fullmatch(r"awsrole-run-\d+", names.pop())
    assert all(c["params"]["RoleArn"].endswith(":role/cli-role") for c in renewals)
    # the renewal went to the cache too: the next run starts from it
    again = awsenv.run(["-p", "generated-name", "--export"])
    assert again.returncode == 0, again.stderr
    key = again.stdout.splitlines()[0].split("'")[1]
    assert key in issued and key != before
    assert "Enter MFA code" not in r.stderr


@pytest.mark.slow
def test_ctrl_c_for_the_command_does_not_cut_a_renewal(awsenv, sts):
    """Ctrl-C on the terminal reaches the foreground process group: the command (which
    ignores it here), not the renewal in progress (with the static launcher, that is the
    companion process: it runs in a group of its own)."""
    setup_profiles(awsenv)
    prime_mfa_session(awsenv, sts)
    sts.configure(credential_lifetime=960)
    first = awsenv.run(["-p", "long-run", "--export"])
    assert first.returncode == 0, first.stderr
    sts.add_fault("AssumeRole", "delay", count=1, delay=4)  # the first renewal takes 4 s
    child = awsenv.spawn(["-p", "long-run", "-v", "--", "sh", "-c",
                          "trap '' INT; echo started; sleep 14; echo still-alive"],
                         env_extra={"AWSROLE_REFRESH_MARGIN": "954"})
    seen = io.StringIO()
    child.logfile_read = seen
    child.expect_exact("started")
    child.expect_exact("STS AssumeRole: POST", timeout=30)  # the renewal is under way
    child.sendintr()
    child.expect_exact("renewed the credentials of the tree", timeout=30)
    child.expect_exact("still-alive", timeout=30)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, seen.getvalue()
    assert "could not renew" not in seen.getvalue()


@pytest.mark.slow
def test_end_of_the_mfa_session_never_prompts_while_the_child_owns_the_terminal(awsenv, sts):
    awsenv.seed()
    sts.configure(credential_lifetime=20)  # the MFA session too
    child = awsenv.spawn(["-p", "role-with-mfa", "--", "sh", "-c", "sleep 14; echo still-alive"],
                         env_extra={"AWSROLE_REFRESH_MARGIN": "10"})
    seen = io.StringIO()
    child.logfile_read = seen
    child.expect_exact(PROMPT)
    child.sendline(awsenv.totp())
    child.expect_exact("still-alive", timeout=60)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    text = seen.getvalue()
    # The terminal saw the first prompt only, and the message once, before the child ended.
    assert text.count(PROMPT) == 1
    assert text.count("could not renew the credentials without a new MFA code") == 1
    assert text.index("could not renew") < text.index("still-alive")
    assert ops(sts, "GetSessionToken") == 1
    assert ops(sts, "AssumeRole") == 1


@pytest.mark.slow
def test_end_of_the_mfa_session_message_says_when_and_how(awsenv, sts):
    awsenv.seed()
    sts.configure(credential_lifetime=20)
    r = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--",
                    "sh", "-c", "sleep 14; echo still-alive"],
                   env_extra={"AWSROLE_REFRESH_MARGIN": "10"}, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "still-alive"
    lines = [l for l in r.stderr.splitlines() if "could not renew" in l]
    assert len(lines) == 1, r.stderr
    exp = [c for c in sts.issued if c["kind"] == "role"][0]["Expiration"]
    assert exp in lines[0]                       # when they expire
    assert "awsrole-run again" in lines[0]       # how to renew
    assert "Enter MFA code" not in r.stderr
    assert ops(sts, "GetSessionToken") == 1
    assert ops(sts, "AssumeRole") == 1           # no retry storm after giving up


# ---- --server ----

@pytest.mark.valgrind
def test_server_gives_the_aws_cli_the_role_without_keys_in_the_environment(awsenv, sts, probe):
    awsenv.seed()
    script = ("%s %s / /role/role-with-mfa /role/nosuch && "
              "%s sts get-caller-identity --endpoint-url %s --output json"
              % (PY, probe, AWS_CLI, sts.url))
    r = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--server", "--",
                    "sh", "-c", script], timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr
    p = probe_output(r.stdout)
    env = p["env"]
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert k not in env
    uri = env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    assert re.match(r"^http://127\.0\.0\.1:\d+/$", uri)
    assert re.match(r"^[0-9a-f]{64}$", env["AWS_CONTAINER_AUTHORIZATION_TOKEN"])
    assert env["AWS_SHARED_CREDENTIALS_FILE"] == "/dev/null"
    assert "LD_PRELOAD" not in env or "awsrole" not in env.get("LD_PRELOAD", "")
    role = [c for c in sts.issued if c["kind"] == "role"][0]
    for path in ("/", "/role/role-with-mfa"):
        status, doc = p["endpoint"][path]["token"]
        assert status == 200
        assert doc["AccessKeyId"] == role["AccessKeyId"]
        assert doc["SecretAccessKey"] == role["SecretAccessKey"]
        assert doc["Token"] == role["SessionToken"]
        assert doc["Expiration"] == role["Expiration"]
        # Refused without the token or with a wrong one, and nothing leaks.
        assert p["endpoint"][path]["none"][0] == 401
        assert p["endpoint"][path]["wrong"][0] == 403
        for how in ("none", "wrong"):
            assert "AccessKeyId" not in p["endpoint"][path][how][1]
    assert p["endpoint"]["/role/nosuch"]["token"][0] == 404
    # The default profile of the config copy carries no credentials of its own.
    assert "credential_process" not in p["config"].split("[default]")[1].split("[")[0]
    # The real AWS CLI found the endpoint and signed with the role's credentials.
    ident = json.loads(r.stdout[r.stdout.index("PROBE "):].split("\n", 1)[1])
    assert ident["Arn"].startswith("arn:aws:sts::128716708097:assumed-role/cli-role/")
    gci = sts.calls_for("GetCallerIdentity")[-1]
    assert gci["access_key_id"] == role["AccessKeyId"]
    assert ops(sts, "AssumeRole") == 1
    # The endpoint ends with the run.
    assert port_closed(uri)


@pytest.mark.slow
def test_server_serves_renewed_credentials(awsenv, sts, probe, tmp_path):
    setup_profiles(awsenv)
    prime_mfa_session(awsenv, sts)
    sts.configure(credential_lifetime=24)
    waiter = tmp_path / "wait.py"
    waiter.write_text(r"""
import json, os, time, urllib.request
def creds():
    rq = urllib.request.Request(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
    rq.add_header("Authorization", os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"])
    return json.loads(urllib.request.urlopen(rq, timeout=10).read())
first = creds()
for _ in range(600):
    time.sleep(0.1)
    now = creds()
    if now["AccessKeyId"] != first["AccessKeyId"]:
        print(json.dumps([first, now]))
        break
""")
    r = awsenv.run(["-p", "long-run", "--server", "--", PY, str(waiter)],
                   env_extra={"AWSROLE_REFRESH_MARGIN": "12"}, timeout=120)
    assert r.returncode == 0, r.stderr
    first, now = json.loads(r.stdout)
    issued = issued_triples(sts)
    for d in (first, now):
        assert (d["AccessKeyId"], d["SecretAccessKey"], d["Token"]) in issued
    assert ops(sts, "GetSessionToken") == 1
    assert ops(sts, "AssumeRole") == 3


# ---- several profiles in one tree ----

def test_also_one_prompt_file_endpoint_and_config_copy(awsenv, sts, probe):
    setup_profiles(awsenv)
    nested = "%s --export --format process --profile second" % awsenv.bin
    script = "%s %s /role/role-with-mfa /role/second && echo NESTED $(%s)" % (PY, probe, nested)
    # --no-cache: the second profile can only avoid a second prompt through the session the
    # run holds in memory.
    child = awsenv.spawn(["-p", "role-with-mfa", "--also", "second", "--no-cache", "--",
                          "sh", "-c", script])
    child.expect_exact(PROMPT)
    child.sendline(awsenv.totp())
    child.expect(pexpect.EOF, timeout=60)
    child.close()
    out = child.before
    assert child.exitstatus == 0, out
    assert PROMPT not in out
    assert ops(sts, "GetSessionToken") == 1
    assert ops(sts, "AssumeRole") == 2
    roles = {c["principal"].split("/")[1]: c for c in sts.issued if c["kind"] == "role"}
    p = probe_output(out.replace("\r\n", "\n"))

    # The synthesized credentials file has both profiles.
    cf = p["credentials_file"]
    assert "[role-with-mfa]" in cf and "[second]" in cf
    assert roles["open-role"]["AccessKeyId"] in cf.split("[second]")[1]
    assert roles["cli-role"]["AccessKeyId"] in cf.split("[role-with-mfa]")[1].split("[")[0]
    # The endpoint serves both, with the token only.
    for path, role in (("/role/role-with-mfa", "cli-role"), ("/role/second", "open-role")):
        status, doc = p["endpoint"][path]["token"]
        assert status == 200 and doc["AccessKeyId"] == roles[role]["AccessKeyId"]
        assert p["endpoint"][path]["none"][0] == 401
        assert p["endpoint"][path]["wrong"][0] == 403
    # The config copy: every served profile runs awsrole-run, the rest is the user's.
    cfg = p["config"]
    assert p["env"]["AWS_CONFIG_FILE"] != awsenv.config_path
    for name in ("role-with-mfa", "second"):
        assert ("credential_process = %s --export --format process --profile %s" % (awsenv.bin, name)) in cfg
    assert "[profile role-without-mfa]" in cfg and "role_arn= arn:aws:iam::128716708097:role/cli-role" in cfg
    # The nested credential_process was answered from the tree: no STS call, no prompt.
    doc = json.loads(out.split("NESTED ", 1)[1].strip().splitlines()[0])
    assert doc["Version"] == 1
    assert doc["AccessKeyId"] == roles["open-role"]["AccessKeyId"]
    assert doc["SessionToken"] == roles["open-role"]["SessionToken"]
    assert doc["Expiration"] == roles["open-role"]["Expiration"]
    # The config copy is gone with the run.
    assert not os.path.exists(p["env"]["AWS_CONFIG_FILE"])


@pytest.mark.valgrind
def test_also_config_copy_serves_a_real_sdk_through_credential_process(awsenv, sts):
    """Without the preload library the AWS CLI reads the real credentials file (no [second]
    in it): only the config copy's credential_process can give it the role."""
    setup_profiles(awsenv)
    cmd = [AWS_CLI, "sts", "get-caller-identity", "--profile", "second", "--endpoint-url",
           sts.url, "--output", "json"]
    r = awsenv.run(["-p", "role-with-mfa", "--also", "second", "--no-shim", "-t", awsenv.totp(),
                    "--"] + cmd, timeout=90)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Arn"].startswith("arn:aws:sts::128716708097:assumed-role/open-role/")
    assert ops(sts, "GetSessionToken") == 1
    assert ops(sts, "AssumeRole") == 2
    open_role = [c for c in sts.issued if c["kind"] == "role" and "open-role" in c["principal"]][0]
    assert sts.calls_for("GetCallerIdentity")[-1]["access_key_id"] == open_role["AccessKeyId"]


SELF_REFERENCE_CONFIG = """[default]
region = us-west-2
role_arn = %s
source_profile = default
request_checksum_calculation = when_required

[profile open]
role_arn = %s
source_profile = default
""" % (mock_sts.SEED_OPEN_ROLE_ARN, mock_sts.SEED_OPEN_ROLE_ARN)

SELF_REFERENCE_CREDENTIALS = """[default]
aws_access_key_id = %s
aws_secret_access_key = %s
""" % (mock_sts.SEED_USER_KEY, mock_sts.SEED_USER_SECRET)

NO_KEYS_IN_ENV = ["env", "-u", "LD_PRELOAD", "-u", "AWS_ACCESS_KEY_ID", "-u",
                  "AWS_SECRET_ACCESS_KEY", "-u", "AWS_SESSION_TOKEN", "-u", "AWS_SECURITY_TOKEN"]


def test_programs_without_the_preload_never_get_the_long_term_keys_of_a_served_profile(
        awsenv, sts):
    """The common layout: [default] assumes a role with the keys of [default] in the
    credentials file. SDKs rank a profile's keys in the credentials file above the config
    copy's credential_process, so a static program (a terraform provider with profile =
    "default") must see no credentials file at all: then credential_process answers, with
    the role, and renews. Programs under the preload library that read the file themselves
    get the synthesized one."""
    awsenv.write_config(SELF_REFERENCE_CONFIG)
    awsenv.write_credentials(SELF_REFERENCE_CREDENTIALS)
    query = ["--endpoint-url", sts.url, "--output", "text"]
    cli = [AWS_CLI, "sts", "get-caller-identity", "--profile", "default", "--query", "Arn"]
    listing = [AWS_CLI, "configure", "list", "--profile", "default"]
    script = ('env -u LD_PRELOAD sh -c \'test -e "$AWS_SHARED_CREDENTIALS_FILE" || echo none\'; '
              'cat "$AWS_SHARED_CREDENTIALS_FILE"; echo ====; '
              'env -u LD_PRELOAD grep -h request_checksum "$AWS_CONFIG_FILE"; echo ====; '
              + " ".join(NO_KEYS_IN_ENV + cli + query) + "; echo ====; "
              + " ".join(NO_KEYS_IN_ENV + listing))
    r = awsenv.run(["-p", "default", "--", "sh", "-c", script], timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr
    creds, config, arn, listed = r.stdout.split("====\n")
    role = [c for c in sts.issued if c["kind"] == "role"][0]
    assert creds.startswith("none\n")  # no file for programs without the preload
    assert role["AccessKeyId"] in creds and role["SecretAccessKey"] in creds  # with it
    assert mock_sts.SEED_USER_KEY not in creds and mock_sts.SEED_USER_SECRET not in creds
    # The served section keeps the settings that are not credential sources.
    assert "request_checksum_calculation = when_required" in config
    assert arn.strip().startswith("arn:aws:sts::128716708097:assumed-role/open-role/"), arn
    # The credential_process (which renews), not keys from a file (which never do).
    access = [l for l in listed.splitlines() if l.strip().startswith("access_key")][0]
    assert "custom-process" in access, listed
    assert ops(sts, "AssumeRole") == 1  # the tree's one: the CLI was answered from the tree


def test_nested_run_of_another_profile_reads_the_users_credentials_file(awsenv, sts):
    """A nested awsrole-run resolves from the user's own files, not the tree's."""
    awsenv.write_config(SELF_REFERENCE_CONFIG)
    awsenv.write_credentials(SELF_REFERENCE_CREDENTIALS)
    r = awsenv.run(["-p", "default", "--", "sh", "-c",
                    'echo "$AWS_SHARED_CREDENTIALS_FILE"; '
                    '"$0" --no-cache -p open --export --format json', awsenv.bin])
    assert r.returncode == 0, r.stderr
    tree_file, out = r.stdout.split("\n", 1)
    assert tree_file.endswith("/no-credentials")
    assert json.loads(out)["AccessKeyId"].startswith("ASIA")
    assert ops(sts, "AssumeRole") == 2  # the nested run used the user's keys of [default]


def test_without_the_preload_the_served_profiles_come_from_the_config_copy_only(awsenv, sts):
    """--no-shim with --also: no synthesized file, so the tree gets none (as with --server)
    and nothing beats the copy's credential_process."""
    awsenv.write_config(SELF_REFERENCE_CONFIG)
    awsenv.write_credentials(SELF_REFERENCE_CREDENTIALS)
    cli = [AWS_CLI, "sts", "get-caller-identity", "--profile", "default", "--endpoint-url",
           sts.url, "--output", "text", "--query", "Arn"]
    r = awsenv.run(["-p", "default", "--also", "open", "--no-shim", "--", "sh", "-c",
                    'echo "$AWS_SHARED_CREDENTIALS_FILE"; ' + " ".join(NO_KEYS_IN_ENV + cli)],
                   timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr
    path, arn = r.stdout.splitlines()
    assert path == "/dev/null"
    assert arn.startswith("arn:aws:sts::128716708097:assumed-role/open-role/"), arn


def test_nested_process_after_the_tree_is_gone_resolves_from_the_users_config(awsenv, sts, tmp_path):
    """A process that outlives the tree (or a profile the tree does not serve) falls back to
    the user's own config: the copy's credential_process never calls itself."""
    setup_profiles(awsenv)
    saved = tmp_path / "env.json"
    r = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--", PY, "-c",
                    "import json, os; json.dump(dict(os.environ), open(%r, 'w'))" % str(saved)])
    assert r.returncode == 0, r.stderr
    env = json.loads(saved.read_text())
    # Replay the tree's environment after the run (endpoint gone, copy removed), without
    # the preload library.
    env.pop("LD_PRELOAD", None)
    env.pop("AWSROLE_SEGMENT", None)
    before = ops(sts, "AssumeRole")
    r2 = subprocess.run([awsenv.bin, "--export", "--format", "process", "--profile", "second"],
                        env=env, capture_output=True, text=True, timeout=30,
                        stdin=subprocess.DEVNULL)
    assert r2.returncode == 0, r2.stderr
    assert json.loads(r2.stdout)["Version"] == 1
    # It resolved second itself from the cached MFA session: one AssumeRole, no prompt.
    assert ops(sts, "AssumeRole") == before + 1
    assert ops(sts, "GetSessionToken") == 1
