"""Hostile and broken input through the real launcher: every case ends with a clear message
(naming the file and line, or the profile), status 253 where the configuration is at fault,
never a crash (a negative returncode) and never raw control characters on the terminal.

What is asserted where botocore's behaviour decides it:
- a UTF-8 BOM is not stripped (configparser reads `\\ufeff[default]`, not a header): 253,
  line 1;
- duration_seconds goes through Python's int(): `abc` is ignored (the role's default),
  `-5` and `99999999999` parse and go to STS, which answers ValidationError (254). The
  launcher clamps values beyond INT_MAX to INT_MAX before sending (botocore sends the
  digits): either way STS refuses them;
- a 5,000-deep source_profile chain is legal: it must be walked without a crash and reach
  STS (the seed role refuses the first hop without MFA: 254); a 5,001-profile loop is 253.
"""
import configparser
import json
import os
import subprocess
import sys
import time

import pexpect
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "mock_sts"))
import mock_sts  # noqa: E402

SERIAL = mock_sts.SEED_MFA_SERIAL
ROLE_ARN = "arn:aws:iam::128716708097:role/cli-role"
USER_KEY, USER_SECRET = mock_sts.SEED_USER_KEY, mock_sts.SEED_USER_SECRET
PYTHON = "/usr/bin/python3"


def write_bytes(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def run_bytes(awsenv, args, env_extra=None, timeout=60):
    """Like awsenv.run, but stderr/stdout as bytes (raw control characters stay visible)."""
    env = dict(awsenv.env)
    env.update(env_extra or {})
    return subprocess.run([awsenv.bin] + args, env=env, cwd=awsenv.tmp,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, start_new_session=True)


def assert_config_error(r, *needles):
    assert r.returncode == 253, (r.returncode, r.stderr)
    assert r.stderr.startswith("awsrole-run: "), r.stderr
    for n in needles:
        assert n in r.stderr, (n, r.stderr)


def assert_clean_text(data):
    """No C0 control other than newline/tab, no DEL, no C1 control."""
    text = data.decode("utf-8", errors="strict") if isinstance(data, bytes) else data
    bad = [c for c in text if (ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F]
    assert not bad, (bad, text)


SEED_USER = "[cli-user]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (USER_KEY, USER_SECRET)
STATIC = b"[profile a]\naws_access_key_id = AKIAEXAMPLE000000001\naws_secret_access_key = s3cr3t\n"


# ---- parse errors name the file and the line ------------------------------------------------

PARSE_ERRORS = {
    "unterminated_section": (b"[profile a\nregion = x\n", 1),
    "key_outside_section": (b"region = x\n[profile a]\n", 1),
    "nul_byte": (b"[profile a]\nregion = x\x00y\n", 2),
    "invalid_utf8": (b"[profile a]\nregion = x\xff\xfey\n", 2),
    "bom": (b"\xef\xbb\xbf[profile a]\nregion = x\n", 1),
    "nul_in_header": (b"[profile a]\nregion = x\n[profile b\x00]\n", 3),
    "overlong_utf8": (b"[profile a]\nregion = \xc0\xaf\n", 2),
    "lone_continuation_first": (b"  indented = first\n[profile a]\n", 1),
}


@pytest.mark.parametrize("case", sorted(PARSE_ERRORS))
def test_config_parse_error_names_file_and_line(awsenv, sts, case):
    data, line = PARSE_ERRORS[case]
    awsenv.write_credentials(SEED_USER)
    write_bytes(awsenv.config_path, data)
    r = awsenv.run(["--profile", "a", "--", "true"])
    assert_config_error(r, str(awsenv.config_path), "line %d" % line)
    assert sts.calls == []


@pytest.mark.parametrize("case", ["nul_byte", "invalid_utf8", "key_outside_section"])
def test_credentials_file_parse_error_names_that_file(awsenv, sts, case):
    data, line = PARSE_ERRORS[case]
    awsenv.write_config("[profile a]\nregion = us-west-2\n")
    write_bytes(awsenv.credentials_path, data)
    r = awsenv.run(["--profile", "a", "--", "true"])
    assert_config_error(r, str(awsenv.credentials_path), "line %d" % line)


def test_parse_error_in_a_file_named_by_the_environment(awsenv, sts, tmp_path):
    other = tmp_path / "elsewhere.ini"
    write_bytes(other, b"[profile a]\naws_access_key_id = A\n[profile a\n")
    r = awsenv.run(["--profile", "a", "--", "true"], env_extra={"AWS_CONFIG_FILE": str(other)})
    assert_config_error(r, str(other), "line 3")


# ---- odd but legal files work ----------------------------------------------------------------

def export_json(awsenv, profile="a", env_extra=None):
    r = awsenv.run(["--profile", profile, "--export", "--format", "json"], env_extra=env_extra)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_crlf_line_endings(awsenv, sts):
    write_bytes(awsenv.config_path, STATIC.replace(b"\n", b"\r\n") + b"region = eu-west-1\r\n")
    j = export_json(awsenv)
    assert j["AccessKeyId"] == "AKIAEXAMPLE000000001"
    assert j["SecretAccessKey"] == "s3cr3t"  # no stray \r
    assert j["Region"] == "eu-west-1"


def test_one_megabyte_line(awsenv, sts):
    big = b"x" * (1 << 20)
    write_bytes(awsenv.config_path, STATIC + b"comment_key = " + big + b"\n[profile " + big[:4096] + b"]\nk = v\n")
    j = export_json(awsenv)
    assert j["AccessKeyId"] == "AKIAEXAMPLE000000001"


def test_one_megabyte_unterminated_line_is_refused(awsenv, sts):
    write_bytes(awsenv.config_path, b"[profile " + b"y" * (1 << 20))
    r = awsenv.run(["--profile", "a", "--", "true"])
    assert_config_error(r, str(awsenv.config_path), "line 1")
    assert len(r.stderr) < 4096  # the line itself is not echoed back


def test_hundred_thousand_keys(awsenv, sts):
    lines = [STATIC.decode()] + ["key%d = value%d\n" % (i, i) for i in range(100000)]
    awsenv.write_config("".join(lines))
    j = export_json(awsenv)
    assert j["AccessKeyId"] == "AKIAEXAMPLE000000001"


def test_hundred_thousand_sections(awsenv, sts):
    lines = [STATIC.decode()] + ["[profile p%d]\nregion = r%d\n" % (i, i) for i in range(100000)]
    awsenv.write_config("".join(lines))
    j = export_json(awsenv)
    assert j["AccessKeyId"] == "AKIAEXAMPLE000000001"


def test_duplicate_key_is_rejected_with_its_line(awsenv, sts):
    awsenv.write_config(STATIC.decode() + "region = a\nregion = b\n")
    r = awsenv.run(["--profile", "a", "--", "true"])
    assert_config_error(r, str(awsenv.config_path), "line 5")


# ---- profile graphs ----------------------------------------------------------------------------

def chain_config(depth, loop=False):
    out = []
    for i in range(1, depth + 1):
        out.append("[profile p%d]\nrole_arn = %s\nsource_profile = p%d\n"
                   % (i, ROLE_ARN, i - 1 if i > 1 or not loop else depth))
    if not loop:
        out.append("[profile p0]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                   % (USER_KEY, USER_SECRET))
    return "".join(out)


def test_five_thousand_deep_chain_is_walked_without_crash(awsenv, sts):
    awsenv.write_config(chain_config(5000))
    r = awsenv.run(["--profile", "p5000", "--", "true"], timeout=120)
    # Legal: the plan has 5,000 hops; the first AssumeRole (no MFA) is refused by the role.
    assert r.returncode == 254, r.stderr
    assert "AccessDenied" in r.stderr
    assert [c["op"] for c in sts.calls] == ["AssumeRole"]


def test_five_thousand_profile_loop(awsenv, sts):
    awsenv.write_config(chain_config(5001, loop=True))
    r = awsenv.run(["--profile", "p1", "--", "true"], timeout=120)
    assert_config_error(r, "Infinite loop in credential configuration detected",
                        "profile p1 which has already been visited")
    assert sts.calls == []


def test_two_profile_loop(awsenv, sts):
    awsenv.write_config("[profile a]\nrole_arn = %s\nsource_profile = b\n"
                        "[profile b]\nrole_arn = %s\nsource_profile = a\n" % (ROLE_ARN, ROLE_ARN))
    r = awsenv.run(["--profile", "a", "--", "true"])
    assert_config_error(r, "Infinite loop", "['a', 'b']")


def test_missing_source_profile_names_it(awsenv, sts):
    awsenv.write_config("[profile a]\nrole_arn = %s\nsource_profile = nowhere\n" % ROLE_ARN)
    r = awsenv.run(["--profile", "a", "--", "true"])
    assert_config_error(r, "nowhere")


# ---- absurd duration_seconds ------------------------------------------------------------------

def role_config(extra):
    return ("[profile r]\nrole_arn = %s\nsource_profile = cli-user\nmfa_serial = %s\n%s"
            % (ROLE_ARN, SERIAL, extra))


@pytest.mark.parametrize("value", ["99999999999", "-5", "0x10"])
def test_absurd_duration_seconds(awsenv, sts, value):
    awsenv.write_credentials(SEED_USER)
    awsenv.write_config(role_config("duration_seconds = %s\n" % value))
    r = awsenv.run(["--profile", "r", "--mfa-code", awsenv.totp(), "--", "true"])
    assert r.returncode >= 0
    if value == "0x10":
        # int("0x10") raises in Python: ignored, the role's default duration applies.
        assert r.returncode == 0, r.stderr
        assert all("DurationSeconds" not in c["params"] for c in sts.calls
                   if c["op"] == "AssumeRole")
        return
    if value == "-5":
        # botocore's client-side check stops it before any call (the minimum is 900).
        assert r.returncode == 253, r.stderr
        assert ("Parameter validation failed: Invalid value for parameter DurationSeconds, "
                "value: -5, valid min value: 900") in r.stderr
        assert sts.calls == []
        return
    assert r.returncode == 254, r.stderr
    assert "ValidationError" in r.stderr
    sent = [c["params"].get("DurationSeconds") for c in sts.calls if c["op"] == "AssumeRole"]
    assert sent, sts.calls
    assert int(sent[-1]) == 2**31 - 1


def test_absurd_duration_option_is_usage_or_sts_error(awsenv, sts):
    awsenv.seed()
    r = awsenv.run(["--profile", "role-with-mfa", "--duration", "99999999999999999999999",
                    "--mfa-code", awsenv.totp(), "--", "true"])
    assert r.returncode in (252, 254), r.stderr
    assert r.stderr.startswith("awsrole-run: ")


# ---- control characters in names and serials --------------------------------------------------

EVIL = "\x1b[31mEVIL\x07\x9b2J"


def test_control_characters_in_mfa_serial_are_escaped_without_terminal(awsenv, sts):
    awsenv.write_credentials(SEED_USER)
    awsenv.write_config(role_config("").replace(SERIAL, SERIAL + EVIL))
    r = run_bytes(awsenv, ["--profile", "r", "--", "true"])
    assert r.returncode == 253
    assert b"\x1b" not in r.stderr and b"\x07" not in r.stderr
    assert_clean_text(r.stderr)
    assert b"\\x1B[31mEVIL" in r.stderr


def test_control_characters_in_mfa_serial_are_escaped_in_the_prompt(awsenv, sts):
    awsenv.write_credentials(SEED_USER)
    awsenv.write_config(role_config("").replace(SERIAL, SERIAL + "\x1b]0;title\x07"))
    child = awsenv.spawn(["--profile", "r", "--", "true"])
    child.expect_exact("Enter MFA code for ")
    child.expect_exact(": ")
    shown = child.before
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert "\x1b" not in shown and "\x07" not in shown, repr(shown)
    assert "\\x1B]0;title\\x07" in shown


@pytest.mark.parametrize("name", ["x\x1b[2Jy", "a\nb",
                                  "tab\there", "nul-free\x7fdel", "c1\u009bx"])
def test_control_characters_in_profile_name_option(awsenv, sts, name):
    awsenv.seed()
    r = run_bytes(awsenv, ["--profile", name, "--", "true"])
    assert r.returncode == 253
    assert_clean_text(r.stderr)
    assert r.stderr.count(b"\n") == 1  # one line, the name's newline escaped
    assert b"could not be found" in r.stderr


def test_control_characters_in_aws_profile_variable(awsenv, sts):
    awsenv.seed()
    r = run_bytes(awsenv, ["--", "true"], env_extra={"AWS_PROFILE": "p\x1b[8m"})
    assert r.returncode == 253
    assert_clean_text(r.stderr)


def test_verbose_output_escapes_profile_names(awsenv, sts):
    awsenv.write_config("[profile ev\x1bil]\naws_access_key_id = AKIAEXAMPLE000000001\n"
                        "aws_secret_access_key = s3cr3t\n")
    r = run_bytes(awsenv, ["-v", "--profile", "ev\x1bil", "--", "true"])
    assert r.returncode == 0, r.stderr
    assert_clean_text(r.stderr)


# ---- hostile profile names and the synthesized credentials file -------------------------------

READ_CREDENTIALS = r"""
import configparser, json, os
p = os.path.expanduser("~/.aws/credentials")
text = open(p).read()
c = configparser.ConfigParser(strict=True, interpolation=None)
c.read_string(text)
print(json.dumps({"text": text, "sections": {s: dict(c[s]) for s in c.sections()}}))
"""

# (header as written in the config, profile name): botocore splits `profile NAME` with
# shlex, so names with blanks are written quoted.
HOSTILE = [("a]b", "a]b"), ("[x", "[x"), ("semi;colon", "semi;colon"), ("hash#tag", "hash#tag"),
           ('"sp ace"', "sp ace"), ('"x = y"', "x = y"), ("x=y", "x=y"), ("default]", "default]"),
           ("ünïcode", "ünïcode"), ("ev\x1bil", "ev\x1bil"), ('"tab\tname"', "tab\tname")]


def test_hostile_profile_names_keep_the_credentials_file_parseable(awsenv, sts):
    awsenv.write_credentials(SEED_USER)
    awsenv.write_config("".join("[profile %s]\nrole_arn = %s\nsource_profile = cli-user\n"
                                "mfa_serial = %s\n" % (h, ROLE_ARN, SERIAL) for h, _ in HOSTILE))
    names = [n for _, n in HOSTILE]
    args = ["--profile", names[0]]
    for n in names[1:]:
        args += ["--also", n]
    r = awsenv.run(args + ["--mfa-code", awsenv.totp(), "--", PYTHON, "-c", READ_CREDENTIALS],
                   timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    sections = out["sections"]
    assert USER_KEY not in out["text"] and USER_SECRET not in out["text"]
    # Names a section header can carry are there; names with control characters are left
    # out (never written raw); no other section appears.
    expected = {"default"} | {n for n in names if n.isprintable()}
    assert set(sections) == expected, (sorted(sections), out["text"])
    keys = {s["aws_access_key_id"] for s in sections.values()}
    assert all(k.startswith("ASIA") for k in keys)
    assert sections["default"]["aws_access_key_id"] == sections["a]b"]["aws_access_key_id"]
    assert "\x1b" not in out["text"] and "\t" not in out["text"]
    for s in sections.values():
        assert set(s) >= {"aws_access_key_id", "aws_secret_access_key", "aws_session_token"}


def test_profile_name_with_newline_cannot_be_served(awsenv, sts):
    """A name with a newline cannot come from a config section; asked for, it is not
    found (and no file is written)."""
    awsenv.seed()
    r = awsenv.run(["--profile", "role-with-mfa", "--also", "x]\n[default", "--mfa-code",
                    awsenv.totp(), "--", "true"])
    assert r.returncode == 253
    assert "could not be found" in r.stderr


# ---- credential_process misbehaving ------------------------------------------------------------

def process_profile(awsenv, command):
    awsenv.write_config("[profile cp]\ncredential_process = %s\nregion = us-west-2\n" % command)


def script(awsenv, body):
    path = awsenv.tmp / "proc.sh"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


GOOD = ('{"Version": 1, "AccessKeyId": "AKIDPROC", "SecretAccessKey": "procsecret",'
        ' "SessionToken": "proctoken"}')


# A process that fails is 255 (as with the AWS CLI), or what it exited with when that is
# 253 or 254 (a nested awsrole-run or AWS CLI v2 telling a configuration error or an STS
# refusal); a process that succeeds but does not speak the protocol is a profile whose
# credential_process is wrong: 253.
@pytest.mark.parametrize("body,needle,status", [
    ("echo 'cannot reach the vault' >&2; exit 3\n", "cannot reach the vault", 255),
    ("exit 9\n", "status 9", 255),
    ("echo 'MFA code required' >&2; exit 253\n", "MFA code required", 253),
    ("echo 'An error occurred (AccessDenied)' >&2; exit 254\n", "AccessDenied", 254),
    ("kill -KILL $$\n", "signal 9", 255),
    ("echo 'not json at all'\n", "custom-process", 253),
    ("printf '\\x00\\x01\\x02\\xff'\n", "custom-process", 253),
    ("echo '%s'\n" % GOOD.replace('"Version": 1', '"Version": 2'), "Unsupported version '2'",
     253),
    ("echo '%s'\n" % GOOD.replace('"Version": 1', '"Version": "1"'), "Unsupported version",
     253),
    ("echo '%s'\n" % GOOD.replace('"Version": 1, ', ''), "Unsupported version", 253),
    ("echo '[1, 2]'\n", "custom-process", 253),
    ("echo '{\"Version\": 1, \"AccessKeyId\": \"A\"}'\n", "SecretAccessKey", 253),
    ("head -c 3000000 /dev/zero | tr '\\0' x\n", "custom-process", 255),
])
def test_credential_process_failures(awsenv, sts, body, needle, status):
    process_profile(awsenv, script(awsenv, body))
    r = run_bytes(awsenv, ["--profile", "cp", "--", "true"])
    assert r.returncode == status, r.stderr
    err = r.stderr.decode("utf-8", "replace")
    assert err.startswith("awsrole-run: Error when retrieving credentials from custom-process"), err
    assert needle in err, err
    assert_clean_text(r.stderr)
    assert len(r.stderr) < 8192


def test_credential_process_control_characters_in_stderr_are_escaped(awsenv, sts):
    process_profile(awsenv, script(awsenv, "printf 'bad \\033[2J\\007 thing' >&2; exit 1\n"))
    r = run_bytes(awsenv, ["--profile", "cp", "--", "true"])
    assert r.returncode == 255
    assert_clean_text(r.stderr)
    assert b"bad \\x1B[2J" in r.stderr


def proc_alive(marker):
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if marker.encode() in f.read():
                    return True
        except OSError:
            pass
    return False


def test_credential_process_that_hangs_is_killed_with_its_children(awsenv, sts):
    marker = "987.%d" % os.getpid()
    # A grandchild keeps stdout open: the launcher must not wait for EOF.
    process_profile(awsenv, script(awsenv, "sleep %s &\nsleep %s\n" % (marker, marker)))
    r = awsenv.run(["--profile", "cp", "--", "true"], env_extra={"AWSR_PROCESS_TIMEOUT_MS": "1500"},
                   timeout=60)
    assert r.returncode == 255, r.stderr  # a timeout
    assert "timed out" in r.stderr  # (the run's own timeout, 60 s, is far below the sleeps)
    deadline = time.time() + 5
    while proc_alive("sleep\0" + marker) and time.time() < deadline:
        time.sleep(0.1)
    assert not proc_alive("sleep\0" + marker)


def test_credential_process_good_output_works(awsenv, sts):
    """The control case for the failures above: the same script shape succeeds."""
    process_profile(awsenv, script(awsenv, "echo '%s'\n" % GOOD))
    j = export_json(awsenv, "cp")
    assert j["AccessKeyId"] == "AKIDPROC"
