"""The terminal and the processes around the MFA prompt, as an audit of the command-line
contract found them: a credential_process that is awsrole-run itself prompts (its group gets
the terminal while it runs), --lazy takes the terminal from an interactive shell for the
prompt, Ctrl-C at the prompt ends the run by SIGINT, a run waiting on another one's prompt
says so and gives up, and a credential_process that calls itself stops at once."""
import os
import signal
import subprocess
import time

import pexpect

from conftest import SEED_MFA_SERIAL
from test_launcher import PROMPT, ops

PROBE = os.path.join(os.environ.get("AWSROLE_BUILD", "build"), "probes", "getenv_probe")


def via_process_config(awsenv, name="via-proc", target="role-with-mfa"):
    awsenv.seed()
    with open(awsenv.config_path, "a") as f:
        f.write("[profile %s]\ncredential_process = %s --profile %s --export --format process\n"
                % (name, awsenv.bin, target))


def test_credential_process_that_is_awsrole_run_can_prompt(awsenv, sts):
    via_process_config(awsenv)
    key, status = awsenv.run_prompted(["-p", "via-proc"])
    assert status == 0
    assert ops(sts) == ["GetSessionToken", "AssumeRole"]
    assert sts.calls[-1]["issued"] == key


def test_credential_process_that_is_awsrole_run_gets_the_code_without_a_terminal(awsenv, sts):
    # The outer chain needs no code itself: AWSROLE_MFA_CODE (wiped from the launcher's own
    # environment) reaches the inner awsrole-run, which uses it; nothing prompts.
    via_process_config(awsenv)
    code = awsenv.totp()
    r = awsenv.run(["-p", "via-proc", "--", os.path.abspath(PROBE), "AWS_ACCESS_KEY_ID",
                    "AWSROLE_MFA_CODE"],
                   env_extra={"AWSROLE_MFA_CODE": code})
    assert r.returncode == 0, r.stderr
    assert ops(sts) == ["GetSessionToken", "AssumeRole"]
    assert "AWS_ACCESS_KEY_ID=%s" % sts.calls[-1]["issued"] in r.stdout
    assert code not in r.stdout  # the tree never sees it


def test_code_stays_with_the_chain_that_needs_it(awsenv, sts):
    # The outer profile asks for a code itself (mfa_serial): one code works once, so the
    # credential_process does not get it and, with no terminal, says what it needs.
    via_process_config(awsenv)
    with open(awsenv.config_path, "a") as f:
        f.write("[profile outer]\nrole_arn = arn:aws:iam::128716708097:role/cli-role\n"
                "source_profile = via-proc\nmfa_serial = %s\n" % SEED_MFA_SERIAL)
    r = awsenv.run(["-p", "outer", "--", "true"], env_extra={"AWSROLE_MFA_CODE": awsenv.totp()})
    assert r.returncode == 253, r.stderr
    assert "Error when retrieving credentials from custom-process" in r.stderr
    assert "there is no terminal to ask on" in r.stderr
    assert ops(sts) == []


def test_code_stays_with_an_also_profile_that_needs_it(awsenv, sts):
    # --also role-with-mfa asks for the code itself: the credential_process of the first
    # profile does not get it either.
    via_process_config(awsenv)
    r = awsenv.run(["-p", "via-proc", "--also", "role-with-mfa", "--", "true"],
                   env_extra={"AWSROLE_MFA_CODE": awsenv.totp()})
    assert r.returncode == 253, r.stderr
    assert "there is no terminal to ask on" in r.stderr
    assert ops(sts) == []


def test_code_goes_to_one_credential_process_only(awsenv, sts):
    # Two --also profiles whose credential_process is awsrole-run for the same role: the
    # first gets the code, the second (without one, and without a terminal) finds what the
    # first cached.
    via_process_config(awsenv)
    with open(awsenv.config_path, "a") as f:
        f.write("[profile via-proc-2]\ncredential_process = %s --profile role-with-mfa "
                "--export --format process\n" % awsenv.bin)
    r = awsenv.run(["-p", "via-proc", "--also", "via-proc-2", "--", "true"],
                   env_extra={"AWSROLE_MFA_CODE": awsenv.totp()})
    assert r.returncode == 0, r.stderr
    assert ops(sts) == ["GetSessionToken", "AssumeRole"]


def test_ctrl_c_at_a_credential_process_prompt_ends_the_whole_run(awsenv, sts):
    via_process_config(awsenv)
    child = awsenv.spawn(["-p", "via-proc", "--", "true"])
    child.expect_exact(PROMPT)
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.signalstatus == signal.SIGINT, (child.exitstatus, child.before)
    assert "GetSessionToken" not in ops(sts)


def test_lazy_prompt_takes_the_terminal_from_an_interactive_shell(awsenv, sts):
    awsenv.seed()
    child = awsenv.spawn(["--lazy", "-p", "role-with-mfa", "--", "bash", "--norc", "-i"],
                         env_extra={"PS1": "READY> "})
    child.expect_exact("READY> ")
    child.sendline("%s AWS_ACCESS_KEY_ID; echo DONE" % PROBE)
    child.expect_exact(PROMPT)
    code = awsenv.totp()
    child.sendline(code)
    child.expect(r"AWS_ACCESS_KEY_ID=(ASIA\w+)")
    child.expect_exact("DONE")
    child.expect_exact("READY> ")
    child.sendline("exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "command not found" not in child.before
    assert code not in child.before  # neither echoed nor run by the shell


def test_ctrl_c_at_the_prompt_dies_of_sigint(awsenv, sts):
    awsenv.seed()
    child = awsenv.spawn(["-p", "role-with-mfa", "--", "true"])
    child.expect_exact(PROMPT)
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.signalstatus == signal.SIGINT


def interactive_bash(awsenv):
    child = pexpect.spawn("/bin/bash", ["--norc", "--noprofile", "-i"],
                          env=awsenv._env({"PS1": "READY> "}), cwd=str(awsenv.tmp),
                          encoding="utf-8", timeout=20)
    child.expect_exact("READY> ")
    return child


RUN_PRINTING_KEY = "%s -p role-with-mfa -- sh -c 'echo KEY=$AWS_ACCESS_KEY_ID'"


def fg_and_answer(awsenv, child):
    """Brings the stopped run back, answers its prompt, checks the code was not echoed,
    and ends the shell."""
    child.sendline("fg")
    child.expect_exact(PROMPT)
    code = awsenv.totp()
    child.sendline(code)
    child.expect(r"KEY=(ASIA\w+)")
    assert code not in child.before
    child.expect_exact("READY> ")
    child.sendline("exit")
    child.expect(pexpect.EOF)
    child.close()


def test_ctrl_z_at_the_prompt_stops_and_fg_asks_again_with_echo_off(awsenv, sts):
    """Job control at the prompt, as readpassphrase does it: Ctrl-Z gives the shell a
    terminal with echo on, and `fg` turns echo off again and shows the prompt again, so
    the code typed then is not echoed."""
    import termios
    awsenv.seed()
    child = interactive_bash(awsenv)
    child.sendline(RUN_PRINTING_KEY % awsenv.bin)
    child.expect_exact(PROMPT)
    child.sendcontrol("z")
    child.expect_exact("READY> ")
    child.sendline("stty -a | grep -o -- '-*echo ' | head -1")
    child.expect(r"\n(-?echo) ")
    assert child.match.group(1) == "echo"  # the terminal the shell gets back echoes
    child.expect_exact("READY> ")
    child.sendline("fg")
    child.expect_exact(PROMPT)
    time.sleep(0.2)
    assert not termios.tcgetattr(child.child_fd)[3] & termios.ECHO
    code = awsenv.totp()
    child.sendline(code)
    child.expect(r"KEY=(ASIA\w+)")
    assert code not in child.before
    child.expect_exact("READY> ")
    child.sendline("exit")
    child.expect(pexpect.EOF)
    child.close()
    assert ops(sts) == ["GetSessionToken", "AssumeRole"]


def test_a_run_started_in_the_background_stops_at_its_prompt_until_fg(awsenv, sts):
    """`awsrole-run ... &` must not take the terminal from the shell (the next command line
    would be read as the code, and bash would lose its terminal): it stops, as any
    background job that wants the terminal, and asks once brought to the foreground."""
    awsenv.seed()
    child = interactive_bash(awsenv)
    child.sendline(RUN_PRINTING_KEY % awsenv.bin + " &")
    child.expect_exact("READY> ")
    time.sleep(1)
    child.sendline("echo STILL-MINE")
    child.expect_exact("STILL-MINE")  # the shell, not the prompt, read the line
    child.expect_exact("READY> ")
    child.sendline("jobs")
    child.expect(r"(Stopped|Running)")
    assert child.match.group(1) == "Stopped"
    child.expect_exact("READY> ")
    fg_and_answer(awsenv, child)
    assert ops(sts) == ["GetSessionToken", "AssumeRole"]


def test_ctrl_z_then_bg_with_tostop_stops_again_without_spinning(awsenv, sts):
    """With `stty tostop`, a prompt continued in the background stops again at once (it
    used to retry a write that each SIGTTOU interrupted, at full CPU)."""
    awsenv.seed()
    child = interactive_bash(awsenv)
    child.sendline("stty tostop")
    child.expect_exact("READY> ")
    child.sendline(RUN_PRINTING_KEY % awsenv.bin)
    child.expect_exact(PROMPT)
    child.sendcontrol("z")
    child.expect_exact("READY> ")
    child.sendline("bg")
    child.expect_exact("READY> ")
    time.sleep(1)
    child.sendline("jobs -l")
    child.expect(r"(\d+) (Stopped|Running)")
    pid, state = int(child.match.group(1)), child.match.group(2)
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu_ticks = int(fields[11]) + int(fields[12])
    assert state == "Stopped" and fields[0] == "T", (state, fields[0])
    assert cpu_ticks < 50, cpu_ticks
    fg_and_answer(awsenv, child)


def test_a_signal_that_ends_the_prompt_gives_the_echo_back(awsenv, sts):
    """SIGUSR1 (fatal by default, nobody handles it before the tree runs) at the prompt:
    the run dies of it and the terminal has its echo back."""
    awsenv.seed()
    child = pexpect.spawn("/bin/sh", ["-c", '"$0" -p role-with-mfa -- true; echo RC=$?; '
                                      'stty -a | grep -o -- "-*echo " | head -1', awsenv.bin],
                          env=awsenv._env(None), cwd=str(awsenv.tmp), encoding="utf-8",
                          timeout=20)
    child.expect_exact(PROMPT)
    out = subprocess.run(["pgrep", "-P", str(child.pid)],
                         capture_output=True, text=True).stdout.split()
    assert len(out) == 1, out
    os.kill(int(out[0]), signal.SIGUSR1)
    child.expect(r"RC=(\d+)")
    assert child.match.group(1) == str(128 + signal.SIGUSR1)
    child.expect(r"(-?echo) ")
    assert child.match.group(1) == "echo"
    child.expect(pexpect.EOF)
    child.close()


def test_a_run_waiting_for_another_prompt_says_so_and_gives_up(awsenv, sts):
    awsenv.seed()
    first = awsenv.spawn(["-p", "role-with-mfa", "--", "true"])
    first.expect_exact(PROMPT)  # holds the lock for the MFA session, waiting for a human
    try:
        start = time.monotonic()
        r = awsenv.run(["-p", "role-with-mfa", "--export"],
                       env_extra={"AWSR_PROCESS_TIMEOUT_MS": "3000"})
        took = time.monotonic() - start
        assert r.returncode == 253, r.stderr
        assert "waiting for another awsrole-run that is getting the same credentials" in r.stderr
        assert "gave up waiting after 3 s" in r.stderr
        assert "MFA code required" in r.stderr  # then fails as with nobody else around
        assert took < 20
    finally:
        first.sendintr()
        first.expect(pexpect.EOF)
        first.close()


def test_a_run_with_its_own_code_waits_no_longer_than_the_code_lives(awsenv, sts):
    """Another run sits at its prompt, holding the lock: a run given a code waits at most
    25 s (a TOTP code lives about 30), then goes on while the code is still good."""
    awsenv.seed()
    first = awsenv.spawn(["-p", "role-with-mfa", "--", "true"])
    first.expect_exact(PROMPT)
    try:
        code = awsenv.totp()
        start = time.monotonic()
        r = awsenv.run(["-p", "role-with-mfa", "-t", code, "--export"], timeout=120)
        took = time.monotonic() - start
        assert r.returncode == 0, r.stderr
        assert r.stderr.count("gave up waiting after 25 s") == 1, r.stderr
        assert "the MFA code given to this run lasts about 30 seconds" in r.stderr
        assert 24 < took < 60
        assert ops(sts) == ["GetSessionToken", "AssumeRole"]
    finally:
        first.sendintr()
        first.expect(pexpect.EOF)
        first.close()


def test_mfa_process_speaks_on_the_terminal_when_stderr_is_captured(awsenv, sts, tmp_path):
    """'Touch your YubiKey' must reach the user even when awsrole-run's own stderr goes
    elsewhere (botocore captures a credential_process's stderr; here 2>file)."""
    awsenv.seed()
    code_file = tmp_path / "code"
    code_file.write_text(awsenv.totp() + "\n")
    cfg = awsenv.config_path.read_text().replace(
        "mfa_serial = %s" % SEED_MFA_SERIAL,
        "mfa_serial = %s\nmfa_process = sh -c 'echo Touch your YubiKey >&2; cat %s'"
        % (SEED_MFA_SERIAL, code_file))
    awsenv.write_config(cfg)
    log = tmp_path / "stderr.log"
    child = pexpect.spawn("/bin/sh", ["-c", '"$0" -p role-with-mfa -- true 2>"$1"; echo RC=$?',
                                      awsenv.bin, str(log)],
                          env=awsenv._env(None), cwd=str(awsenv.tmp), encoding="utf-8",
                          timeout=30)
    child.expect_exact("Touch your YubiKey")
    child.expect(r"RC=(\d+)")
    assert child.match.group(1) == "0", log.read_text()
    child.expect(pexpect.EOF)
    child.close()
    assert "Touch your YubiKey" not in log.read_text()
    assert ops(sts) == ["GetSessionToken", "AssumeRole"]


def test_credential_process_loop_stops_at_once(awsenv, sts, tmp_path):
    awsenv.write_config("[default]\ncredential_process = %s --export --format process\n"
                        % awsenv.bin)
    start = time.monotonic()
    r = awsenv.run(["--export"], timeout=60)
    assert r.returncode == 253, r.stderr
    assert "credential_process loop" in r.stderr
    assert time.monotonic() - start < 20
    assert "AWSROLE_PROCESS_CHAIN" not in r.stderr
    # Nothing of the chain is left running.
    left = subprocess.run(["pgrep", "-f", "%s --export --format process" % awsenv.bin],
                          capture_output=True, text=True)
    assert left.stdout.strip() == ""


def test_process_chain_variable_does_not_reach_the_tree(awsenv, sts):
    via_process_config(awsenv, target="role-with-mfa")
    r = awsenv.run(["-p", "role-with-mfa", "--mfa-code", awsenv.totp(), "--export"])
    assert r.returncode == 0, r.stderr
    r = awsenv.run(["-p", "via-proc", "--", "sh", "-c", "echo chain=${AWSROLE_PROCESS_CHAIN-unset}"])
    assert r.returncode == 0, r.stderr
    assert "chain=unset" in r.stdout
