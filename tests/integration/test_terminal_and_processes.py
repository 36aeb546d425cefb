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
