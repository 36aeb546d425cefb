"""libcurl, libcrypto and expat stay off the cache-hit path: the launcher does not link them,
a cache hit does not load them, a call to STS loads them with dlopen, and a libcurl or an
expat that cannot be used is a clear error (status 255). With the statically linked
launcher (shim/front.h) the same holds for awsrole-run-full, the program that does the STS
work, and a cache hit runs no dynamic loader at all."""
import os
import subprocess

import pytest

from conftest import BUILD, SANITIZED, VALGRIND

LAUNCHER = os.path.join(BUILD, "awsrole-run")
FULL = os.path.join(BUILD, "awsrole-run-full")
STATIC = os.path.exists(FULL)
ALLOWED = ("libc.so", "libdl.so", "libjansson.so", "ld-linux")
# Sanitizer builds (check-asan links the runtimes statically) bring their own runtime needs.
SANITIZER_EXTRA = ("libasan.so", "libubsan.so", "libtsan.so", "libm.so", "libgcc_s.so",
                   "libpthread.so", "librt.so", "libstdc++.so")


def needed(path):
    out = subprocess.run(["readelf", "-d", path], stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    return [l.split("[")[1].rstrip("]") for l in out.splitlines() if "(NEEDED)" in l]


def loaded(stderr):
    """Libraries ld.so reports opening under LD_DEBUG=files."""
    return [l.split("file=")[1].split()[0] for l in stderr.splitlines()
            if "file=" in l and ("needed by" in l or "dynamically loaded by" in l)]


LAZY = ("curl", "crypto", "ssl", "expat")


def test_launcher_links_neither_libcurl_nor_libcrypto_nor_expat():
    if STATIC:
        assert needed(LAUNCHER) == []
    libs = needed(FULL if STATIC else LAUNCHER)
    assert libs and not [n for n in libs if any(l in n for l in LAZY)], libs
    allowed = ALLOWED + (SANITIZER_EXTRA if SANITIZED else ())
    assert all(n.startswith(allowed) for n in libs), libs


@pytest.mark.skipif(VALGRIND, reason="LD_DEBUG output would describe valgrind too")
def test_cache_hit_loads_none_and_sts_call_loads_them(awsenv):
    awsenv.seed()
    args = ["-p", "role-with-mfa", "--export"]
    cold = awsenv.run(args + ["--mfa-code", awsenv.totp()], env_extra={"LD_DEBUG": "files"})
    assert cold.returncode == 0, cold.stderr
    assert "AWS_SESSION_TOKEN" in cold.stdout
    cold_libs = " ".join(loaded(cold.stderr))
    assert "libcurl.so" in cold_libs and "libcrypto.so" in cold_libs, cold_libs
    assert "libexpat.so" in cold_libs, cold_libs

    hit = awsenv.run(args, env_extra={"LD_DEBUG": "files"})
    assert hit.returncode == 0, hit.stderr
    assert hit.stdout == cold.stdout  # the same credentials, from the cache
    hit_libs = loaded(hit.stderr)
    # LD_DEBUG did report the linked libraries; the static launcher has no ld.so to report
    assert hit_libs or STATIC, hit.stderr
    assert not [l for l in hit_libs if any(n in l for n in LAZY)], hit_libs


def fake_library(tmp_path, soname):
    """A library named `soname` with none of the real one's functions, in its own directory
    (for LD_LIBRARY_PATH)."""
    src = tmp_path / "empty.c"
    src.write_text("int awsr_not_the_real_library;\n")
    libdir = tmp_path / "fakelib"
    libdir.mkdir(exist_ok=True)
    subprocess.run(["cc", "-shared", "-fPIC", "-Wl,-soname," + soname, "-o",
                    str(libdir / soname), str(src)], check=True)
    return libdir


def export_with(awsenv, libdir):
    """A cold --export (GetSessionToken, AssumeRole) with `libdir` first on LD_LIBRARY_PATH."""
    return awsenv.run(["-p", "role-with-mfa", "--mfa-code", awsenv.totp(), "--export"],
                      env_extra={"LD_LIBRARY_PATH": str(libdir)})


def test_unusable_libcurl_is_a_clear_error(awsenv, tmp_path):
    """A libcurl.so.4 without libcurl's functions (first on LD_LIBRARY_PATH)."""
    libdir = fake_library(tmp_path, "libcurl.so.4")
    awsenv.seed()
    r = export_with(awsenv, libdir)
    assert r.returncode == 255, r.stderr
    assert "libcurl" in r.stderr and "curl_easy_init is missing" in r.stderr, r.stderr
    assert r.stdout == ""
    assert awsenv.sts.calls == []


def test_unusable_expat_is_a_clear_error(awsenv, tmp_path):
    """A libexpat.so.1 without expat's functions: STS answered, and nothing can read it."""
    libdir = fake_library(tmp_path, "libexpat.so.1")
    awsenv.seed()
    r = export_with(awsenv, libdir)
    assert r.returncode == 255, r.stderr
    assert r.stderr.strip() == ("awsrole-run: cannot read STS's answer to GetSessionToken: "
                                "libexpat.so.1 has no XML_ParserCreate_MM; install expat "
                                "(Debian: libexpat1)"), r.stderr
    assert r.stdout == ""
    assert [c["op"] for c in awsenv.sts.calls] == ["GetSessionToken"]
    # and the cache hit that follows a good run does not need it at all
    good = awsenv.run(["-p", "role-with-mfa", "--mfa-code", awsenv.totp(), "--export"])
    assert good.returncode == 0, good.stderr
    hit = awsenv.run(["-p", "role-with-mfa", "--export"],
                     env_extra={"LD_LIBRARY_PATH": str(libdir)})
    assert hit.returncode == 0 and hit.stdout == good.stdout, hit.stderr
