"""Fixtures shared by every integration test: the mock STS and a clean AWS environment.

    sts          a started MockSTS (http) with the seed scenario, stopped after the test
    sts_https    the same over HTTPS; .ca_file is the throwaway CA that signed it
    mock_certs   (session) the CertBundle: ca_file, cert_file, key_file, wrong_ca_file
    awsenv       an AwsEnv bound to `sts` (see the class)
    make_awsenv  factory: make_awsenv(mock) -> AwsEnv bound to another mock (e.g. sts_https)
"""

import os
import pathlib
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "mock_sts"))

import mock_sts  # noqa: E402
from mock_sts import MockSTS, SEED_MFA_SERIAL, SEED_USER_KEY, SEED_USER_SECRET  # noqa: E402

BUILD = os.environ.get("AWSROLE_BUILD", "/work/main/build")
VALGRIND = os.environ.get("AWSROLE_VALGRIND") == "1"


def sanitized(path):
    """True for a binary built with ASan, UBSan or TSan (check-asan links them statically)."""
    out = ""
    for args in (["nm", "-D", "--defined-only", path], ["nm", path]):
        out += subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True).stdout
    return "__asan_init" in out or "__ubsan_handle" in out or "__tsan_init" in out


SANITIZED = os.path.exists(os.path.join(BUILD, "awsrole-run")) and \
    sanitized(os.path.join(BUILD, "awsrole-run"))
VALGRIND_CMD = ["valgrind", "--error-exitcode=99", "--leak-check=full",
                "--errors-for-leak-kinds=definite", "-q"]

# The three profiles exactly as the seed document shows them (note `role_arn= arn:...`).
SEED_CONFIG = """\
[profile role-without-mfa]
region = us-west-2
role_arn= arn:aws:iam::128716708097:role/cli-role
source_profile=cli-user

[profile role-with-mfa]
region = us-west-2
role_arn= arn:aws:iam::128716708097:role/cli-role
source_profile = cli-user
mfa_serial = arn:aws:iam::128716708097:mfa/cli-user

[profile anika]
region = us-west-2
output = json
"""

SEED_CREDENTIALS = """\
[cli-user]
aws_access_key_id = %s
aws_secret_access_key = %s
""" % (SEED_USER_KEY, SEED_USER_SECRET)


def clean_env(home, tmp, extra=None):
    """A minimal environment: nothing AWS_* or proxy-related is inherited. PAGER=cat keeps
    the aws CLI (which falls back to $PAGER, else `less`) from paging on a pseudo-terminal."""
    cache = os.path.join(tmp, "xdg-cache")
    runtime = os.path.join(tmp, "xdg-runtime")
    os.makedirs(cache, exist_ok=True)
    os.makedirs(runtime, mode=0o700, exist_ok=True)
    os.chmod(runtime, 0o700)
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": home,
        "XDG_CACHE_HOME": cache,
        "XDG_RUNTIME_DIR": runtime,
        "LANG": "C.UTF-8",
        # Programs in the tree (the aws CLI) must not page their output on the pty.
        "PAGER": "cat",
    }
    env.update(extra or {})
    return env


class AwsEnv:
    """A throwaway HOME with ~/.aws, an environment pointing STS at the mock, and helpers
    that run the launcher.

    .home .tmp .config_path .credentials_path (pathlib.Path), .env (dict of str),
    .sts (the MockSTS), .bin .shim (str paths)
    .write_config(text) .write_credentials(text) .seed()
    .totp(serial=SEED_MFA_SERIAL, offset_steps=0)
    .run(args, env_extra=None, input=None, timeout=30) -> subprocess.CompletedProcess (text)
    .spawn(args, env_extra=None) -> pexpect.spawn (encoding utf-8, timeout 20)
    """

    def __init__(self, tmp_path, sts):
        self.tmp = pathlib.Path(tmp_path)
        self.sts = sts
        self.home = self.tmp / "home"
        (self.home / ".aws").mkdir(parents=True, exist_ok=True)
        self.env = clean_env(str(self.home), str(self.tmp), {"AWS_ENDPOINT_URL_STS": sts.url})
        self.bin = os.path.join(BUILD, "awsrole-run")
        # Under valgrind, the statically linked launcher's memory checks would be blind (no
        # malloc to replace) and its hand-over would leave valgrind: run its dynamically
        # linked twin, the same program, instead (shim/front.h).
        full = os.path.join(BUILD, "awsrole-run-full")
        if VALGRIND and os.path.exists(full):
            self.bin = full
        self.shim = os.path.join(BUILD, "libawsrole-shim.so")
        self.config_path = self.home / ".aws" / "config"
        self.credentials_path = self.home / ".aws" / "credentials"

    def _write(self, path, text):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return path

    def write_config(self, text):
        return self._write(self.config_path, text)

    def write_credentials(self, text):
        return self._write(self.credentials_path, text)

    def seed(self):
        """The seed document's config plus [cli-user] credentials with anika's keys."""
        self.write_config(SEED_CONFIG)
        self.write_credentials(SEED_CREDENTIALS)

    def totp(self, serial=SEED_MFA_SERIAL, offset_steps=0):
        """A code the mock accepts and that was not handed out or used before."""
        return self.sts.totp_code(serial, offset_steps)

    def _env(self, env_extra):
        env = dict(self.env)
        for k, v in (env_extra or {}).items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = str(v)
        return env

    def _argv(self, args):
        argv = [self.bin] + [str(a) for a in args]
        return VALGRIND_CMD + argv if VALGRIND else argv

    def run(self, args, env_extra=None, input=None, timeout=30):
        """Runs the launcher without a terminal (new session, stdin closed unless input)."""
        if VALGRIND:
            timeout *= 10
        return subprocess.run(
            self._argv(args), env=self._env(env_extra), cwd=self.tmp,
            input=input, stdin=subprocess.DEVNULL if input is None else None,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
            timeout=timeout, start_new_session=True)

    def spawn(self, args, env_extra=None):
        """Runs the launcher on a real pseudo-terminal."""
        import pexpect
        argv = self._argv(args)
        return pexpect.spawn(argv[0], argv[1:], env=self._env(env_extra), cwd=self.tmp,
                             encoding="utf-8", timeout=200 if VALGRIND else 20)

    def run_prompted(self, args):
        """Runs the launcher on a pseudo-terminal with a command that prints the key it got,
        answers the MFA prompt with a fresh code; returns (key, exit status)."""
        import pexpect
        child = self.spawn(args + ["--", "sh", "-c", "echo KEY=$AWS_ACCESS_KEY_ID"])
        child.expect_exact("Enter MFA code for %s: " % SEED_MFA_SERIAL)
        child.sendline(self.totp())
        child.expect(r"KEY=(ASIA\w+)")
        key = child.match.group(1)
        child.expect(pexpect.EOF)
        child.close()
        return key, child.exitstatus


@pytest.fixture(scope="session")
def mock_certs(tmp_path_factory):
    return mock_sts.ensure_certs(str(tmp_path_factory.mktemp("mock-certs")))


@pytest.fixture
def sts(mock_certs):
    mock = MockSTS(scenario="seed", cert_dir=mock_certs.dir).start()
    try:
        yield mock
    finally:
        mock.stop()


@pytest.fixture
def sts_https(mock_certs):
    mock = MockSTS(scenario="seed", https=True, cert_dir=mock_certs.dir).start()
    try:
        yield mock
    finally:
        mock.stop()


@pytest.fixture
def awsenv(tmp_path, sts):
    return AwsEnv(tmp_path, sts)


@pytest.fixture
def make_awsenv(tmp_path):
    made = []

    def make(mock):
        made.append(mock)
        return AwsEnv(tmp_path / ("env%d" % len(made)), mock)
    return make
