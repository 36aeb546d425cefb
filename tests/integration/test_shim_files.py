"""The preload's file half: reads of ~/.aws/credentials (and $AWS_SHARED_CREDENTIALS_FILE)
are redirected to the tree's synthesized credentials file.

Runs the probes under tests/shimfiles/ (and real runtimes) through segwriter, the stand-in
launcher, with a HOME whose real credentials file holds fake long-term keys that must
never be seen. Binaries come from $AWSROLE_BUILD (default /work/main/build).
"""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

BUILD = Path(os.environ.get("AWSROLE_BUILD", "/work/main/build"))
PROBES = BUILD / "probes"
SHIM = BUILD / "libawsrole-shim.so"
SEGWRITER = PROBES / "segwriter"

AKID = "ASIAFILESHIMTEST0001"
SECRET = "tempSecretFromTheSegment"
TOKEN = "tempTokenFromTheSegment"
PROFILE = "dev"
LONG_AKID = "AKIALONGTERMKEY00001"
LONG_SECRET = "longTermSecretNeverToBeSeen"
REAL_TEXT = f"[default]\naws_access_key_id = {LONG_AKID}\naws_secret_access_key = {LONG_SECRET}\n"

VARIANTS = ["readcreds", "readcreds64", "readcreds-fortify", "readcreds-fortify64"]
# The entry points each variant must import (so that the run below exercises them).
VARIANT_IMPORTS = {
    "readcreds": {"open", "open64", "openat", "openat64", "fopen", "fopen64", "freopen",
                  "freopen64", "stat", "stat64", "lstat", "lstat64", "fstatat", "fstatat64",
                  "statx", "access", "faccessat", "euidaccess", "eaccess"},
    "readcreds64": {"open64", "openat64", "fopen64", "freopen64", "stat64", "lstat64",
                    "fstatat64", "statx"},
    "readcreds-fortify": {"__open_2", "__openat_2", "__open64_2", "__openat64_2"},
    "readcreds-fortify64": {"__open64_2", "__openat64_2"},
}
OPEN_CALLS = {"open", "open_cloexec", "open64", "openat", "openat64", "openat_dirfd",
              "openat64_dirfd", "fopen", "fopen_re", "fopen64", "freopen", "freopen64"}
STAT_CALLS = {"stat", "stat64", "lstat", "lstat64", "fstatat", "fstatat64",
              "fstatat_dirfd", "statx", "statx_dirfd"}
READ_ACCESS_CALLS = {"access_f", "access_r", "faccessat", "faccessat_dirfd", "euidaccess",
                     "eaccess"}


def need(*paths):
    for p in paths:
        if not Path(p).exists():
            pytest.skip(f"{p} not built (make probes)")


@pytest.fixture
def home(tmp_path):
    """A HOME with a real credentials file holding fake long-term keys."""
    h = tmp_path / "home"
    (h / ".aws").mkdir(parents=True)
    (h / ".aws" / "credentials").write_text(REAL_TEXT)
    return h


def run_env(home_dir, extra=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "AWSROLE_", "SEGW_")) and k != "LD_PRELOAD"}
    env["HOME"] = str(home_dir)
    env["AWSROLE_SHIM"] = str(SHIM)
    if extra:
        env.update(extra)
    return env


def in_tree(cmd, home_dir, extra_env=None, cwd=None, seg_args=(), check=True):
    """Runs cmd under segwriter (segment + LD_PRELOAD), returns the CompletedProcess."""
    need(SEGWRITER, SHIM)
    full = [str(SEGWRITER), "--akid", AKID, "--secret", SECRET, "--token", TOKEN,
            "--profile", PROFILE, *seg_args, "--", *cmd]
    cp = subprocess.run(full, env=run_env(home_dir, extra_env), cwd=cwd,
                        capture_output=True, text=True, timeout=60)
    if check:
        assert cp.returncode == 0, cp.stderr
    return cp


def parse(out):
    rows = {}
    for line in out.splitlines():
        f = line.split("\t")
        rows[f[0]] = f[1:]
    return rows


def content(row):
    return bytes.fromhex(row[5]).decode()


def assert_synthesized(text):
    assert AKID in text and SECRET in text and TOKEN in text
    assert "[default]" in text and f"[{PROFILE}]" in text
    assert LONG_AKID not in text and LONG_SECRET not in text


def assert_probe_redirected(rows, real_ino=None):
    """Every open saw the synthesized file consistently; stats and access agree."""
    inodes = set()
    for call in OPEN_CALLS:
        r = rows[call]
        assert r[0] == "OK", (call, r)
        size, ino, mmap_ok, got = int(r[1]), int(r[2]), r[3], int(r[4])
        assert size == got, f"{call}: fstat size {size} != bytes read {got}"
        assert mmap_ok == "1", f"{call}: mmap disagrees with read"
        assert_synthesized(content(r))
        inodes.add(ino)
        size_seen = size
    assert len(inodes) == 1, "all opens reached one file"
    (ino,) = inodes
    if real_ino is not None:
        assert ino != real_ino
    for call in STAT_CALLS:
        r = rows[call]
        assert r[0] == "OK", (call, r)
        assert (int(r[1]), int(r[2]), r[3]) == (size_seen, ino, "1"), call
    for call in READ_ACCESS_CALLS:
        assert rows[call][:2] == ["RC", "0"], (call, rows[call])
    return ino


@pytest.mark.parametrize("variant", VARIANTS)
def test_probe_variants_see_synthesized_file(home, variant):
    probe = PROBES / variant
    need(probe)
    nm = subprocess.run(["nm", "-D", "--undefined-only", str(probe)], capture_output=True,
                        text=True, check=True).stdout
    imported = {line.split()[-1].split("@")[0] for line in nm.splitlines() if line.strip()}
    assert VARIANT_IMPORTS[variant] <= imported, VARIANT_IMPORTS[variant] - imported

    real = home / ".aws" / "credentials"
    rows = parse(in_tree([str(probe), str(real)], home).stdout)
    assert_probe_redirected(rows, real_ino=real.stat().st_ino)
    # W_OK is a question about the real file, where writes go.
    assert rows["access_w"][:2] == ["RC", "0"]
    assert real.read_text() == REAL_TEXT


def test_legacy_xstat_entry_points(home):
    probe = PROBES / "readcreds-xstat"
    need(probe)
    real = home / ".aws" / "credentials"
    rows = parse(in_tree([str(probe), str(real)], home).stdout)
    # Reference: what the modern stat reports for the synthesized file in the same tree.
    ref = parse(in_tree([str(PROBES / "readcreds"), str(real)], home).stdout)["stat"]
    for call in ("__xstat", "__xstat64", "__lxstat", "__lxstat64", "__fxstatat",
                 "__fxstatat64"):
        r = rows[call]
        assert r[0] == "OK", (call, r)
        assert r[3] == "1" and int(r[2]) != real.stat().st_ino, call
        # Each segwriter run writes a new file: compare sizes, not inodes.
        assert int(r[1]) == int(ref[1]), call
    assert rows["__xstat"][1:] == rows["__lxstat64"][1:] == rows["__fxstatat"][1:]


def test_file_absent_in_reality_is_present_through_shim(home):
    real = home / ".aws" / "credentials"
    real.unlink()
    rows = parse(in_tree([str(PROBES / "readcreds"), str(real)], home).stdout)
    assert_probe_redirected(rows)
    assert rows["access_w"][:2] == ["RC", "-1"]      # the real file does not exist
    assert not real.exists()


def test_no_aws_directory_at_all(tmp_path):
    h = tmp_path / "bare"
    h.mkdir()
    path = h / ".aws" / "credentials"
    cp = in_tree(["/bin/cat", str(path)], h)
    assert_synthesized(cp.stdout)
    cp = in_tree(["/bin/sh", "-c", 'test -f "$HOME/.aws/credentials" && echo yes'], h)
    assert cp.stdout.strip() == "yes"


def test_writes_go_to_the_real_file(home):
    real = home / ".aws" / "credentials"
    probe = str(PROBES / "readcreds")
    script = f'{probe} --write "$1" "# appended\n" && cat "$1"'
    cp = in_tree(["/bin/sh", "-c", script, "sh", str(real)], home)
    assert real.read_text() == REAL_TEXT + "# appended\n" * 2
    # Reads in the same tree still see the synthesized file, not the edit.
    assert_synthesized(cp.stdout)
    assert "# appended" not in cp.stdout


def test_symlinked_home(home, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(home)
    probe = str(PROBES / "readcreds")
    for spelling in (link / ".aws" / "credentials", home / ".aws" / "credentials",
                     Path(str(home) + "/.aws/../.aws/credentials")):
        rows = parse(in_tree([probe, str(spelling)], link).stdout)
        assert_probe_redirected(rows, real_ino=(home / ".aws" / "credentials").stat().st_ino)


def test_relative_paths_and_dirfd(home):
    probe = str(PROBES / "readcreds")
    for cwd, rel in ((home, ".aws/credentials"), (home, "./.aws/./credentials"),
                     (home / ".aws", "credentials"), (home / ".aws", "../.aws/credentials")):
        rows = parse(in_tree([probe, rel], home, cwd=cwd).stdout)
        assert_probe_redirected(rows)
        assert rows["openat_dirfd"][0] == "OK"


def test_unrelated_file_named_credentials_is_untouched(home, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "credentials").write_text(REAL_TEXT)
    (home / ".aws" / "config").write_text("[default]\nregion = eu-west-1\n")
    cp = in_tree(["/bin/cat", str(other / "credentials"), str(home / ".aws" / "config")], home)
    assert cp.stdout == REAL_TEXT + "[default]\nregion = eu-west-1\n"


def test_shared_credentials_file_elsewhere(home, tmp_path):
    shared = tmp_path / "etc" / "shared.ini"
    shared.parent.mkdir()
    shared.write_text(REAL_TEXT)
    extra = {"AWS_SHARED_CREDENTIALS_FILE": str(shared)}
    rows = parse(in_tree([str(PROBES / "readcreds"), str(shared)], home, extra).stdout)
    assert_probe_redirected(rows, real_ino=shared.stat().st_ino)
    # The default file is redirected too (programs that ignore the variable).
    cp = in_tree(["/bin/cat", str(home / ".aws" / "credentials")], home, extra)
    assert_synthesized(cp.stdout)
    # "~/" in the variable is expanded with HOME, as botocore does.
    (home / "mine.ini").write_text(REAL_TEXT)
    cp = in_tree(["/bin/cat", str(home / "mine.ini")], home,
                 {"AWS_SHARED_CREDENTIALS_FILE": "~/mine.ini"})
    assert_synthesized(cp.stdout)
    assert shared.read_text() == REAL_TEXT


def test_shared_credentials_file_set_by_the_program_itself(home, tmp_path):
    """A program that points AWS_SHARED_CREDENTIALS_FILE at a file of its own after start-up
    (the shim's path cache was built at its first open) still reads the tree's credentials
    there; setting it back, and unrelated files, behave as before."""
    mine = tmp_path / "elsewhere" / "my-keys.ini"
    mine.parent.mkdir()
    mine.write_text(REAL_TEXT)
    script = r"""
import os, sys
mine = sys.argv[1]
print("before", open(mine).read() == open(os.devnull).read() + %r)
os.environ["AWSR_TEST_OTHER"] = "x"  # environ changes, the variable does not
print("other", open(mine).read() == %r)
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = mine
text = open(mine).read()
print("after", "ASIA" in text and "AKIALONG" not in text)
print("size", os.stat(mine).st_size == len(text.encode()))
del os.environ["AWS_SHARED_CREDENTIALS_FILE"]
print("unset", open(mine).read() == %r)
""" % (REAL_TEXT, REAL_TEXT, REAL_TEXT)
    cp = in_tree(["/usr/bin/python3", "-c", script, str(mine)], home)
    lines = dict(line.split(" ", 1) for line in cp.stdout.splitlines())
    assert lines == {"before": "True", "other": "True", "after": "True", "size": "True",
                     "unset": "True"}, \
        cp.stdout + cp.stderr
    assert mine.read_text() == REAL_TEXT


def test_without_segment_everything_passes_through(home):
    need(SHIM)
    env = run_env(home, {"LD_PRELOAD": str(SHIM)})
    cp = subprocess.run(["/bin/cat", str(home / ".aws" / "credentials")], env=env,
                        capture_output=True, text=True, timeout=30, check=True)
    assert cp.stdout == REAL_TEXT


def test_library_constructor_before_shim(home):
    probe = PROBES / "earlyopen"
    need(probe)
    real = home / ".aws" / "credentials"
    rows = parse(in_tree([str(probe)], home, {"AWSR_PROBE_PATH": str(real)}).stdout)
    for tag in ("ctor_open", "main_open"):
        assert rows[tag][0] == "OK", rows
        text = bytes.fromhex(rows[tag][1]).decode()
        assert_synthesized(text)


def test_python(home):
    script = r"""
import os, subprocess, sys
p = os.path.expanduser("~/.aws/credentials")
text = open(p).read()
st = os.stat(p)
print("isfile", os.path.isfile(p))
print("size", st.st_size == len(text.encode()))
print("open", "ASIA" in text and "AKIALONG" not in text)
child = subprocess.run(["/bin/cat", p], capture_output=True, text=True, close_fds=True).stdout
print("child", child == text)
child = subprocess.run([sys.executable, "-c", "import os;print(open(os.path.expanduser('~/.aws/credentials')).read(), end='')"],
                       capture_output=True, text=True, close_fds=True).stdout
print("pychild", child == text)
import configparser
c = configparser.ConfigParser(); c.read(p)
print("akid", c["default"]["aws_access_key_id"])
"""
    cp = in_tree(["/usr/bin/python3", "-c", script], home)
    lines = dict(line.split(" ", 1) for line in cp.stdout.splitlines())
    assert lines == {"isfile": "True", "size": "True", "open": "True", "child": "True",
                     "pychild": "True", "akid": AKID}, cp.stdout


def test_node(home):
    need("/usr/bin/node")
    script = r"""
const fs = require('fs'), p = require('os').homedir() + '/.aws/credentials';
const t = fs.readFileSync(p, 'utf8');
console.log(JSON.stringify({exists: fs.existsSync(p), text: t}));
"""
    (home / ".aws" / "credentials").unlink()
    cp = in_tree(["/usr/bin/node", "-e", script], home)
    import json
    out = json.loads(cp.stdout)
    assert out["exists"] is True
    assert_synthesized(out["text"])


def test_bash_and_perl(home):
    cp = in_tree(["/bin/bash", "-c", 'printf "%s\\n" "$(<~/.aws/credentials)"; echo ---; cat ~/.aws/credentials'],
                 home)
    first, second = cp.stdout.split("---\n")
    assert_synthesized(first)
    assert_synthesized(second)
    need("/usr/bin/perl")
    cp = in_tree(["/usr/bin/perl", "-e",
                  'open(my $f, "<", "$ENV{HOME}/.aws/credentials") or die $!; print <$f>;'
                  'print -f "$ENV{HOME}/.aws/credentials" ? "isfile\\n" : "nofile\\n"'], home)
    assert_synthesized(cp.stdout)
    assert cp.stdout.endswith("isfile\n")


def test_strace_real_path_never_reaches_kernel(home, tmp_path):
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace not installed")
    real = home / ".aws" / "credentials"
    trace = tmp_path / "trace"
    cmd = [strace, "-f", "-qq", "-o", str(trace), "-e", "trace=%file",
           "/usr/bin/python3", "-c",
           "import os,subprocess;p=os.path.expanduser('~/.aws/credentials');"
           "open(p).read();os.stat(p);os.path.isfile(p);subprocess.run(['/bin/cat',p],stdout=subprocess.DEVNULL)"]
    need(SEGWRITER)
    full = [str(SEGWRITER), "--akid", AKID, "--", *cmd]
    subprocess.run(full, env=run_env(home), check=True, timeout=60, capture_output=True)
    text = trace.read_text()
    assert "/.aws/credentials" not in text, [l for l in text.splitlines()
                                             if "/.aws/credentials" in l]
    # ... while the synthesized file is what the kernel was asked for.
    assert "credentials" in text


def test_static_binary_sees_the_real_file(home):
    """Documented limit: a static binary has no loader, so no preload; it reads the real
    file (it is reached only through the environment variables)."""
    probe = PROBES / "readcreds-static"
    need(probe)
    rows = parse(in_tree([str(probe), str(home / ".aws" / "credentials")], home).stdout)
    assert content(rows["open"]) == REAL_TEXT


def test_refresh_is_seen_by_new_opens(home):
    """The launcher replaces the file atomically: every read is one whole generation,
    and a later open sees a later generation."""
    script = r"""
import os, re, time
p = os.path.expanduser("~/.aws/credentials")
seen = set()
for _ in range(4000):
    t = open(p).read()
    keys = {int(g) for g in re.findall(r"aws_access_key_id = ASIAGEN(\d+)", t)}
    secrets = {int(g) for g in re.findall(r"aws_secret_access_key = secret/(\d+)/", t)}
    assert len(keys) == 1 and keys == secrets, t
    seen |= keys
    if len(seen) >= 2:
        break
    time.sleep(0.005)
print(len(seen))
"""
    cp = in_tree(["/usr/bin/python3", "-c", script], home,
                 seg_args=("--flip-us", "20000"))
    assert int(cp.stdout.strip()) >= 2, cp.stdout
