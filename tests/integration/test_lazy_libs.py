"""libcurl and libcrypto stay off the cache-hit path: the launcher does not link them, a
cache hit does not load them, a call to STS loads them with dlopen, and a libcurl that
cannot be used is a clear error (status 255)."""
import os
import subprocess

import pytest

from conftest import BUILD, SANITIZED, VALGRIND

LAUNCHER = os.path.join(BUILD, "awsrole-run")
ALLOWED = ("libc.so", "libdl.so", "libjansson.so", "libexpat.so", "ld-linux")
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


def test_launcher_links_neither_libcurl_nor_libcrypto():
    libs = needed(LAUNCHER)
    assert libs and not [n for n in libs if "curl" in n or "crypto" in n or "ssl" in n], libs
    allowed = ALLOWED + (SANITIZER_EXTRA if SANITIZED else ())
    assert all(n.startswith(allowed) for n in libs), libs


@pytest.mark.skipif(VALGRIND, reason="LD_DEBUG output would describe valgrind too")
def test_cache_hit_loads_neither_and_sts_call_loads_both(awsenv):
    awsenv.seed()
    args = ["-p", "role-with-mfa", "--export"]
    cold = awsenv.run(args + ["--mfa-code", awsenv.totp()], env_extra={"LD_DEBUG": "files"})
    assert cold.returncode == 0, cold.stderr
    assert "AWS_SESSION_TOKEN" in cold.stdout
    cold_libs = " ".join(loaded(cold.stderr))
    assert "libcurl.so" in cold_libs and "libcrypto.so" in cold_libs, cold_libs

    hit = awsenv.run(args, env_extra={"LD_DEBUG": "files"})
    assert hit.returncode == 0, hit.stderr
    assert hit.stdout == cold.stdout  # the same credentials, from the cache
    hit_libs = loaded(hit.stderr)
    assert hit_libs, hit.stderr  # LD_DEBUG did report the linked libraries
    assert not [l for l in hit_libs if "curl" in l or "crypto" in l or "ssl" in l], hit_libs


def test_unusable_libcurl_is_a_clear_error(awsenv, tmp_path):
    """A libcurl.so.4 without libcurl's functions (first on LD_LIBRARY_PATH)."""
    src = tmp_path / "empty.c"
    src.write_text("int awsr_not_curl;\n")
    libdir = tmp_path / "fakelib"
    libdir.mkdir()
    subprocess.run(["cc", "-shared", "-fPIC", "-Wl,-soname,libcurl.so.4", "-o",
                    str(libdir / "libcurl.so.4"), str(src)], check=True)
    awsenv.seed()
    r = awsenv.run(["-p", "role-with-mfa", "--mfa-code", awsenv.totp(), "--export"],
                   env_extra={"LD_LIBRARY_PATH": str(libdir)})
    assert r.returncode == 255, r.stderr
    assert "libcurl" in r.stderr and "curl_easy_init is missing" in r.stderr, r.stderr
    assert r.stdout == ""
    assert awsenv.sts.calls == []
