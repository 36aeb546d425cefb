"""The process tree through the real launcher: racing starts, lazy mode, nested runs of
another profile, and an installed copy finding its preload library."""
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pexpect
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "mock_sts"))
import mock_sts  # noqa: E402

PROMPT = "Enter MFA code for %s: " % mock_sts.SEED_MFA_SERIAL
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def probe(awsenv, name="getenv_probe"):
    return os.path.join(os.path.dirname(awsenv.bin), "probes", name)


def ops(sts):
    return [c["op"] for c in sts.calls]


def parse(out):
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def test_64_launchers_racing_at_start_make_one_assume_role(awsenv, sts):
    awsenv.seed()
    code = awsenv.totp()

    def one(_):
        return awsenv.run(["-p", "role-with-mfa", "--", probe(awsenv), "AWS_ACCESS_KEY_ID"],
                          env_extra={"AWSROLE_MFA_CODE": code}, timeout=120)

    with ThreadPoolExecutor(64) as pool:
        results = list(pool.map(one, range(64)))
    keys = set()
    for r in results:
        assert r.returncode == 0, r.stderr
        keys.add(parse(r.stdout)["AWS_ACCESS_KEY_ID"])
    assert len(keys) == 1
    assert ops(sts).count("GetSessionToken") == 1
    assert ops(sts).count("AssumeRole") == 1


def test_64_children_of_one_tree_share_one_assume_role(awsenv, sts):
    awsenv.seed()
    script = ('for i in $(seq 64); do (%s AWS_ACCESS_KEY_ID; cat "$HOME/.aws/credentials") & done; wait'
              % probe(awsenv))
    r = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--", "sh", "-c", script])
    assert r.returncode == 0, r.stderr
    getenv_keys = {l.split("=", 1)[1] for l in r.stdout.splitlines() if l.startswith("AWS_ACCESS_KEY_ID=")}
    file_keys = {l.split("=", 1)[1].strip() for l in r.stdout.splitlines()
                 if l.startswith("aws_access_key_id")}
    assert len(getenv_keys) == 1 and getenv_keys == file_keys
    assert ops(sts).count("AssumeRole") == 1
    # The long-term keys of [cli-user] never reach the tree.
    assert mock_sts.SEED_USER_KEY not in r.stdout


def test_lazy_32_racing_askers_give_one_prompt_and_one_assume_role(awsenv, sts):
    awsenv.seed()
    script = "for i in $(seq 32); do %s AWS_ACCESS_KEY_ID & done; wait; echo ALLDONE" % probe(awsenv)
    child = awsenv.spawn(["--lazy", "-p", "role-with-mfa", "--", "sh", "-c", script])
    child.expect_exact(PROMPT)
    child.sendline(awsenv.totp())
    child.expect("ALLDONE", timeout=60)
    out = child.before
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    keys = {l.split("=", 1)[1].strip() for l in out.splitlines() if l.startswith("AWS_ACCESS_KEY_ID=")}
    assert len(keys) == 1 and next(iter(keys)).startswith("ASIA")
    assert out.count("AWS_ACCESS_KEY_ID=") == 32
    assert out.count("Enter MFA code") == 0  # the prompt came once, before
    assert ops(sts).count("GetSessionToken") == 1
    assert ops(sts).count("AssumeRole") == 1


def test_lazy_nothing_asks_means_no_prompt_and_no_sts_call(awsenv, sts):
    awsenv.seed()
    r = awsenv.run(["--lazy", "-p", "role-with-mfa", "--", "sh", "-c", "echo ran; echo $AWS_REGION"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["ran", "us-west-2"]
    assert sts.calls == []


def test_lazy_asker_without_terminal_gets_no_credentials_and_a_message(awsenv, sts):
    awsenv.seed()
    r = awsenv.run(["--lazy", "-p", "role-with-mfa", "--", probe(awsenv), "AWS_ACCESS_KEY_ID"])
    assert r.returncode == 0
    assert "AWS_ACCESS_KEY_ID unset" in r.stdout
    assert "AWSROLE_MFA_CODE" in r.stderr
    assert "GetSessionToken" not in ops(sts)


def test_nested_run_of_another_profile_reads_the_real_credentials_file(awsenv, sts):
    """Inside a tree the preload library shows the synthesized credentials file; a nested
    awsrole-run for another profile must still see the user's real source keys."""
    awsenv.seed()
    cfg = (awsenv.home / ".aws" / "config").read_text() + (
        "\n[profile open-role]\nrole_arn = %s\nsource_profile = cli-user\n" % mock_sts.SEED_OPEN_ROLE_ARN)
    awsenv.write_config(cfg)
    inner = "%s -p open-role -- %s AWS_ACCESS_KEY_ID" % (awsenv.bin, probe(awsenv))
    r = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--", "sh", "-c",
                    'echo "OUTER=$AWS_ACCESS_KEY_ID"; ' + inner])
    assert r.returncode == 0, r.stderr
    env = parse(r.stdout)
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA") and env["AWS_ACCESS_KEY_ID"] != env["OUTER"]
    arns = [c["params"]["RoleArn"] for c in sts.calls if c["op"] == "AssumeRole"]
    assert arns == [mock_sts.SEED_ROLE_ARN, mock_sts.SEED_OPEN_ROLE_ARN]


def test_installed_copy_finds_its_preload_library(awsenv, sts, tmp_path):
    dest = tmp_path / "dest"
    r = subprocess.run(["make", "-s", "-C", REPO, "install", "DESTDIR=%s" % dest, "PREFIX=/opt/ar",
                        "BUILD=%s" % os.path.dirname(awsenv.bin)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    binpath = dest / "opt/ar/bin/awsrole-run"
    assert (dest / "opt/ar/lib/awsrole/libawsrole-shim.so").exists()
    assert (dest / "opt/ar/share/man/man1/awsrole-run.1").exists()
    awsenv.seed()
    r = subprocess.run([str(binpath), "-p", "role-with-mfa", "-t", awsenv.totp(), "--",
                        "sh", "-c", "echo $LD_PRELOAD"], env=awsenv.env, capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().split(":")[0] == str(dest / "opt/ar/lib/awsrole/libawsrole-shim.so")
    assert "warning" not in r.stderr
