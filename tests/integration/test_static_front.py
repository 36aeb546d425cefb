"""The statically linked launcher and its companion (shim/front.h): build/awsrole-run has no
dynamic loader and serves cache hits alone; whatever needs libcurl, libcrypto, expat or
NSS, a prompt, a process or a cache lock is done by build/awsrole-run-full, which it execs
with the same arguments (the MFA code through a pipe), before anything that could not
happen twice. Skipped for STATIC=0 builds (the sanitizer builds), which have one launcher."""
import os
import shutil
import subprocess

import pytest

from conftest import BUILD

LAUNCHER = os.path.join(BUILD, "awsrole-run")
FULL = os.path.join(BUILD, "awsrole-run-full")

pytestmark = pytest.mark.skipif(not os.path.exists(FULL),
                                reason="built with STATIC=0: a single dynamic launcher")


def program_headers(path):
    return subprocess.run(["readelf", "-lW", path], stdout=subprocess.PIPE, text=True,
                          check=True).stdout


def ops(sts, op):
    return [c["op"] for c in sts.calls].count(op)


def test_launcher_is_static_pie_and_its_companion_dynamic():
    front = program_headers(LAUNCHER)
    assert "DYN (Position-Independent Executable" in front or "DYN (Shared object" in front, front
    assert "INTERP" not in front  # no dynamic loader at all, and still ASLR
    full = program_headers(FULL)
    assert "INTERP" in full


def test_cache_hit_runs_in_the_static_launcher_alone(awsenv):
    awsenv.seed()
    cold = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--export"])
    assert cold.returncode == 0, cold.stderr
    # ld.so would report every library it opens: a process without ld.so reports nothing,
    # and one without any exec of awsrole-run-full never loads libcurl.
    hit = awsenv.run(["-v", "-p", "role-with-mfa", "--", "/bin/sh", "-c",
                      "cat /proc/$PPID/cmdline | tr '\\0' ' '; echo; readlink /proc/$PPID/exe"],
                     env_extra={"LD_DEBUG": "files"})
    assert hit.returncode == 0, hit.stderr
    assert "using cached role credentials" in hit.stderr
    assert "libcurl" not in hit.stderr
    assert "awsrole-run-full" not in hit.stderr  # its ld.so would have reported under LD_DEBUG
    # the supervisor of the tree is the static launcher itself
    assert hit.stdout.splitlines()[-1] == os.path.realpath(LAUNCHER), hit.stdout


def test_cache_miss_hands_over_once_and_says_each_step_once(awsenv, sts):
    awsenv.seed()
    code = awsenv.totp()
    r = awsenv.run(["-v", "--no-cache", "-p", "role-with-mfa", "-t", code, "--",
                    "/bin/sh", "-c", "readlink /proc/$PPID/exe; cat /proc/$PPID/cmdline | "
                    "tr '\\0' ' '; echo; ls /proc/$$/fd; env"])
    assert r.returncode == 0, r.stderr
    # the lines the static launcher held before handing over are said once, by the companion
    assert r.stderr.count("source credentials: static from profile cli-user") == 1, r.stderr
    assert r.stderr.count("getting an MFA session") == 1, r.stderr
    # the code crossed over: STS got it, and neither argv nor the environment nor an open
    # descriptor of the command shows it
    assert [c["params"].get("TokenCode") for c in sts.calls_for("GetSessionToken")] == [code]
    assert ops(sts, "AssumeRole") == 1
    out = r.stdout.splitlines()
    assert out[0] == os.path.realpath(FULL)
    assert code not in r.stdout
    assert "-t xxxxxx" in out[1]
    fds = out[2:out.index(next(l for l in out[2:] if "=" in l))]
    assert sorted(fds) == ["0", "1", "2", "255"] or sorted(fds) == ["0", "1", "2"], fds
    assert "AWSROLE_INTERNAL" not in r.stdout


def test_prompt_happens_once_after_the_hand_over(awsenv, sts):
    awsenv.seed()
    child = awsenv.spawn(["-p", "role-with-mfa", "--export"])
    child.expect_exact("Enter MFA code for arn:aws:iam::128716708097:mfa/cli-user: ")
    child.sendline(awsenv.totp())
    child.expect("AWS_SESSION_TOKEN")
    child.expect(__import__("pexpect").EOF)
    child.close()
    assert child.exitstatus == 0
    assert ops(sts, "GetSessionToken") == 1


def test_without_its_companion_a_hit_works_and_a_miss_says_what_to_do(awsenv, sts, tmp_path):
    awsenv.seed()
    good = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--export"])
    assert good.returncode == 0, good.stderr
    alone = tmp_path / "bin"
    alone.mkdir()
    shutil.copy(LAUNCHER, alone / "awsrole-run")
    shutil.copy(os.path.join(BUILD, "libawsrole-shim.so"), alone / "libawsrole-shim.so")
    awsenv.bin = str(alone / "awsrole-run")
    hit = awsenv.run(["-p", "role-with-mfa", "--export"])
    assert hit.returncode == 0 and hit.stdout == good.stdout, hit.stderr
    before = len(sts.calls)
    miss = awsenv.run(["--no-cache", "-p", "role-with-mfa", "-t", awsenv.totp(), "--export"])
    assert miss.returncode == 255, miss.stderr
    assert "awsrole-run-full" in miss.stderr and "reinstall awsrole-run" in miss.stderr, miss.stderr
    assert miss.stderr.count("awsrole-run-full") == 1, miss.stderr  # said once
    assert miss.stdout == ""
    assert len(sts.calls) == before
    lazy = awsenv.run(["--lazy", "-p", "role-with-mfa", "--", "true"])
    assert lazy.returncode == 255, lazy.stderr
    assert "awsrole-run-full" in lazy.stderr and "--lazy" in lazy.stderr, lazy.stderr
    # never a prompt the run could not use, never a process it would run twice
    child = awsenv.spawn(["--no-cache", "-p", "role-with-mfa", "--export"])
    child.expect(__import__("pexpect").EOF)
    child.close()
    assert child.exitstatus == 255
    assert "Enter MFA code" not in child.before and "awsrole-run-full" in child.before
    marker = tmp_path / "mfa-process-ran"
    with open(awsenv.config_path, "a") as f:
        f.write("\n[profile via-process]\nrole_arn = arn:aws:iam::128716708097:role/cli-role\n"
                "source_profile = cli-user\nmfa_serial = arn:aws:iam::128716708097:mfa/cli-user\n"
                "mfa_process = sh -c 'touch %s; echo 123456'\n" % marker)
    r = awsenv.run(["--no-cache", "-p", "via-process", "--export"])
    assert r.returncode == 255, r.stderr
    assert not marker.exists()
    assert len(sts.calls) == before


INTERNAL = {"AWSROLE_INTERNAL_RESOLVE": "0", "AWSROLE_INTERNAL_MFA_FD": "1",
            "AWSROLE_INTERNAL_FRONT": "/tmp/not-the-launcher"}


def test_internal_variables_from_outside_change_nothing(awsenv, sts):
    """A user's environment holding the companion's internal variables neither makes the
    launcher print JSON, read a descriptor it did not open, nor name another program in the
    config copy; they do not reach the command either. On a hit (the static launcher) and a
    miss (the companion it hands over to)."""
    awsenv.seed()
    r = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--", "/bin/sh", "-c",
                    "env; grep credential_process \"$AWS_CONFIG_FILE\""], env_extra=INTERNAL)
    assert r.returncode == 0, r.stderr
    assert "AWSROLE_INTERNAL" not in r.stdout and "not-the-launcher" not in r.stdout
    assert '"Credentials"' not in r.stdout
    assert "credential_process = " + os.path.realpath(LAUNCHER) in r.stdout
    hit = awsenv.run(["-p", "role-with-mfa", "--export"], env_extra=INTERNAL)
    assert hit.returncode == 0 and hit.stdout.startswith("export AWS_ACCESS_KEY_ID="), hit.stderr


def test_installed_layout_finds_the_companion_and_names_the_launcher(awsenv, sts, tmp_path):
    """make install's layout: bin/awsrole-run, lib/awsrole/{awsrole-run-full,
    libawsrole-shim.so}. A cache miss runs the companion from lib/awsrole/, and the tree's
    config copy names the launcher users run, not the companion."""
    awsenv.seed()
    prefix = tmp_path / "prefix"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "lib" / "awsrole").mkdir(parents=True)
    shutil.copy(LAUNCHER, prefix / "bin" / "awsrole-run")
    shutil.copy(FULL, prefix / "lib" / "awsrole" / "awsrole-run-full")
    shutil.copy(os.path.join(BUILD, "libawsrole-shim.so"), prefix / "lib" / "awsrole")
    awsenv.bin = str(prefix / "bin" / "awsrole-run")
    r = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--", "/bin/sh", "-c",
                    "readlink /proc/$PPID/exe; grep credential_process \"$AWS_CONFIG_FILE\""])
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0] == str(prefix / "lib" / "awsrole" / "awsrole-run-full")
    assert out[1:] and all(l.split(" = ")[1].startswith(str(prefix / "bin" / "awsrole-run") + " ")
                           for l in out[1:]), r.stdout
    assert ops(sts, "GetSessionToken") == 1 and ops(sts, "AssumeRole") == 1
