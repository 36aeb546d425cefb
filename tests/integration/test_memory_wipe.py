"""Secrets are wiped from the launcher's memory when it is done: a core of the launcher
taken at exit() (gdb, as root) holds no secret key, session token or MFA code, whatever
jansson, expat, libcurl or OpenSSL did with them on the way."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import SANITIZED, VALGRIND

pytestmark = [
    pytest.mark.skipif(not shutil.which("gdb"), reason="needs gdb"),
    pytest.mark.skipif(VALGRIND, reason="gdb drives the launcher itself"),
    # ASan's shadow memory would make each core terabytes long, and its quarantine keeps
    # freed blocks out of reach of the wiping allocator's reuse: the plain build is checked.
    pytest.mark.skipif(SANITIZED, reason="sanitizer runtimes own the heap and shadow memory"),
]


def core_at_exit(awsenv, args, tmp_path, env_extra=None):
    core = tmp_path / "core"
    cmd = ["gdb", "-nx", "-batch", "-ex", "set breakpoint pending on", "-ex", "break exit",
           "-ex", "run", "-ex", "gcore %s" % core, "-ex", "kill", "--args", awsenv.bin] + args
    env = dict(awsenv.env, **(env_extra or {}))
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180,
                       stdin=subprocess.DEVNULL)
    assert core.exists(), r.stdout + r.stderr
    data = core.read_bytes()
    core.unlink()  # cores hold test secrets and take space: do not keep them
    # The core's process-info note records the command line as gdb knew it at start;
    # only the memory matters here.
    return data.replace(" ".join([awsenv.bin] + args).encode()[:80], b"")


def issued_secrets(sts):
    out = []
    for c in sts.issued if isinstance(sts.issued, list) else list(sts.issued.values()):
        out += [c["SecretAccessKey"], c["SessionToken"][:64]]
    return out


@pytest.mark.parametrize("mode", ["run", "export"])
def test_cache_hit_leaves_no_secret_in_memory(awsenv, sts, tmp_path, mode):
    awsenv.seed()
    r = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--export", "--format", "json"])
    assert r.returncode == 0, r.stderr
    creds = json.loads(r.stdout)
    args = ["-p", "role-with-mfa"] + (["--", "true"] if mode == "run" else ["--export"])
    data = core_at_exit(awsenv, args, tmp_path)
    assert creds["SecretAccessKey"].encode() not in data
    assert creds["SessionToken"][:64].encode() not in data
    assert creds["AccessKeyId"].encode() not in data


@pytest.mark.parametrize("via", ["option", "variable"])
def test_sts_round_trip_leaves_no_secret_or_code_in_memory(awsenv, sts, tmp_path, via):
    import mock_sts
    awsenv.seed()
    code = awsenv.totp()
    args = ["--no-cache", "-p", "role-with-mfa"]
    extra = {}
    if via == "option":
        args += ["-t", code]
    else:
        extra["AWSROLE_MFA_CODE"] = code
    data = core_at_exit(awsenv, args + ["--", "true"], tmp_path, extra)
    ops = [c["op"] for c in sts.calls]
    assert ops == ["GetSessionToken", "AssumeRole"]  # the STS path really ran
    secrets = issued_secrets(sts) + [mock_sts.SEED_USER_SECRET]
    assert len(secrets) == 5
    for s in secrets:
        assert s.encode() not in data
    assert code.encode() not in data
