"""Security properties of the real launcher, each with a test: secrets never in argv, logs or
messages; the MFA code never stored or handed to the child; private cache and segment; a
hostile cache directory refused; no symlink games; nothing left behind; MADV_DONTDUMP and a
non-dumpable launcher; the shim inert in AT_SECURE processes.

Covered elsewhere (not repeated here): cache 0700/0600 after a run
(test_launcher.py::test_cache_files_are_private); a segment with a foreign mode, a missing
segment, and the cleanup paths of the stand-in writer (test_shim_env.py); a foreign owner,
bad magic/version/size and the AT_SECURE branch of the reader (tests/unit/test_segment.c);
random segment bytes (tests/fuzz/fuzz_segment_reader.c). Temporary files have random names
(O_EXCL|O_NOFOLLOW in resolver/cache.c and shim/segment.c): a symlink cannot be planted at a
name nobody knows, so the planted-link tests target the fixed names (entries, locks, the
cache directory itself)."""
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "mock_sts"))
import mock_sts  # noqa: E402

SERIAL = mock_sts.SEED_MFA_SERIAL
LONG_SECRET = mock_sts.SEED_USER_SECRET
NOBODY = 65534
IS_ROOT = os.geteuid() == 0


def secrets_of(sts):
    """Every secret value the mock handed out, plus the long-term secret key."""
    out = {LONG_SECRET}
    for c in sts.issued:
        out.add(c["SecretAccessKey"])
        out.add(c["SessionToken"])
    return out


def session_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[3])


def all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def read_proc(pid, name):
    try:
        with open("/proc/%d/%s" % (pid, name), "rb") as f:
            return f.read()
    except OSError:
        return b""


def tree_pids(leader):
    pids = []
    for pid in all_pids():
        try:
            if session_of(pid) == leader:
                pids.append(pid)
        except (OSError, IndexError, ValueError):
            pass
    return pids


class Tree:
    """The launcher running `sh -c 'echo ready SEG; exec sleep 60'` in its own session."""

    def __init__(self, awsenv, args, env_extra=None, user=None):
        env = dict(awsenv.env)
        env.update(env_extra or {})
        script = 'echo "ready $AWSROLE_SEGMENT"; exec sleep 60'
        argv = [awsenv.bin] + args + ["--", "sh", "-c", script]
        if user is not None:
            argv = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + argv
        self.p = subprocess.Popen(argv, env=env, cwd="/", stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                  start_new_session=True, text=True)
        line = self.p.stdout.readline().split()
        assert line and line[0] == "ready", self.p.stderr.read()
        self.segment = line[1] if len(line) > 1 else ""
        self.launcher = self.p.pid
        self.child = self._child()
        self._wait_for_sleep()

    def _wait_for_sleep(self):
        """Until `exec sleep` is over and the preload library has mapped the segment:
        /proc of a process in the middle of execve shows an empty environment and none
        of the new image's mappings."""
        for _ in range(200):
            try:
                done = os.readlink("/proc/%d/exe" % self.child).endswith("/sleep") and (
                    not self.segment or self.segment in read_proc(self.child, "maps").decode())
            except OSError:
                done = False
            if done:
                return
            time.sleep(0.05)
        raise AssertionError("the tree's child never became `sleep` with the segment mapped")

    def _child(self):
        for _ in range(100):
            kids = read_proc(self.launcher, "task/%d/children" % self.launcher).split()
            if kids:
                return int(kids[0])
            time.sleep(0.05)
        raise AssertionError("no child")

    def kill(self, sig=signal.SIGKILL, group=True):
        try:
            if group:
                os.killpg(self.launcher, sig)
            else:
                os.kill(self.launcher, sig)
        except ProcessLookupError:
            pass

    def finish(self):
        """Ends the tree the way a user would (SIGTERM to the launcher, which forwards it
        and removes its segment and directory), then kills whatever is left."""
        self.kill(signal.SIGTERM, group=False)
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.kill()
        self.p.wait(timeout=20)
        self.p.stdout.close()
        self.p.stderr.close()


@pytest.fixture
def tree_factory():
    made = []

    def make(*a, **kw):
        t = Tree(*a, **kw)
        made.append(t)
        return t
    yield make
    for t in made:
        if t.p.poll() is None:
            t.finish()


# ---- argv, environment, logs, messages ---------------------------------------------------

@pytest.mark.parametrize("how", ["option", "variable", "mfa_process"])
def test_secrets_and_code_never_in_argv_or_child_environment(awsenv, sts, tree_factory, how):
    awsenv.seed()
    code = awsenv.totp()
    args, extra = ["--profile", "role-with-mfa"], {}
    if how == "option":
        args += ["--mfa-code", code]
    elif how == "variable":
        extra["AWSROLE_MFA_CODE"] = code
    else:
        cfg = awsenv.config_path.read_text().replace(
            "mfa_serial = %s" % SERIAL, "mfa_serial = %s\nmfa_process = printf %s" % (SERIAL, code))
        awsenv.write_config(cfg)
    t = tree_factory(awsenv, args, extra)
    secrets = secrets_of(sts)
    assert len(secrets) >= 5  # the long-term secret, a session and a role: secret + token
    # Every process on the machine: no secret in any argv. (The code is checked in the
    # tree below: other test runs on the machine may hold the same TOTP code.)
    for pid in all_pids():
        argv = read_proc(pid, "cmdline")
        for s in secrets:
            assert s.encode() not in argv, (pid, argv[:200])
    launcher_argv = read_proc(t.launcher, "cmdline")
    # Even where the user put it, the launcher overwrites it at once (argv and environ).
    assert code.encode() not in launcher_argv
    assert code.encode() not in read_proc(t.launcher, "environ")
    for pid in tree_pids(t.launcher):
        if pid == t.launcher:
            continue
        argv, env = read_proc(pid, "cmdline"), read_proc(pid, "environ")
        assert code.encode() not in argv
        assert code.encode() not in env, pid
        assert b"AWSROLE_MFA_CODE" not in env
        assert LONG_SECRET.encode() not in env
        assert b"AWS_SECRET_ACCESS_KEY=" in env  # the child does hold the role's secret
    t.finish()


def test_verbose_output_and_errors_never_show_secrets_or_code(awsenv, sts):
    awsenv.seed()
    code = awsenv.totp()
    outputs = []
    # A fresh run, a cached run, a rejected code, a refused role, a bad profile, all with -v.
    for args, extra in (
            (["-v", "-p", "role-with-mfa", "-t", code, "--", "true"], {}),
            (["-v", "-p", "role-with-mfa", "--", "true"], {}),
            (["-v", "-p", "role-with-mfa", "--no-cache", "-t", "123456", "--", "true"], {}),
            (["-v", "-p", "role-without-mfa", "--", "true"], {}),
            (["-v", "-p", "role-with-mfa", "--no-cache", "--", "true"], {"AWSROLE_MFA_CODE": "654321"}),
            (["-v", "-p", "nope", "--", "true"], {})):
        r = awsenv.run(args, env_extra=extra)
        outputs.append((args, r.returncode, r.stdout + r.stderr))
    assert [rc for _, rc, _ in outputs][:2] == [0, 0]
    assert outputs[2][1] == 254 and outputs[3][1] == 254 and outputs[5][1] == 253
    assert "GetSessionToken" in outputs[0][2] or "AssumeRole" in outputs[0][2]  # -v said something
    secrets = secrets_of(sts) | {code, "123456", "654321"}
    for args, rc, text in outputs:
        for s in secrets:
            assert s not in text, (args, text)


def walk_files(root, since=None, skip=()):
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: None):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in skip
                       and not d.startswith("pytest-of-")]
        for f in filenames:
            p = os.path.join(dirpath, f)
            try:
                st = os.lstat(p)
                if not stat.S_ISREG(st.st_mode) or st.st_size > (8 << 20):
                    continue
                if since is not None and st.st_mtime < since:
                    continue
                with open(p, "rb") as fh:
                    yield p, fh.read()
            except OSError:
                continue


def test_mfa_code_is_never_stored(awsenv, sts, tmp_path, tree_factory):
    awsenv.seed()
    start = time.time() - 1
    private_tmp = tmp_path / "private-tmp"
    private_tmp.mkdir()
    code = awsenv.totp()
    t = tree_factory(awsenv, ["-p", "role-with-mfa", "-t", code], {"TMPDIR": str(private_tmp)})
    # While the tree runs (segment, synthesized file) and after it is gone (cache).
    places = [awsenv.env["XDG_CACHE_HOME"], awsenv.env["XDG_RUNTIME_DIR"], str(awsenv.home),
              str(private_tmp), "/dev/shm"]
    for when in ("running", "after"):
        for root in places:
            for p, data in walk_files(root):
                assert code.encode() not in data, (when, p)
        for p, data in walk_files(tempfile.gettempdir(), since=start):
            assert code.encode() not in data, (when, p)
        if when == "running":
            shm = "/dev/shm/" + t.segment
            assert os.path.exists(shm)
            t.finish()


# ---- the cache directory ---------------------------------------------------------------------

def cache_dir(awsenv):
    return os.path.join(awsenv.env["XDG_CACHE_HOME"], "awsrole")


POISON = "ASIAPOISONED00000000"


def poison_cache(awsenv):
    d = cache_dir(awsenv)
    for f in os.listdir(d):
        if f.endswith(".json"):
            p = os.path.join(d, f)
            doc = json.load(open(p))
            doc["AccessKeyId"] = POISON
            with open(p, "w") as fh:
                json.dump(doc, fh)
    return {f: open(os.path.join(d, f), "rb").read() for f in os.listdir(d)}


def child_akid(awsenv, args, env_extra=None):
    r = awsenv.run(["-v"] + args + ["--", "sh", "-c", "echo AKID=$AWS_ACCESS_KEY_ID"],
                   env_extra=env_extra)
    akid = [l[5:] for l in r.stdout.splitlines() if l.startswith("AKID=")]
    return r, (akid[0] if akid else None)


def test_poisoned_cache_is_used_when_trusted(awsenv, sts):
    """The control for the refusals below: a valid-looking planted entry IS read from a
    private directory (so the refusal tests would notice a reader that ignores modes)."""
    awsenv.seed()
    r = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--", "true"])
    assert r.returncode == 0, r.stderr
    poison_cache(awsenv)
    r, akid = child_akid(awsenv, ["-p", "role-with-mfa"])
    assert r.returncode == 0, r.stderr
    assert akid == POISON


@pytest.mark.parametrize("hostile", ["mode0770", "mode0707", "owner", "symlink"])
def test_hostile_cache_directory_is_refused(awsenv, sts, tmp_path, hostile):
    awsenv.seed()
    r = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--", "true"])
    assert r.returncode == 0, r.stderr
    before = poison_cache(awsenv)
    d = cache_dir(awsenv)
    if hostile == "mode0770":
        os.chmod(d, 0o770)
    elif hostile == "mode0707":
        os.chmod(d, 0o707)
    elif hostile == "owner":
        if not IS_ROOT:
            pytest.skip("chown to another user needs root")
        os.chown(d, NOBODY, NOBODY)
    else:
        elsewhere = tmp_path / "elsewhere"
        shutil.move(d, elsewhere)
        os.symlink(elsewhere, d)
        d = str(elsewhere)
    n = len(sts.calls)
    r, akid = child_akid(awsenv, ["-p", "role-with-mfa", "-t", awsenv.totp()])
    assert r.returncode == 0, r.stderr
    assert akid and akid.startswith("ASIA") and akid != POISON
    assert "warning: the cache directory" in r.stderr  # a warning says why
    assert len(sts.calls) > n  # credentials came from STS, not from the planted entries
    # Nothing was written into the refused directory either.
    after = {f: open(os.path.join(d, f), "rb").read() for f in os.listdir(d)}
    assert after == before


def test_symlink_planted_at_entry_and_lock_paths_is_not_followed(awsenv, sts, tmp_path):
    awsenv.seed()
    r = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--", "true"])
    assert r.returncode == 0, r.stderr
    d = cache_dir(awsenv)
    role_entry = [f for f in os.listdir(d) if f.startswith("role-") and f.endswith(".json")][0]
    role_lock = role_entry[:-5] + ".lock"
    targets = {}
    for name in (role_entry, role_lock):
        target = tmp_path / ("target-" + name)
        target.write_text("untouched\n")
        os.chmod(target, 0o644)
        os.unlink(os.path.join(d, name))
        os.symlink(target, os.path.join(d, name))
        targets[name] = target
    r, akid = child_akid(awsenv, ["-p", "role-with-mfa"])
    assert r.returncode == 0, r.stderr
    assert akid and akid.startswith("ASIA")
    for name, target in targets.items():
        assert target.read_text() == "untouched\n", name
        assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
    # The entry was replaced by a private regular file (rename replaces the link itself).
    st = os.lstat(os.path.join(d, role_entry))
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600


# ---- the segment and the runtime directory -----------------------------------------------------

def shm_private_dirs(launcher=None):
    """Launchers' private directories in /dev/shm (where they go here: the tests'
    XDG_RUNTIME_DIR is on disk)."""
    prefix = "awsrole-" if launcher is None else "awsrole-%d-" % launcher
    return sorted(e for e in os.listdir("/dev/shm")
                  if e.startswith(prefix) and os.path.isdir(os.path.join("/dev/shm", e)))


def runtime_entries(awsenv):
    return sorted(os.listdir(awsenv.env["XDG_RUNTIME_DIR"])) + shm_private_dirs()


def child_env(t):
    """The child's environment (read again while its `exec sleep` is under way)."""
    for _ in range(100):
        env = dict(kv.split(b"=", 1) for kv in read_proc(t.child, "environ").split(b"\0")
                   if b"=" in kv)
        if b"AWSROLE_SEGMENT" in env:
            return env
        time.sleep(0.05)
    raise AssertionError("no environment for the child")


def stop_launcher(t):
    """SIGTERM to the launcher alone: it forwards it, cleans up and exits."""
    t.kill(signal.SIGTERM, group=False)
    assert t.p.wait(timeout=20) == -signal.SIGTERM
    t.p.stdout.close()
    t.p.stderr.close()


def fs_type(path):
    return subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_segment_and_private_files_are_private_while_running(awsenv, sts, tree_factory):
    awsenv.seed()
    t = tree_factory(awsenv, ["-p", "role-with-mfa", "-t", awsenv.totp()])
    st = os.stat("/dev/shm/" + t.segment)
    assert st.st_uid == os.geteuid()
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert t.segment.startswith("awsrole-%d-" % t.launcher)
    (private,) = shm_private_dirs(t.launcher)
    private = os.path.join("/dev/shm", private)
    assert stat.S_IMODE(os.lstat(private).st_mode) == 0o700
    found = 0
    for dirpath, dirnames, filenames in os.walk(private):
        for dn in dirnames:
            assert stat.S_IMODE(os.lstat(os.path.join(dirpath, dn)).st_mode) == 0o700
        for fn in filenames:
            m = os.lstat(os.path.join(dirpath, fn)).st_mode
            if stat.S_ISREG(m):
                assert stat.S_IMODE(m) == 0o600, fn
                found += 1
    assert found >= 1  # the synthesized credentials file
    t.finish()


@pytest.mark.parametrize("xdg", ["on-disk", "unset"])
def test_private_directory_is_in_memory_even_when_xdg_runtime_dir_is_not(awsenv, sts,
                                                                        tree_factory, xdg):
    """The synthesized credentials file never reaches a disk: with XDG_RUNTIME_DIR on a disk
    (as in these tests) or unset, the private directory goes to /dev/shm, not /tmp."""
    assert fs_type(awsenv.env["XDG_RUNTIME_DIR"]) != "tmpfs"
    awsenv.seed()
    args = ["-p", "role-with-mfa", "-t", awsenv.totp()]
    if xdg == "unset":
        awsenv.run(args + ["--export"])  # warm the cache, then run without the variable
        args = ["-p", "role-with-mfa"]
        del awsenv.env["XDG_RUNTIME_DIR"]
    t = tree_factory(awsenv, args)
    copy = child_env(t)[b"AWS_CONFIG_FILE"].decode()
    (private,) = shm_private_dirs(t.launcher)
    assert copy == os.path.join("/dev/shm", private, "config")
    assert fs_type(copy) == "tmpfs"
    assert os.path.exists(os.path.join("/dev/shm", private, "credentials"))
    stop_launcher(t)
    assert not os.path.exists(os.path.dirname(copy))


def test_private_directory_in_xdg_runtime_dir_when_it_is_in_memory(awsenv, sts, tree_factory):
    runtime = tempfile.mkdtemp(prefix="awsr-test-runtime-", dir="/dev/shm")
    try:
        os.chmod(runtime, 0o700)
        awsenv.seed()
        t = tree_factory(awsenv, ["-p", "role-with-mfa", "-t", awsenv.totp()],
                         {"XDG_RUNTIME_DIR": runtime})
        copy = child_env(t)[b"AWS_CONFIG_FILE"].decode()
        private = os.path.dirname(copy)
        assert os.path.dirname(private) == runtime
        assert os.path.basename(private).startswith("awsrole-%d-" % t.launcher)
        assert stat.S_IMODE(os.lstat(private).st_mode) == 0o700
        assert not shm_private_dirs(t.launcher)
        stop_launcher(t)
        assert os.listdir(runtime) == []
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


def leftovers(awsenv, t):
    shm = [f for f in os.listdir("/dev/shm") if f.startswith("awsrole-%d-" % t.launcher)]
    return shm, runtime_entries(awsenv)


def test_nothing_left_after_normal_exit(awsenv, sts):
    awsenv.seed()
    before = runtime_entries(awsenv)
    r = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--", "sh", "-c",
                    'echo "$AWSROLE_SEGMENT"; test -e /dev/shm/"$AWSROLE_SEGMENT"'])
    assert r.returncode == 0, r.stderr
    seg = r.stdout.strip()
    assert seg.startswith("awsrole-")
    assert not os.path.exists("/dev/shm/" + seg)
    assert runtime_entries(awsenv) == before


def test_nothing_left_after_sigterm(awsenv, sts, tree_factory):
    awsenv.seed()
    before = runtime_entries(awsenv)
    t = tree_factory(awsenv, ["-p", "role-with-mfa", "-t", awsenv.totp()])
    assert os.path.exists("/dev/shm/" + t.segment)
    assert runtime_entries(awsenv) != before
    t.kill(signal.SIGTERM, group=False)  # to the launcher only: it forwards to the child
    assert t.p.wait(timeout=20) == -signal.SIGTERM
    assert not os.path.exists("/dev/shm/" + t.segment)
    assert runtime_entries(awsenv) == before


def test_sigkill_leftovers_are_swept_by_the_next_run(awsenv, sts, tree_factory):
    awsenv.seed()
    before = runtime_entries(awsenv)
    t = tree_factory(awsenv, ["-p", "role-with-mfa", "-t", awsenv.totp()])
    t.kill(signal.SIGKILL)  # the launcher and its child, no chance to clean up
    t.p.wait(timeout=20)
    assert os.path.exists("/dev/shm/" + t.segment)  # a SIGKILLed launcher cannot clean up
    left = ["/dev/shm/" + t.segment] + ["/dev/shm/" + d for d in shm_private_dirs(t.launcher)]
    assert len(left) == 2
    r = awsenv.run(["-p", "role-with-mfa", "--", "true"])  # from the cache
    assert r.returncode == 0, r.stderr
    assert [os.path.exists(p) for p in left] == [True, True]  # changed < 10 s ago: kept
    for p in left:
        os.utime(p, (time.time() - 60, time.time() - 60))
    r = awsenv.run(["-p", "role-with-mfa", "--", "true"])
    assert r.returncode == 0, r.stderr
    assert not any(os.path.exists(p) for p in left)
    assert runtime_entries(awsenv) == before


# ---- memory: MADV_DONTDUMP, non-dumpable launcher ---------------------------------------------

def smaps(pid):
    """[(header line, {field: value})] of /proc/pid/smaps."""
    out, cur = [], None
    for line in read_proc(pid, "smaps").decode().splitlines():
        first = line.split(" ", 1)[0]
        if "-" in first and not first.endswith(":"):
            cur = (line, {})
            out.append(cur)
        elif cur is not None and ":" in line:
            k, v = line.split(":", 1)
            cur[1][k] = v.strip()
    return out


def test_secret_mappings_are_excluded_from_core_dumps(awsenv, sts, tree_factory):
    awsenv.seed()
    t = tree_factory(awsenv, ["-p", "role-with-mfa", "-t", awsenv.totp()])
    shm = "/dev/shm/" + t.segment
    for pid, who in ((t.launcher, "launcher"), (t.child, "child")):
        maps = [m for m in smaps(pid) if m[0].endswith(shm)]
        assert maps, (who, "segment not mapped")
        for header, fields in maps:
            assert "dd" in fields["VmFlags"].split(), (who, header, fields["VmFlags"])
    # The child's private snapshot (an anonymous block holding the credentials: 64 bytes of
    # lengths and one 18 KiB slot of the segment layout, in whole pages).
    snap_kb = (64 + 18432 + 4095) // 4096 * 4
    snaps = [m for m in smaps(t.child) if len(m[0].split()) == 5
             and m[1].get("Size") == "%d kB" % snap_kb and "dd" in m[1]["VmFlags"].split()]
    assert snaps, "no MADV_DONTDUMP snapshot block in the child"
    t.finish()


def test_launcher_is_not_dumpable(awsenv, sts, tmp_path, tree_factory):
    """PR_SET_DUMPABLE 0: another process of the same (unprivileged) user can read the
    child's /proc files but not the launcher's memory or environment."""
    if not IS_ROOT:
        pytest.skip("needs root to run the tree as another user")
    base = tempfile.mkdtemp(prefix="awsr-sec-")
    try:
        os.chmod(base, 0o755)
        # The launcher and shim where that user can run them (found beside the launcher).
        bindir = os.path.join(base, "bin")
        os.mkdir(bindir)
        shutil.copy2(awsenv.bin, bindir)
        shutil.copy2(awsenv.shim, bindir)
        full = os.path.join(os.path.dirname(awsenv.bin), "awsrole-run-full")
        if os.path.exists(full):  # the static launcher's companion (shim/front.h)
            shutil.copy2(full, bindir)
        home = os.path.join(base, "home")
        shutil.copytree(awsenv.home, home)
        for sub in ("cache", "runtime"):
            os.mkdir(os.path.join(base, sub), 0o700)
        for dirpath, dirnames, filenames in os.walk(base):
            for n in dirnames + filenames:
                os.lchown(os.path.join(dirpath, n), NOBODY, NOBODY)
        os.chmod(os.path.join(base, "bin", "awsrole-run"), 0o755)
        awsenv.seed()
        shutil.copy2(awsenv.config_path, os.path.join(home, ".aws", "config"))
        shutil.copy2(awsenv.credentials_path, os.path.join(home, ".aws", "credentials"))
        for f in ("config", "credentials"):
            os.chown(os.path.join(home, ".aws", f), NOBODY, NOBODY)
        awsenv.bin = os.path.join(bindir, "awsrole-run")
        env = {"HOME": home, "XDG_CACHE_HOME": os.path.join(base, "cache"),
               "XDG_RUNTIME_DIR": os.path.join(base, "runtime")}
        t = tree_factory(awsenv, ["-p", "role-with-mfa", "-t", awsenv.totp()], env, user=NOBODY)

        def read_as_nobody(path):
            return subprocess.run(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                                   "--clear-groups", "cat", path], capture_output=True)
        r = read_as_nobody("/proc/%d/environ" % t.child)
        assert r.returncode == 0 and b"AWS_ACCESS_KEY_ID=" in r.stdout  # the control
        r = read_as_nobody("/proc/%d/environ" % t.launcher)
        assert r.returncode != 0 and b"Permission denied" in r.stderr, r
        stop_launcher(t)  # it removes its segment and directory (owned by nobody)
    finally:
        shutil.rmtree(base, ignore_errors=True)


# ---- AT_SECURE -----------------------------------------------------------------------------------

SECURE_PROBE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <sys/auxv.h>
int main(int argc, char **argv)
{
    /* The loader drops LD_PRELOAD paths in AT_SECURE processes, so the shim is loaded
     * explicitly: this checks the shim's own guard, not the loader's. */
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) { printf("dlopen failed: %s\n", dlerror()); return 2; }
    char *(*shim_getenv)(const char *) = (char *(*)(const char *))dlsym(h, "getenv");
    char *(*shim_secure)(const char *) = (char *(*)(const char *))dlsym(h, "secure_getenv");
    const char *a = shim_getenv("AWS_ACCESS_KEY_ID"), *s = shim_secure("AWS_ACCESS_KEY_ID");
    printf("secure=%lu\ngetenv=%s\nsecure_getenv=%s\n", getauxval(AT_SECURE),
           a ? a : "(null)", s ? s : "(null)");
    return 0;
}
"""


def test_shim_does_nothing_in_at_secure_processes(awsenv, sts, tree_factory):
    if not IS_ROOT:
        pytest.skip("needs root to make a setuid-root probe")
    cc = shutil.which("cc")
    if not cc:
        pytest.skip("no C compiler")
    base = tempfile.mkdtemp(prefix="awsr-secure-")
    try:
        os.chmod(base, 0o755)
        src = os.path.join(base, "probe.c")
        open(src, "w").write(SECURE_PROBE)
        plain, suid = os.path.join(base, "probe"), os.path.join(base, "probe-suid")
        subprocess.run([cc, "-O1", "-o", plain, src, "-ldl"], check=True)
        shutil.copy2(plain, suid)
        os.chmod(suid, 0o4755)
        shim = os.path.join(base, "libawsrole-shim.so")
        shutil.copy2(awsenv.shim, shim)
        os.chmod(shim, 0o644)
        awsenv.seed()
        drop = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"]
        # In the tree (segment owned by root, 0600): the plain probe as root reads the
        # tree's key through the shim; the setuid-root probe started by nobody (euid root,
        # AT_SECURE) gets only its environment (a value set for one command is the
        # program's own in either case, so the plain probe keeps the tree's).
        script = ("env -u LD_PRELOAD {plain} {shim}; echo ---; "
                  "{drop} env -u LD_PRELOAD AWS_ACCESS_KEY_ID=FROM-ENV {suid} {shim}"
                  ).format(plain=plain, suid=suid, shim=shim, drop=" ".join(drop))
        r = awsenv.run(["-p", "role-with-mfa", "-t", awsenv.totp(), "--", "sh", "-c", script])
        assert r.returncode == 0, r.stdout + r.stderr
        first, second = r.stdout.split("---\n")
        plain_vals = dict(l.split("=", 1) for l in first.splitlines() if "=" in l)
        suid_vals = dict(l.split("=", 1) for l in second.splitlines() if "=" in l)
        assert plain_vals["secure"] == "0" and plain_vals["getenv"].startswith("ASIA"), first
        assert suid_vals["secure"] == "1", second
        assert suid_vals["getenv"] == "FROM-ENV"  # the environment, not the segment
        assert suid_vals["secure_getenv"] == "(null)"
    finally:
        shutil.rmtree(base, ignore_errors=True)


ENDPOINT_CLIENT = r"""
import os, socket, sys
port = int(os.environ["URI"].rsplit(":", 1)[1].strip("/"))
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: %s\r\n\r\n"
           % os.environ["TOKEN"]).encode())
got = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
print(got.split(b"\r\n", 1)[0].decode() or "closed")
"""


def test_endpoint_refuses_other_users_before_reading(awsenv, sts, tree_factory):
    """Another local user's connection to the --server endpoint is closed unanswered, even
    with the right token (which they should never have): they cannot hold the launcher up
    with slow requests either. This user still gets the credentials."""
    if not IS_ROOT:
        pytest.skip("needs root to act as another user")
    awsenv.seed()
    t = tree_factory(awsenv, ["-p", "role-with-mfa", "-t", awsenv.totp(), "--server"])
    env = {}
    for _ in range(100):  # --server sets no AWSROLE_SEGMENT: wait for the endpoint's URI
        env = dict(kv.split(b"=", 1) for kv in read_proc(t.child, "environ").split(b"\0")
                   if b"=" in kv)
        if b"AWS_CONTAINER_CREDENTIALS_FULL_URI" in env:
            break
        time.sleep(0.05)
    client_env = {"URI": env[b"AWS_CONTAINER_CREDENTIALS_FULL_URI"].decode(),
                  "TOKEN": env[b"AWS_CONTAINER_AUTHORIZATION_TOKEN"].decode(),
                  "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    drop = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"]
    for prefix, want in ((drop, "closed"), ([], "HTTP/1.1 200 OK")):
        r = subprocess.run(prefix + [sys.executable, "-c", ENDPOINT_CLIENT], env=client_env,
                           cwd="/", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == want, (prefix, r.stdout)
