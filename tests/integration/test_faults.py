"""Faults through the real binary: 5xx and throttling (retried, then success), a silent
endpoint, bad bodies, clock skew, an expired cached MFA session, and a cache directory that
cannot be written."""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "mock_sts"))
from mock_sts import (  # noqa: E402
    SEED_CONTAINER_PATH, SEED_CONTAINER_ROLE_ARN, SEED_CONTAINER_TOKEN,
    SEED_OPEN_ROLE_ARN, SEED_USER_KEY, SEED_USER_SECRET)

USER_CREDS = "[cli-user]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (
    SEED_USER_KEY, SEED_USER_SECRET)


def open_role(awsenv):
    awsenv.write_credentials(USER_CREDS)
    awsenv.write_config("[profile r]\nrole_arn = %s\nsource_profile = cli-user\n"
                        "region = us-west-2\n" % SEED_OPEN_ROLE_ARN)


def export(awsenv, args, env_extra=None, **kw):
    r = awsenv.run(list(args) + ["--export", "--format", "json"], env_extra=env_extra, **kw)
    return r, (json.loads(r.stdout) if r.returncode == 0 else None)


def assume_calls(sts):
    return [c for c in sts.calls if c["op"] == "AssumeRole"]


def failed_cleanly(r, status=255):
    """Exit status as the contract says, one message line, no crash, nothing on stdout."""
    assert r.returncode == status, (r.returncode, r.stderr)
    assert r.stdout == ""
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("awsrole-run: "), r.stderr
    for bad in ("Segmentation", "Aborted", "AddressSanitizer", "core dumped"):
        assert bad not in r.stderr


# ---- retried, then success ----

@pytest.mark.parametrize("status,body", [(500, "html"), (502, "empty"), (503, "xml"),
                                         (504, "html")])
def test_5xx_is_retried_then_succeeds(awsenv, sts, status, body):
    open_role(awsenv)
    sts.add_fault("AssumeRole", "status", count=2, status=status, body=body)
    r, j = export(awsenv, ["--profile", "r"])
    assert r.returncode == 0, r.stderr
    calls = assume_calls(sts)
    assert [c["status"] for c in calls] == [status, status, 200]
    assert j["AccessKeyId"] == calls[-1]["issued"]


def test_throttling_is_retried_then_succeeds(awsenv, sts):
    open_role(awsenv)
    sts.add_fault("AssumeRole", "throttling", count=2)
    r, j = export(awsenv, ["--profile", "r"])
    assert r.returncode == 0, r.stderr
    calls = assume_calls(sts)
    assert [c["fault"] for c in calls] == ["throttling", "throttling", None]
    assert j["AccessKeyId"] == calls[-1]["issued"]


def test_dropped_connection_is_retried_then_succeeds(awsenv, sts):
    open_role(awsenv)
    sts.add_fault("AssumeRole", "close", count=1)
    r, j = export(awsenv, ["--profile", "r"])
    assert r.returncode == 0, r.stderr
    assert len(assume_calls(sts)) == 2
    assert j["AccessKeyId"] == assume_calls(sts)[-1]["issued"]


def test_getsessiontoken_5xx_is_retried_then_succeeds(awsenv, sts):
    awsenv.seed()
    sts.add_fault("GetSessionToken", "status", count=1, status=503)
    r, _ = export(awsenv, ["--profile", "role-with-mfa", "--mfa-code", awsenv.totp()])
    assert r.returncode == 0, r.stderr
    assert sts.count("GetSessionToken") == 2 and sts.count("AssumeRole") == 1


def test_throttling_that_never_ends_gives_the_cli_line(awsenv, sts):
    open_role(awsenv)
    sts.add_fault("AssumeRole", "throttling", count=-1)
    r, _ = export(awsenv, ["--profile", "r"])
    failed_cleanly(r, 254)
    assert "An error occurred (Throttling) when calling the AssumeRole operation " \
           "(reached max retries: " in r.stderr
    assert r.stderr.rstrip().endswith("Rate exceeded")
    assert len(assume_calls(sts)) > 1


def test_5xx_that_never_ends_fails(awsenv, sts):
    open_role(awsenv)
    sts.add_fault("AssumeRole", "status", count=-1, status=503)
    r, _ = export(awsenv, ["--profile", "r"])
    assert r.returncode in (254, 255)
    failed_cleanly(r, r.returncode)
    assert "503" in r.stderr
    assert len(assume_calls(sts)) > 1


def test_client_errors_are_not_retried(awsenv, sts):
    open_role(awsenv)
    sts.add_fault("AssumeRole", "expired_token", count=-1)
    r, _ = export(awsenv, ["--profile", "r"])
    failed_cleanly(r, 254)
    assert ("An error occurred (ExpiredToken) when calling the AssumeRole operation: "
            "The security token included in the request is expired") in r.stderr
    assert len(assume_calls(sts)) == 1


def test_container_endpoint_errors_are_retried(awsenv, sts):
    sts.configure(container=True)
    target = "arn:aws:iam::123456789012:role/from-container"
    sts.add_role(target, trusted=[SEED_CONTAINER_ROLE_ARN])
    sts.add_fault("Container", "status", count=2, status=500)
    awsenv.write_config("[profile c]\nrole_arn = %s\ncredential_source = EcsContainer\n" % target)
    r, _ = export(awsenv, ["--profile", "c"],
                  env_extra={"AWS_CONTAINER_CREDENTIALS_FULL_URI": sts.url + SEED_CONTAINER_PATH,
                             "AWS_CONTAINER_AUTHORIZATION_TOKEN": SEED_CONTAINER_TOKEN})
    assert r.returncode == 0, r.stderr
    assert [c.get("fault") for c in sts.calls if c["op"] == "Container"] == \
        ["status", "status", None]


# ---- endpoints that never answer, and bodies that are not STS answers ----

@pytest.mark.slow
def test_silent_endpoint_gives_up(awsenv, sts):
    open_role(awsenv)
    sts.add_fault("AssumeRole", "silent", count=-1)
    start = time.monotonic()
    r, _ = export(awsenv, ["--profile", "r"], timeout=120)
    elapsed = time.monotonic() - start
    failed_cleanly(r, 255)
    assert elapsed < 40  # does not hang
    assert sts.url.split("//")[1] in r.stderr
    assert "timeout" in r.stderr.lower() or "did not answer" in r.stderr


@pytest.mark.valgrind
@pytest.mark.parametrize("kind", ["malformed", "truncated", "empty", "huge"])
def test_bad_bodies_fail_cleanly(awsenv, sts, kind):
    open_role(awsenv)
    sts.add_fault("AssumeRole", kind, count=-1)
    r, _ = export(awsenv, ["--profile", "r"])
    failed_cleanly(r, 255)
    if kind == "huge":
        assert "larger than" in r.stderr
    # Nothing of a half-read answer was cached: the next run, with STS healthy, succeeds.
    sts.clear_faults()
    r, j = export(awsenv, ["--profile", "r"])
    assert r.returncode == 0, r.stderr
    assert j["AccessKeyId"] == assume_calls(sts)[-1]["issued"]


def test_bad_body_never_runs_the_command(awsenv, sts, tmp_path):
    open_role(awsenv)
    sts.add_fault("AssumeRole", "malformed", count=-1)
    marker = tmp_path / "ran"
    r = awsenv.run(["--profile", "r", "--", "touch", str(marker)])
    assert r.returncode == 255
    assert not marker.exists()


def test_huge_body_just_over_one_mebibyte(awsenv, sts):
    open_role(awsenv)
    sts.add_fault("AssumeRole", "huge", count=-1, size=1024 * 1024 + 1)
    r, _ = export(awsenv, ["--profile", "r"])
    failed_cleanly(r, 255)


# ---- clock skew ----

def test_clock_skew_is_named(awsenv, sts):
    open_role(awsenv)
    sts.add_fault("AssumeRole", "clock_skew", count=-1, seconds=900)
    r, _ = export(awsenv, ["--profile", "r"])
    failed_cleanly(r, 254)
    assert "An error occurred (SignatureDoesNotMatch) when calling the AssumeRole operation: " \
           "Signature expired" in r.stderr
    assert "clock" in r.stderr
    # The server's Date header was 900 s ahead.
    assert any(str(n) in r.stderr for n in range(895, 906)), r.stderr


# ---- an expired cached MFA session ----

def _warm_then_expire(awsenv, sts):
    awsenv.seed()
    r = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--", "true"])
    assert r.returncode == 0, r.stderr
    cache = os.path.join(awsenv.env["XDG_CACHE_HOME"], "awsrole")
    roles = [f for f in os.listdir(cache) if f.startswith("role-") and f.endswith(".json")]
    sessions = [f for f in os.listdir(cache) if f.startswith("session-") and f.endswith(".json")]
    assert len(roles) == 1 and len(sessions) == 1
    os.unlink(os.path.join(cache, roles[0]))  # so the cached MFA session gets used
    assert sts.expire_issued() >= 2
    sts.reset()
    return cache, sessions[0]


def test_expired_mfa_session_without_terminal_exits_253_with_guidance(awsenv, sts):
    cache, session = _warm_then_expire(awsenv, sts)
    r = awsenv.run(["-p", "role-with-mfa", "--", "sh", "-c", "echo RAN"], timeout=20)
    assert r.returncode == 253, r.stderr
    assert "RAN" not in r.stdout
    for name in ("--mfa-code", "AWSROLE_MFA_CODE", "mfa_process"):
        assert name in r.stderr
    # The dead session was tried once, then dropped; no code was sent anywhere.
    assert [c["op"] for c in sts.calls] == ["AssumeRole"]
    assert sts.calls[0]["error"] == "ExpiredToken"
    assert not os.path.exists(os.path.join(cache, session))


def test_expired_mfa_session_prompts_again_on_a_terminal(awsenv, sts):
    _warm_then_expire(awsenv, sts)
    key, status = awsenv.run_prompted(["-p", "role-with-mfa"])
    assert status == 0
    assert [c["op"] for c in sts.calls] == ["AssumeRole", "GetSessionToken", "AssumeRole"]
    assert sts.calls[0]["error"] == "ExpiredToken"
    assert sts.calls[2]["access_key_id"] == sts.calls[1]["issued"]
    assert key == sts.calls[2]["issued"]


def test_expired_mfa_session_with_a_code_source(awsenv, sts):
    _warm_then_expire(awsenv, sts)
    r = awsenv.run(["-p", "role-with-mfa", "--", "true"],
                   env_extra={"AWSROLE_MFA_CODE": awsenv.totp()})
    assert r.returncode == 0, r.stderr
    assert [c["op"] for c in sts.calls] == ["AssumeRole", "GetSessionToken", "AssumeRole"]


# ---- the disk cache cannot be written ----

def warnings_in(stderr):
    return [ln for ln in stderr.splitlines() if "warning" in ln.lower()]


@pytest.mark.valgrind
def test_cache_directory_cannot_be_created(awsenv, sts):
    awsenv.seed()
    r = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--", "sh", "-c", "echo RAN"],
                   env_extra={"XDG_CACHE_HOME": "/dev/null/x"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "RAN"
    assert len(warnings_in(r.stderr)) == 1, r.stderr
    assert "cache" in warnings_in(r.stderr)[0]


def _in_private_mount(awsenv, setup, args, env_extra=None):
    """Runs awsrole-run in a private mount namespace after `setup` (shell, may use $C for
    the cache home); skips when mounts are not allowed here."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare for a private mount")
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs none /mnt"],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip("mount namespaces are not available")
    cache = awsenv.tmp / "private-cache"
    cache.mkdir(exist_ok=True)
    env = awsenv._env(dict(env_extra or {}, XDG_CACHE_HOME=str(cache), C=str(cache)))
    script = setup + '\nexec "$@"'
    return subprocess.run(["unshare", "-m", "sh", "-c", script, "sh"] + awsenv._argv(args),
                          env=env, cwd=awsenv.tmp, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60, start_new_session=True)


def test_cache_on_a_full_disk_runs_anyway_and_warns_once(awsenv, sts):
    awsenv.seed()
    setup = ('set -e; mount -t tmpfs -o size=8k,mode=700 none "$C"; mkdir -m 700 "$C/awsrole"; '
             'dd if=/dev/zero of="$C/fill" bs=1k count=64 2>/dev/null || true; '
             'if echo x > "$C/awsrole/probe" 2>/dev/null && [ -s "$C/awsrole/probe" ]; then '
             'echo "not full" >&2; exit 99; fi; rm -f "$C/awsrole/probe"')
    r = _in_private_mount(awsenv, setup, ["-p", "role-with-mfa", "-t", awsenv.totp(), "--",
                                          "sh", "-c", "echo RAN"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "RAN"
    # Two entries (the MFA session, the role) could not be written: one warning.
    w = warnings_in(r.stderr)
    assert len(w) == 1, r.stderr
    assert "cache" in w[0]
    assert "No space left on device" in w[0]
    assert sts.count("GetSessionToken") == 1 and sts.count("AssumeRole") == 1


def test_cache_on_a_read_only_mount_runs_anyway_and_warns_once(awsenv, sts):
    awsenv.seed()
    setup = ('set -e; mkdir -p -m 700 "$C/awsrole"; mount --bind "$C" "$C"; '
             'mount -o remount,ro,bind "$C"')
    r = _in_private_mount(awsenv, setup, ["-p", "role-with-mfa", "-t", awsenv.totp(), "--",
                                          "sh", "-c", "echo RAN"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "RAN"
    w = warnings_in(r.stderr)
    assert len(w) == 1, r.stderr
    assert "Read-only file system" in w[0]


def test_corrupt_cache_entry_is_a_miss(awsenv, sts):
    open_role(awsenv)
    r, first = export(awsenv, ["--profile", "r"])
    assert r.returncode == 0, r.stderr
    cache = os.path.join(awsenv.env["XDG_CACHE_HOME"], "awsrole")
    (entry,) = [f for f in os.listdir(cache) if f.startswith("role-") and f.endswith(".json")]
    with open(os.path.join(cache, entry), "w") as f:
        f.write('{"Version": 1, "AccessKeyId": ')
    r, second = export(awsenv, ["--profile", "r"])
    assert r.returncode == 0, r.stderr
    assert len(assume_calls(sts)) == 2
    assert second["AccessKeyId"] == assume_calls(sts)[-1]["issued"] != first["AccessKeyId"]
