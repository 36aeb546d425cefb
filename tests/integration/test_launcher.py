"""awsrole-run end to end against the mock STS: the seed scenario, MFA sources and
prompting, the cache, the child's environment, exit statuses and signals."""
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pexpect
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "mock_sts"))
import mock_sts  # noqa: E402

SERIAL = mock_sts.SEED_MFA_SERIAL
PROMPT = "Enter MFA code for %s: " % SERIAL
ROLE_ARN = "arn:aws:iam::128716708097:role/cli-role"
AWS_CLI = "/usr/bin/aws"


def ops(sts):
    return [c["op"] for c in sts.calls]


def identity_cmd(sts):
    """A signed GetCallerIdentity made by the real AWS CLI inside the tree."""
    return [AWS_CLI, "sts", "get-caller-identity", "--endpoint-url", sts.url,
            "--output", "text", "--query", "Arn"]


# ---- the seed scenario ----

def test_seed_role_with_mfa_prompts_once_and_runs_the_command(awsenv, sts):
    awsenv.seed()
    child = awsenv.spawn(["--profile", "role-with-mfa", "--"] + identity_cmd(sts))
    child.expect_exact(PROMPT)
    code = awsenv.totp()
    child.sendline(code)
    child.expect(r"arn:aws:sts::128716708097:assumed-role/cli-role/\S+")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    # The code was not echoed back to the terminal.
    assert code not in child.before
    assert ops(sts).count("GetSessionToken") == 1
    gst = [c for c in sts.calls if c["op"] == "GetSessionToken"][0]
    assert gst["params"]["SerialNumber"] == SERIAL
    ar = [c for c in sts.calls if c["op"] == "AssumeRole"][0]
    assert ar["params"]["RoleArn"] == ROLE_ARN
    assert "TokenCode" not in ar["params"]  # AssumeRole came from the MFA session


@pytest.mark.valgrind
def test_seed_role_without_mfa_is_refused_and_command_never_runs(awsenv, sts, tmp_path):
    awsenv.seed()
    marker = tmp_path / "ran"
    r = awsenv.run(["--profile", "role-without-mfa", "--", "touch", str(marker)])
    assert r.returncode == 254
    assert "An error occurred (AccessDenied) when calling the AssumeRole operation: Access denied" in r.stderr
    assert not marker.exists()


def test_no_terminal_and_no_code_source_fails_at_once(awsenv, sts):
    awsenv.seed()
    start = time.monotonic()
    r = awsenv.run(["--profile", "role-with-mfa", "--", "true"], timeout=10)
    assert r.returncode == 253
    for name in ("--mfa-code", "AWSROLE_MFA_CODE", "mfa_process"):
        assert name in r.stderr
    assert "GetSessionToken" not in ops(sts)
    assert time.monotonic() - start < 10


@pytest.mark.valgrind
@pytest.mark.parametrize("how", ["option", "variable", "mfa_process"])
def test_non_interactive_code_sources(awsenv, sts, how):
    awsenv.seed()
    code = awsenv.totp()
    extra, args = {}, ["--profile", "role-with-mfa"]
    if how == "option":
        args += ["--mfa-code", code]
    elif how == "variable":
        extra["AWSROLE_MFA_CODE"] = code
    else:
        cfg = (awsenv.home / ".aws" / "config").read_text()
        cfg = cfg.replace("mfa_serial = %s" % SERIAL,
                          "mfa_serial = %s\nmfa_process = sh -c 'echo %s; echo fetching >&2'" % (SERIAL, code))
        awsenv.write_config(cfg)
    r = awsenv.run(args + ["--", "sh", "-c", "echo $AWS_ACCESS_KEY_ID"], env_extra=extra)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith("ASIA")
    if how == "mfa_process":
        assert "fetching" in r.stderr  # its stderr reaches the user
    assert code not in r.stdout + r.stderr


def test_option_code_beats_variable(awsenv, sts):
    awsenv.seed()
    good = awsenv.totp()
    r = awsenv.run(["--profile", "role-with-mfa", "--mfa-code", good, "--", "true"],
                   env_extra={"AWSROLE_MFA_CODE": "000000"})
    assert r.returncode == 0, r.stderr
    assert [c["params"].get("TokenCode") for c in sts.calls if c["op"] == "GetSessionToken"] == [good]


def test_rejected_code_from_option_is_not_retried(awsenv, sts):
    awsenv.seed()
    r = awsenv.run(["--profile", "role-with-mfa", "--mfa-code", "123456", "--", "true"])
    assert r.returncode == 254
    assert "MultiFactorAuthentication failed" in r.stderr
    assert ops(sts).count("GetSessionToken") == 1


# ---- the prompt through a real pseudo-terminal ----

def test_prompt_asks_again_for_a_code_that_is_not_six_digits(awsenv, sts):
    awsenv.seed()
    child = awsenv.spawn(["--profile", "role-with-mfa", "--", "true"])
    child.expect_exact(PROMPT)
    child.sendline("12ab")
    child.expect_exact(PROMPT)
    child.sendline(awsenv.totp())
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert ops(sts).count("GetSessionToken") == 1


def test_prompt_asks_again_when_sts_rejects_the_code(awsenv, sts):
    awsenv.seed()
    child = awsenv.spawn(["--profile", "role-with-mfa", "--", "true"])
    child.expect_exact(PROMPT)
    child.sendline("000000")
    child.expect("not accepted")
    child.expect_exact(PROMPT)
    child.sendline(awsenv.totp())
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert ops(sts).count("GetSessionToken") == 2


def test_ctrl_c_at_the_prompt_restores_the_terminal_and_dies_of_sigint(awsenv, sts):
    awsenv.seed()
    # A shell that ignores SIGINT runs awsrole-run, then shows the terminal's mode.
    script = "trap '' INT; %s -p role-with-mfa -- true; echo rc=$?; stty -a" % awsenv.bin
    child = pexpect.spawn("/bin/sh", ["-c", script], env=awsenv.env, encoding="utf-8", timeout=20)
    child.expect_exact(PROMPT)
    child.sendintr()
    child.expect(r"rc=(\d+)")
    assert child.match.group(1) == "130"  # 128 + SIGINT: the shell's way to say it
    child.expect(pexpect.EOF)
    modes = child.before.split()
    assert "echo" in modes and "-echo" not in modes
    assert "GetSessionToken" not in ops(sts)


# ---- one prompt per device, the cache ----

@pytest.mark.valgrind
def test_second_run_reuses_the_cache_without_prompt_or_sts(awsenv, sts):
    awsenv.seed()
    r = awsenv.run(["--profile", "role-with-mfa", "--mfa-code", awsenv.totp(), "--", "true"])
    assert r.returncode == 0, r.stderr
    n = len(sts.calls)
    r = awsenv.run(["-v", "--profile", "role-with-mfa", "--", "true"])
    assert r.returncode == 0, r.stderr
    assert len(sts.calls) == n  # role credentials came from the cache
    assert "cached" in r.stderr


def test_cache_files_are_private(awsenv, sts):
    awsenv.seed()
    r = awsenv.run(["--profile", "role-with-mfa", "--mfa-code", awsenv.totp(), "--", "true"])
    assert r.returncode == 0, r.stderr
    d = os.path.join(awsenv.env["XDG_CACHE_HOME"], "awsrole")
    assert os.stat(d).st_mode & 0o777 == 0o700
    entries = [f for f in os.listdir(d) if f.endswith(".json")]
    assert len(entries) >= 2  # the MFA session and the role credentials
    for f in entries:
        assert os.stat(os.path.join(d, f)).st_mode & 0o777 == 0o600


def test_another_role_with_the_same_device_reuses_the_mfa_session(awsenv, sts):
    awsenv.seed()
    cfg = (awsenv.home / ".aws" / "config").read_text() + (
        "\n[profile other-role]\nrole_arn = %s\nsource_profile = cli-user\nmfa_serial = %s\n"
        "role_session_name = other\n" % (ROLE_ARN, SERIAL))
    awsenv.write_config(cfg)
    r = awsenv.run(["--profile", "role-with-mfa", "--mfa-code", awsenv.totp(), "--", "true"])
    assert r.returncode == 0, r.stderr
    r = awsenv.run(["-v", "--profile", "other-role", "--", "true"])  # no code source at all
    assert r.returncode == 0, r.stderr
    assert ops(sts).count("GetSessionToken") == 1
    assert ops(sts).count("AssumeRole") == 2


def test_long_role_duration_uses_assume_role_with_the_code(awsenv, sts):
    awsenv.seed()
    code = awsenv.totp()
    r = awsenv.run(["-v", "--profile", "role-with-mfa", "--duration", "7200", "--mfa-code", code,
                    "--", "true"])
    assert r.returncode == 0, r.stderr
    assert "GetSessionToken" not in ops(sts)
    ar = [c for c in sts.calls if c["op"] == "AssumeRole"][0]
    assert ar["params"]["TokenCode"] == code
    assert ar["params"]["DurationSeconds"] == "7200"
    assert "skipping GetSessionToken" in r.stderr


def test_no_cache_neither_reads_nor_writes(awsenv, sts):
    awsenv.seed()
    r = awsenv.run(["--no-cache", "--profile", "role-with-mfa", "--mfa-code", awsenv.totp(), "--", "true"])
    assert r.returncode == 0, r.stderr
    d = os.path.join(awsenv.env["XDG_CACHE_HOME"], "awsrole")
    assert not os.path.exists(d) or not [f for f in os.listdir(d) if f.endswith(".json")]


def test_forget_removes_the_profile_entries(awsenv, sts):
    awsenv.seed()
    r = awsenv.run(["--profile", "role-with-mfa", "--mfa-code", awsenv.totp(), "--", "true"])
    assert r.returncode == 0, r.stderr
    r = awsenv.run(["--profile", "role-with-mfa", "--forget"])
    assert r.returncode == 0, r.stderr
    r = awsenv.run(["--profile", "role-with-mfa", "--", "true"])
    assert r.returncode == 253  # a code is needed again


def test_parallel_credential_process_calls_give_one_sts_exchange(awsenv, sts):
    awsenv.seed()
    code = awsenv.totp()

    def one(_):
        return awsenv.run(["--profile", "role-with-mfa", "--export", "--format", "process"],
                          env_extra={"AWSROLE_MFA_CODE": code})

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(16)))
    for r in results:
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["Version"] == 1
    assert ops(sts).count("GetSessionToken") == 1
    assert ops(sts).count("AssumeRole") == 1
    keys = {json.loads(r.stdout)["AccessKeyId"] for r in results}
    assert len(keys) == 1


# ---- export formats ----

@pytest.mark.valgrind
def test_export_formats(awsenv, sts):
    awsenv.seed()
    r = awsenv.run(["--profile", "role-with-mfa", "--mfa-code", awsenv.totp(), "--export",
                    "--format", "process"])
    assert r.returncode == 0, r.stderr
    p = json.loads(r.stdout)
    assert p["Version"] == 1 and p["AccessKeyId"].startswith("ASIA")
    assert p["SessionToken"] and p["Expiration"].endswith("Z")
    r = awsenv.run(["--profile", "role-with-mfa", "--export", "--format", "json"])
    j = json.loads(r.stdout)
    assert j["AccessKeyId"] == p["AccessKeyId"] and j["Region"] == "us-west-2"
    r = awsenv.run(["--profile", "role-with-mfa", "--export"])
    out = subprocess.run(["sh", "-c", r.stdout + '\necho "$AWS_ACCESS_KEY_ID $AWS_REGION"'],
                         capture_output=True, text=True)
    assert out.stdout.split() == [p["AccessKeyId"], "us-west-2"]


def test_credential_process_in_a_real_aws_cli_config(awsenv, sts):
    awsenv.seed()
    cfg = (awsenv.home / ".aws" / "config").read_text() + (
        "\n[profile via-process]\ncredential_process = %s --profile role-with-mfa --export --format process\n"
        % awsenv.bin)
    awsenv.write_config(cfg)
    r = subprocess.run([AWS_CLI, "sts", "get-caller-identity", "--profile", "via-process",
                        "--endpoint-url", sts.url, "--region", "us-west-2", "--output", "json"],
                       env=dict(awsenv.env, AWSROLE_MFA_CODE=awsenv.totp()),
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert "assumed-role/cli-role" in json.loads(r.stdout)["Arn"]


# ---- the child ----

@pytest.mark.valgrind
def test_child_environment(awsenv, sts):
    awsenv.seed()
    inherited = {"AWS_PROFILE": "role-with-mfa", "AWS_DEFAULT_PROFILE": "x",
                 "AWS_ACCESS_KEY_ID": "AKIAOLD", "AWS_SECRET_ACCESS_KEY": "old",
                 "AWS_SESSION_TOKEN": "old", "AWS_SECURITY_TOKEN": "old"}
    code = awsenv.totp()
    r = awsenv.run(["--mfa-code", code, "--", "/usr/bin/env"], env_extra=inherited)
    assert r.returncode == 0, r.stderr
    env = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert env["AWS_SECRET_ACCESS_KEY"] != "old"
    assert env["AWS_SESSION_TOKEN"] == env["AWS_SECURITY_TOKEN"] != "old"
    assert env["AWS_CREDENTIAL_EXPIRATION"].endswith("Z")
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-west-2"
    assert env["AWSROLE_PROFILE"] == "role-with-mfa"
    assert "AWS_PROFILE" not in env and "AWS_DEFAULT_PROFILE" not in env
    assert "AWSROLE_MFA_CODE" not in env
    assert env["LD_PRELOAD"].split(":")[0] == os.path.realpath(awsenv.shim)
    assert env.get("AWSROLE_SEGMENT")


def test_region_option_reaches_the_child(awsenv, sts):
    awsenv.seed()
    r = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "-r", "eu-west-1", "--",
                    "sh", "-c", "echo $AWS_REGION $AWS_DEFAULT_REGION"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["eu-west-1", "eu-west-1"]


def test_nested_run_reuses_the_tree_credentials(awsenv, sts):
    awsenv.seed()
    inner = "%s --profile role-with-mfa --export --format json" % awsenv.bin
    r = awsenv.run(["--profile", "role-with-mfa", "--mfa-code", awsenv.totp(), "--no-cache", "--",
                    "sh", "-c", inner + '; echo "OUTER $AWS_ACCESS_KEY_ID"'])
    assert r.returncode == 0, r.stderr
    outer = r.stdout.split("OUTER ")[1].strip()
    assert json.loads(r.stdout.split("OUTER ")[0])["AccessKeyId"] == outer
    assert ops(sts).count("AssumeRole") == 1


@pytest.mark.valgrind
@pytest.mark.parametrize("shim", [True, False])
def test_exit_status_is_the_childs(awsenv, sts, shim):
    awsenv.seed()
    args = ["-p", "role-with-mfa", "-t", awsenv.totp()] + ([] if shim else ["--no-shim"])
    r = awsenv.run(args + ["--", "sh", "-c", "exit 7"])
    assert r.returncode == 7
    r = awsenv.run(["-p", "role-with-mfa"] + ([] if shim else ["--no-shim"]) +
                   ["--", "sh", "-c", "kill -TERM $$"])
    assert r.returncode == -signal.SIGTERM


@pytest.mark.valgrind  # where vfork is a fork (valgrind), the exec error still comes back
def test_command_not_found_and_not_executable(awsenv, sts, tmp_path):
    awsenv.seed()
    r = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--", "no-such-command-xyz"])
    assert r.returncode == 127
    assert "command not found" in r.stderr
    f = tmp_path / "notexec"
    f.write_text("#!/bin/sh\n")
    f.chmod(0o644)
    r = awsenv.run(["-p", "role-with-mfa", "--", str(f)])
    assert r.returncode == 126
    assert "cannot run it: Permission denied" in r.stderr
    d = tmp_path / "adir"
    d.mkdir()
    r = awsenv.run(["-p", "role-with-mfa", "--", str(d)])
    assert r.returncode == 126 and "cannot run it" in r.stderr
    script = tmp_path / "noshebang"
    script.write_text("echo ran by sh\n")
    script.chmod(0o755)
    r = awsenv.run(["-p", "role-with-mfa", "--", str(script)])
    assert r.returncode == 0 and r.stdout == "ran by sh\n", r.stderr


@pytest.mark.parametrize("args", [[], ["--bogus", "--", "true"], ["--duration", "abc", "--", "true"],
                                  ["--format", "json", "--", "true"], ["--export", "--format", "xml"],
                                  ["--export", "--", "true"]])
def test_bad_usage_is_252(awsenv, args):
    r = awsenv.run(args)
    assert r.returncode == 252
    assert r.stderr.startswith("awsrole-run: ")


@pytest.mark.parametrize("args,says", [
    (["--no-shim=1", "--", "true"], "option '--no-shim' takes no value"),
    (["--export=yes"], "option '--export' takes no value"),
    (["-vx", "--", "true"], "unknown option '-x'"),
    (["--bogus"], "unknown option '--bogus'"),
    (["--profile"], "option '--profile' needs a value"),
])
def test_bad_usage_says_what_is_wrong(awsenv, args, says):
    r = awsenv.run(args)
    assert r.returncode == 252
    assert r.stderr.splitlines()[0] == "awsrole-run: " + says, r.stderr


def test_help_and_version(awsenv):
    r = awsenv.run(["--help"])
    assert r.returncode == 0 and "--profile" in r.stdout and "--export" in r.stdout
    r = awsenv.run(["--version"])
    assert r.returncode == 0 and r.stdout.startswith("awsrole-run ")


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_that_cannot_be_written_fail(awsenv, flag):
    # As --export does: output lost to a full disk or a closed stdout is not a success.
    with open("/dev/full", "w") as full:
        r = subprocess.run([awsenv.bin, flag], env=awsenv.env, stdout=full,
                           stderr=subprocess.PIPE, text=True)
    assert r.returncode == 255
    assert "awsrole-run: could not write" in r.stderr and "No space left" in r.stderr
    r = subprocess.run([awsenv.bin, flag], env=awsenv.env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True,
                       preexec_fn=lambda: os.close(1))
    assert r.returncode == 255, r.stderr


def test_missing_profile_is_253(awsenv, sts):
    awsenv.seed()
    r = awsenv.run(["--profile", "nope", "--", "true"])
    assert r.returncode == 253
    assert "The config profile (nope) could not be found" in r.stderr


def test_sigterm_is_forwarded_and_status_propagated(awsenv, sts, tmp_path):
    awsenv.seed()
    got = tmp_path / "got"
    script = "trap 'echo TERM > %s; exit 42' TERM; echo ready; while :; do sleep 0.1; done" % got
    p = subprocess.Popen([awsenv.bin, "-p", "role-with-mfa", "-t", awsenv.totp(), "--", "sh", "-c", script],
                         env=awsenv.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    assert p.stdout.readline().strip() == "ready"
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=10) == 42
    assert got.read_text().strip() == "TERM"


def test_terminal_ctrl_c_reaches_the_child_once(awsenv, sts, tmp_path):
    awsenv.seed()
    r = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--", "true"])
    assert r.returncode == 0, r.stderr
    count = tmp_path / "count"
    script = ("import signal,time,sys\nn=[0]\n"
              "def h(s,f): n[0]+=1\n"
              "signal.signal(signal.SIGINT,h)\nprint('ready',flush=True)\n"
              "t=time.time()\nwhile time.time()-t<3 and n[0]==0: time.sleep(0.05)\n"
              "time.sleep(1)\nopen(%r,'w').write(str(n[0]))\n" % str(count))
    child = awsenv.spawn(["-p", "role-with-mfa", "--", "/usr/bin/python3", "-c", script])
    child.expect("ready")
    child.sendintr()
    child.expect(pexpect.EOF, timeout=20)
    child.close()
    assert count.read_text() == "1"
    assert child.exitstatus == 0


# ---- what an audit of the command-line contract found ----

def test_inherited_credential_sources_do_not_reach_the_child(awsenv, sts):
    awsenv.seed()
    inherited = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://x", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "t",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/r", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "/f",
                 "AWS_WEB_IDENTITY_TOKEN_FILE": "/f", "AWS_ROLE_ARN": "arn:aws:iam::1:role/x",
                 "AWS_ROLE_SESSION_NAME": "s"}
    r = awsenv.run(["-p", "role-with-mfa", "--mfa-code", awsenv.totp(), "--", "env"],
                   env_extra=inherited)
    assert r.returncode == 0, r.stderr
    names = {line.split("=", 1)[0] for line in r.stdout.splitlines()}
    assert not names & set(inherited), names & set(inherited)
    assert "AWS_ACCESS_KEY_ID" in names


def test_script_with_a_missing_interpreter_is_not_command_not_found(awsenv, sts, tmp_path):
    awsenv.seed()
    script = tmp_path / "x"
    script.write_text("#!/nonexistent/interpreter\n")
    script.chmod(0o755)
    r = awsenv.run(["-p", "role-with-mfa", "--mfa-code", awsenv.totp(), "--", str(script)])
    assert r.returncode == 126, r.stderr
    assert "bad interpreter" in r.stderr and "command not found" not in r.stderr


def test_export_env_of_static_keys_unsets_a_stale_token(awsenv, sts):
    awsenv.seed()
    r = awsenv.run(["-p", "cli-user", "--export"])
    assert r.returncode == 0, r.stderr
    assert "unset AWS_SESSION_TOKEN AWS_SECURITY_TOKEN\n" in r.stdout
    assert "unset AWS_CREDENTIAL_EXPIRATION\n" in r.stdout
    out = subprocess.run(["sh", "-c", 'AWS_SESSION_TOKEN=stale; export AWS_SESSION_TOKEN; '
                          'eval "$(cat)"; echo "token=${AWS_SESSION_TOKEN-unset}"'],
                         input=r.stdout, capture_output=True, text=True)
    assert out.stdout.strip() == "token=unset"


def test_bad_tuning_variables_are_configuration_errors(awsenv, sts):
    awsenv.seed()
    for var, value in (("AWSROLE_MFA_SESSION_DURATION", "100"),
                       ("AWSROLE_MFA_SESSION_DURATION", "abc"),
                       ("AWSROLE_REFRESH_MARGIN", "-5"), ("AWSROLE_REFRESH_MARGIN", "soon")):
        r = awsenv.run(["-p", "role-with-mfa", "--mfa-code", awsenv.totp(), "--", "true"],
                       env_extra={var: value})
        assert r.returncode == 253, (var, value, r.stderr)
        assert var in r.stderr and value in r.stderr
    assert "GetSessionToken" not in ops(sts)


def test_contradictory_options_are_usage_errors(awsenv, sts):
    awsenv.seed()
    for args in (["-r", "", "--export"], ["--also", "x", "--export"], ["--no-cache", "--forget"],
                 ["-d", " 1000", "--export"], ["-d", "+1000", "--export"]):
        r = awsenv.run(["-p", "role-with-mfa"] + args)
        assert r.returncode == 252, (args, r.stderr)
    assert sts.calls == []


def test_forget_removes_every_duration_and_counts_truly(awsenv, sts):
    awsenv.seed()
    r = awsenv.run(["-p", "role-with-mfa", "--mfa-code", awsenv.totp(), "--", "true"])
    assert r.returncode == 0, r.stderr
    r = awsenv.run(["-p", "role-with-mfa", "-d", "1800", "--", "true"])
    assert r.returncode == 0, r.stderr
    r = awsenv.run(["-v", "-p", "role-with-mfa", "--forget"])
    assert r.returncode == 0, r.stderr
    assert "removed 3 cached entries" in r.stderr  # the MFA session and two role entries
    r = awsenv.run(["-v", "-p", "role-with-mfa", "--forget"])
    assert "removed 0 cached entries" in r.stderr
    r = awsenv.run(["-p", "role-with-mfa", "-d", "1800", "--export"])
    assert r.returncode == 253  # nothing cached any more: a code is needed again


def test_supervisor_survives_a_closed_log_reader_and_forwards_sigalrm(awsenv, sts, tmp_path):
    awsenv.seed()
    awsenv.run(["-p", "role-with-mfa", "--mfa-code", awsenv.totp(), "--export"])
    out = tmp_path / "out"
    # -v lines go to a pipe whose reader is gone before the first one: the launcher must
    # outlive it from its first line on (a reader like `head -c 1` leaves at any time).
    p = subprocess.Popen(["sh", "-c", '"$0" -v -p role-with-mfa -- sh -c "sleep 1; echo done > %s" '
                          '2>&1 | (exec 0<&-; sleep 0); exit 0' % out, awsenv.bin],
                         env=awsenv._env(None), start_new_session=True)
    assert p.wait(timeout=30) == 0
    for _ in range(100):
        if out.exists():
            break
        time.sleep(0.1)
    assert out.read_text().strip() == "done"
    # SIGALRM is passed on to the command; the launcher then ends as the command does.
    p = subprocess.Popen([awsenv.bin, "-p", "role-with-mfa", "--", "sleep", "30"],
                         env=awsenv._env(None), start_new_session=True)
    time.sleep(1)
    p.send_signal(signal.SIGALRM)
    assert p.wait(timeout=10) == -signal.SIGALRM
    runtime = awsenv.env["XDG_RUNTIME_DIR"]
    assert [n for n in os.listdir(runtime) if n.startswith("awsrole-")] == []
    assert not [n for n in os.listdir("/dev/shm") if n.startswith("awsrole-%d-" % p.pid)]


def test_config_copy_keeps_long_term_keys_out(awsenv, sts):
    awsenv.seed()
    with open(awsenv.config_path, "a") as f:
        f.write("[profile in-config]\naws_access_key_id = AKIAINCONFIG00000001\n"
                "aws_secret_access_key = inconfigsecret\nregion = eu-west-1\n")
    r = awsenv.run(["-p", "role-with-mfa", "--mfa-code", awsenv.totp(), "--", "sh", "-c",
                    'cat "$AWS_CONFIG_FILE"'])
    assert r.returncode == 0, r.stderr
    assert "[profile in-config]" in r.stdout and "region = eu-west-1" in r.stdout
    assert "AKIAINCONFIG00000001" not in r.stdout and "inconfigsecret" not in r.stdout


def test_a_process_that_changes_home_still_cannot_reach_the_real_credentials_file(awsenv, sts):
    """The launcher names the file it read (AWSROLE_USER_CREDENTIALS_FILE): a build tool
    or test harness that sets HOME=$tmp, or removes HOME, still gets the synthesized file
    through the real path, and cannot write to it."""
    awsenv.seed()
    real = str(awsenv.credentials_path)
    before = awsenv.credentials_path.read_text()
    script = ('R="%s"; grep -m1 key_id "$R"; HOME=/tmp grep -m1 key_id "$R"; '
              'env -u HOME -u AWS_SHARED_CREDENTIALS_FILE grep -m1 key_id "$R"; '
              'HOME=/tmp sh -c "echo appended >> $R" 2>/dev/null; echo append-rc=$?' % real)
    r = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--", "sh", "-c", script])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    role = [c for c in sts.issued if c["kind"] == "role"][0]
    assert lines[:3] == ["aws_access_key_id = %s" % role["AccessKeyId"]] * 3, r.stdout
    assert lines[3].startswith("append-rc=") and lines[3] != "append-rc=0"  # EROFS
    assert mock_sts.SEED_USER_KEY not in r.stdout
    assert awsenv.credentials_path.read_text() == before


def test_a_device_named_as_the_credentials_file_is_never_served(awsenv, sts):
    """AWS_SHARED_CREDENTIALS_FILE=/dev/null (CI turning the file off): reading /dev/null
    in the tree must give nothing, not the synthesized file."""
    awsenv.seed()
    with open(awsenv.config_path, "a") as f:  # the source keys, where the CLI also looks
        f.write("[profile cli-user]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                % (mock_sts.SEED_USER_KEY, mock_sts.SEED_USER_SECRET))
    r = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--", "sh", "-c",
                    'cat /dev/null; echo "[$(cat </dev/null)]"; grep -c . /dev/null'],
                   env_extra={"AWS_SHARED_CREDENTIALS_FILE": "/dev/null"})
    assert r.stdout == "[]\n0\n", r.stdout + r.stderr


def test_cleartext_endpoint_on_another_host_is_warned_about(awsenv, sts):
    awsenv.seed()
    r = awsenv.run(["-p", "role-with-mfa", "--mfa-code", awsenv.totp(), "--export"],
                   env_extra={"AWS_ENDPOINT_URL_STS": "http://192.0.2.1:9", "AWS_MAX_ATTEMPTS": "1"},
                   timeout=60)
    assert "plain http:// on another machine" in r.stderr
    r = awsenv.run(["-p", "role-with-mfa", "--mfa-code", awsenv.totp(), "--export"])
    assert r.returncode == 0 and "plain http://" not in r.stderr


def test_nested_run_ignores_proxies_for_the_tree_endpoint(awsenv, sts):
    awsenv.seed()
    r = awsenv.run(["-p", "role-with-mfa", "--mfa-code", awsenv.totp(), "--", "sh", "-c",
                    'http_proxy=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 '
                    '"$0" -v -p role-with-mfa --export', awsenv.bin])
    assert r.returncode == 0, r.stderr
    assert "reusing the credentials of the enclosing awsrole-run tree" in r.stderr


def test_long_session_token_is_served_by_the_preload_library(awsenv, sts):
    """AWS promises no maximum token size (session tags make them longer): a 6000-character
    token goes through the segment, whole, like any other."""
    awsenv.seed()
    sts.configure(role_token_chars=6000)
    probe = os.path.join(os.path.dirname(awsenv.bin), "probes", "getenv_probe")
    r = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--", "sh", "-c",
                    'echo "${LD_PRELOAD:-none}"; exec "$0" AWS_SESSION_TOKEN', probe])
    assert r.returncode == 0, r.stderr
    preload, token = r.stdout.splitlines()
    assert preload.endswith("libawsrole-shim.so")
    role = [c for c in sts.issued if c["kind"] == "role"][0]
    assert token == "AWS_SESSION_TOKEN=" + role["SessionToken"]
    assert len(role["SessionToken"]) == 6000
    assert "too large" not in r.stderr


def test_token_too_large_for_the_segment_falls_back_to_environment_variables(awsenv, sts):
    """A role session token over the segment's 16 KiB field: the command still runs, with
    the credentials in its environment and a warning, not an error."""
    awsenv.seed()
    sts.configure(role_token_chars=17000)
    r = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--", "sh", "-c",
                    'printf "%s %s\\n" "${#AWS_SESSION_TOKEN}" "${LD_PRELOAD:-none}"'])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["17000", "none"]
    assert "too large for the preload library; using environment variables only" in r.stderr
    role = [c for c in sts.issued if c["kind"] == "role"][0]
    assert len(role["SessionToken"]) == 17000
