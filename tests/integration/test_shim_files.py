"""The preload's file half: reads of ~/.aws/credentials (and $AWS_SHARED_CREDENTIALS_FILE)
are redirected to the tree's synthesized credentials file; every change through those paths
fails with EROFS; once the tree is gone the path reads as missing, never as the real file.

Runs the probes under tests/shimfiles/ (and real runtimes) through segwriter, the stand-in
launcher, with a HOME whose real credentials file holds fake long-term keys that must
never be seen. Binaries come from $AWSROLE_BUILD (default /work/main/build).
"""
import errno
import os
import re
import shutil
import subprocess
import time
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
# Every row `readcreds --modify` prints but its raw-syscall control.
MODIFY_CALLS = {"open_wronly", "open_rdwr", "open_trunc", "open_append", "open_creat",
                "open_creat_excl", "open64_rdwr", "openat_wronly", "openat64_rdwr",
                "openat_dirfd_rdwr", "creat", "fopen_w", "fopen_a", "fopen_rplus", "fopen_wx",
                "fopen64_w", "freopen_w", "freopen64_a", "rename_to", "rename_from",
                "renameat_to", "renameat2_to", "renameat2_exchange", "link_to", "link_from",
                "linkat_to", "symlink_to", "symlinkat_to", "unlink", "unlinkat", "remove",
                "truncate", "access_w", "access_rw", "faccessat_w", "euidaccess_w", "eaccess_w"}
EROFS_ROW = ["RC", "-1", str(errno.EROFS)]
NOTICE = ("awsrole-run: the AWS credentials file is read-only inside an awsrole-run tree "
          "(it shows the tree's temporary credentials); change it outside the tree\n")


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
    # W_OK asks whether the file may be changed: never, inside the tree.
    assert rows["access_w"] == EROFS_ROW
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
    assert rows["access_w"] == EROFS_ROW
    assert not real.exists()


def test_no_aws_directory_at_all(tmp_path):
    h = tmp_path / "bare"
    h.mkdir()
    path = h / ".aws" / "credentials"
    cp = in_tree(["/bin/cat", str(path)], h)
    assert_synthesized(cp.stdout)
    cp = in_tree(["/bin/sh", "-c", 'test -f "$HOME/.aws/credentials" && echo yes'], h)
    assert cp.stdout.strip() == "yes"


def assert_modifications_refused(cp, real, text):
    """Every modifying call of `readcreds --modify` failed with EROFS, the file (text, or
    None for missing) is as it was, no scratch file is left, and stderr said why once."""
    rows = parse(cp.stdout)
    assert set(rows) - {"raw_open_wronly"} == MODIFY_CALLS, set(rows) ^ MODIFY_CALLS
    wrong = {c: rows[c] for c in MODIFY_CALLS if rows[c] != EROFS_ROW}
    assert not wrong, wrong
    if text is None:
        assert not os.path.lexists(real)
    else:
        assert Path(real).read_text() == text
    assert not list(Path(real).parent.glob("*.awsr-*"))
    assert cp.stderr.count("awsrole-run:") == 1 and NOTICE in cp.stderr, cp.stderr


@pytest.mark.parametrize("variant", VARIANTS)
def test_modifications_are_refused_with_erofs(home, variant):
    """Defects 1 and 2: opens for writing or reading and writing, creat, fopen w/a/r+,
    rename and link to or from the file, symlink onto it, unlink, remove, truncate and
    W_OK checks fail with EROFS and change nothing (the real file holds long-term keys)."""
    probe = PROBES / variant
    need(probe)
    real = home / ".aws" / "credentials"
    assert_modifications_refused(in_tree([str(probe), "--modify", str(real)], home),
                                 real, REAL_TEXT)
    # Missing in reality: nothing may create it either.
    real.unlink()
    assert_modifications_refused(in_tree([str(probe), "--modify", str(real)], home),
                                 real, None)


def test_reads_still_served_after_a_refused_write(home):
    real = home / ".aws" / "credentials"
    probe = str(PROBES / "readcreds")
    script = f'{probe} --write "$1" "# appended\n"; echo "status $?"; cat "$1"'
    cp = in_tree(["/bin/sh", "-c", script, "sh", str(real)], home)
    assert real.read_text() == REAL_TEXT
    assert "status 1" in cp.stdout
    assert_synthesized(cp.stdout)
    assert "awsrole-run:" not in cp.stdout     # the notice goes to stderr only
    assert "Read-only file system" in cp.stderr


def test_real_editors_cannot_replace_the_file(home):
    """Defect 1 with real programs: sed -i (temp file + rename), ed (rewrite in place),
    Python read-then-write, r+ and O_RDWR, os.replace, shell redirections, cp, rm."""
    real = home / ".aws" / "credentials"
    script = r"""
import errno, os, sys
p = sys.argv[1]
def tries(name, fn):
    try:
        fn()
        print(name, "ok")
    except OSError as e:
        print(name, errno.errorcode[e.errno])
text = open(p).read()
tries("write", lambda: open(p, "w").write(text))
tries("rplus", lambda: open(p, "r+").write(text))
tries("append", lambda: open(p, "a").write(text))
tries("os_rdwr", lambda: os.open(p, os.O_RDWR))
tmp = p + ".new"
open(tmp, "w").write(text)
tries("replace", lambda: os.replace(tmp, p))
tries("rename_away", lambda: os.rename(p, p + ".bak"))
tries("remove", lambda: os.remove(p))
tries("chmod_ok_read", lambda: os.stat(p))
os.remove(tmp)
print("served", "ASIA" in text and "AKIALONG" not in text)
"""
    cp = in_tree(["/usr/bin/python3", "-c", script, str(real)], home)
    lines = dict(line.split(" ", 1) for line in cp.stdout.splitlines())
    assert lines == {"write": "EROFS", "rplus": "EROFS", "append": "EROFS",
                     "os_rdwr": "EROFS", "replace": "EROFS", "rename_away": "EROFS",
                     "remove": "EROFS", "chmod_ok_read": "ok", "served": "True"}, cp.stdout
    assert cp.stderr.count("awsrole-run:") == 1
    shell = ('sed -i "s/a/b/" "$1"; echo "sed $?"; '
             'printf ",s/a/b/\nw\nq\n" | ed -s "$1"; echo "ed $?"; '
             'echo x >> "$1"; echo "append $?"; cp /etc/hostname "$1"; echo "cp $?"; '
             'rm -f "$1"; echo "rm $?"; ln -sf /etc/hostname "$1"; echo "ln $?"; '
             'mv -f /dev/null "$1" 2>/dev/null; echo done')
    cp = in_tree(["/bin/sh", "-c", shell, "sh", str(real)], home, check=False)
    for tool in ("sed", "ed", "append", "cp", "rm", "ln"):
        assert re.search(r"^%s [1-9]" % tool, cp.stdout, re.M), (tool, cp.stdout, cp.stderr)
    assert real.read_text() == REAL_TEXT
    assert sorted(p.name for p in real.parent.iterdir()) == ["credentials"]


def test_aws_configure_set_leaves_the_long_term_keys(home):
    """The audit's case: `aws configure set` read the synthesized file and wrote it back
    over the real one. Now it fails and the real file keeps its keys."""
    need("/usr/bin/aws")
    real = home / ".aws" / "credentials"
    cp = in_tree(["/usr/bin/aws", "configure", "set", "aws_access_key_id", "AKIANEWVALUE0000",
                  "--profile", "default"], home, check=False)
    assert cp.returncode != 0
    assert real.read_text() == REAL_TEXT
    assert "read-only" in cp.stderr.lower() or "Read-only" in cp.stderr, cp.stderr


def test_dev_null_as_the_shared_file_stays_writable(home):
    """A non-regular file named by AWS_SHARED_CREDENTIALS_FILE is not protected: writes to
    /dev/null keep working in the tree and after it."""
    extra = {"AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    cp = in_tree(["/bin/sh", "-c", 'echo x > /dev/null && echo ok; exec 3>/dev/null && echo fd'],
                 home, extra)
    assert cp.stdout == "ok\nfd\n", cp.stderr
    assert "awsrole-run:" not in cp.stderr


def wait_for(path, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().endswith("END\n"):
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError("no output in %s" % path)


def test_process_outliving_the_tree_never_reads_the_real_file(home, tmp_path):
    """Defect 3: a background job started after the launcher ended (AWSROLE_SEGMENT set, its
    segment gone), and a process that was served before the end (even after removing
    AWSROLE_SEGMENT from its environment), see the credentials path as missing: ENOENT
    for opens and stats, EROFS for changes, never the long-term keys."""
    real = home / ".aws" / "credentials"
    late, early = tmp_path / "late.out", tmp_path / "early.out"
    py = r"""
import errno, os, sys, time
p = os.path.expanduser("~/.aws/credentials")
def tries(name, fn):
    try:
        r = fn()
        print(name, "LEAK" if "AKIALONG" in str(r) else "ok", flush=True)
    except OSError as e:
        print(name, errno.errorcode[e.errno], flush=True)
if sys.argv[1] == "early":
    tries("before", lambda: open(p).read())
    del os.environ["AWSROLE_SEGMENT"]
    time.sleep(1.5)               # the launcher ends meanwhile
tries("read", lambda: open(p).read())
tries("stat", lambda: os.stat(p))
tries("isfile", lambda: os.path.isfile(p) or (_ for _ in ()).throw(OSError(errno.ENOENT, "")))
tries("write", lambda: open(p, "a"))
print("END")
"""
    # The tree lasts until the early process has read once (not a race with its start-up).
    script = ('(/usr/bin/python3 -c "$1" early > "$2" 2>&1 &) ; '
              'i=0; while [ $i -lt 400 ] && ! grep -q "^before" "$2" 2>/dev/null; do '
              'sleep 0.05; i=$((i+1)); done; '
              '(sleep 1; /usr/bin/python3 -c "$1" late > "$3" 2>&1; '
              ' cat ~/.aws/credentials >> "$3" 2>&1; echo END >> "$3") </dev/null &')
    in_tree(["/bin/sh", "-c", script, "sh", py, str(early), str(late)], home)
    e = [l for l in wait_for(early).splitlines() if not l.startswith("awsrole-run:")]
    assert e == ["before ok", "read ENOENT", "stat ENOENT", "isfile ENOENT", "write EROFS",
                 "END"], e
    text = wait_for(late)
    assert "AKIALONG" not in text and "No such file or directory" in text, text
    lines = [l for l in text.splitlines() if not l.startswith("awsrole-run:")]
    assert lines[:4] == ["read ENOENT", "stat ENOENT", "isfile ENOENT",
                                     "write EROFS"], text
    assert real.read_text() == REAL_TEXT


def test_variables_in_the_shared_file_path(home, tmp_path):
    """Defect 4: $VAR and ${VAR} in AWS_SHARED_CREDENTIALS_FILE are expanded as botocore
    and the launcher do (expandvars, then expanduser); unknown variables stay as written."""
    alt = home / ".aws" / "altcreds"
    alt.write_text(REAL_TEXT)
    for value, extra in (("$HOME/.aws/altcreds", {}),
                         ("${AWSR_T_DIR}/altcreds", {"AWSR_T_DIR": str(home / ".aws")}),
                         ("$AWSR_T_TILDE/.aws/altcreds", {"AWSR_T_TILDE": "~"})):
        env = {"AWS_SHARED_CREDENTIALS_FILE": value, **extra}
        rows = parse(in_tree([str(PROBES / "readcreds"), str(alt)], home, env).stdout)
        assert_probe_redirected(rows, real_ino=alt.stat().st_ino)
        cp = in_tree([str(PROBES / "readcreds"), "--modify", str(alt)], home, env)
        assert_modifications_refused(cp, alt, REAL_TEXT)
    # An unknown variable is kept literally: a directory really named "$AWSR_T_UNSET".
    lit = tmp_path / "$AWSR_T_UNSET"
    lit.mkdir()
    (lit / "c.ini").write_text(REAL_TEXT)
    cp = in_tree(["/bin/cat", "$AWSR_T_UNSET/c.ini"], home,
                 {"AWS_SHARED_CREDENTIALS_FILE": "$AWSR_T_UNSET/c.ini"}, cwd=tmp_path)
    assert_synthesized(cp.stdout)
    assert alt.read_text() == REAL_TEXT


def test_symlinked_credentials_file(home, tmp_path):
    """Defect 5: ~/.aws/credentials is a symlink (dotfile managers): the canonical path
    that realpath(), readlink -f, Node's realpathSync hand out is served and protected."""
    dots = tmp_path / "dotfiles" / "aws"
    dots.mkdir(parents=True)
    target = dots / "aws-credentials"
    target.write_text(REAL_TEXT)
    hop = tmp_path / "dotfiles" / "hop"
    hop.symlink_to("aws/aws-credentials")          # relative, two levels
    real = home / ".aws" / "credentials"
    real.unlink()
    real.symlink_to(hop)
    cp = in_tree(["/bin/sh", "-c", 'cat "$(readlink -f ~/.aws/credentials)"'], home)
    assert_synthesized(cp.stdout)
    cp = in_tree(["/usr/bin/python3", "-c",
                  "import os;print(open(os.path.realpath(os.path.expanduser("
                  "'~/.aws/credentials'))).read())"], home)
    assert_synthesized(cp.stdout)
    rows = parse(in_tree([str(PROBES / "readcreds"), str(target)], home).stdout)
    assert_probe_redirected(rows, real_ino=target.stat().st_ino)
    for path in (target, real):
        cp = in_tree([str(PROBES / "readcreds"), "--modify", str(path)], home)
        assert_modifications_refused(cp, path, REAL_TEXT)
    if Path("/usr/bin/node").exists():
        cp = in_tree(["/usr/bin/node", "-e",
                      "const fs=require('fs');process.stdout.write(fs.readFileSync("
                      "fs.realpathSync(require('os').homedir()+'/.aws/credentials'),'utf8'))"],
                     home)
        assert_synthesized(cp.stdout)
    # A symlinked AWS_SHARED_CREDENTIALS_FILE too.
    shared = tmp_path / "shared.ini"
    shared.symlink_to(target)
    cp = in_tree(["/bin/sh", "-c", 'cat "$(readlink -f "$AWS_SHARED_CREDENTIALS_FILE")"'],
                 home, {"AWS_SHARED_CREDENTIALS_FILE": str(shared)})
    assert_synthesized(cp.stdout)
    assert target.read_text() == REAL_TEXT and real.is_symlink()


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
    # The one call allowed: the shim's own readlinkat, asking once per process whether the
    # file is a symlink (EINVAL: it is not). It reads nothing.
    text = "\n".join(l for l in trace.read_text().splitlines()
                     if not re.search(r"readlinkat\(.*= -1 EINVAL", l))
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
