#!/usr/bin/python3
"""Writes the seed corpus of fuzz_segment_reader (tests/fuzz/corpus/segment_reader/):
segment images laid out as shim/segment_layout.h says. Rerun after a layout change."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "segment_reader")
MAGIC = 0x3147455352535741
SLOT, HDR, TOKEN = 18432, 1024, 16384
SEG = HDR + 2 * SLOT
LAZY, REQUESTED, FAILED = 1, 2, 4
HISTORY, FIELDS = 24, 4  # issued-value history: generations kept, fields (akid, secret, token, expiry)
ENV_TOKEN = "token-from-environ"  # what fuzz_segment_reader puts in AWS_SECURITY_TOKEN


def value_hash(text):
    """awsr_seg_value_hash: FNV-1a (32 bits), never 0."""
    h = 2166136261
    for b in text.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h or 1


def field(text, size):
    b = text.encode() if isinstance(text, str) else text
    return b[:size].ljust(size, b"\0")


def slot(gen, seq=2, exp=4102444800, akid="ASIAFUZZ0000000000001", secret="fuzz/secret",
         token="IQoJb3JpZ2luX2VjE" + "t" * 900, exptext="2100-01-01T00:00:00Z",
         region="eu-west-1", profile="dev", path="/run/user/0/awsrole-1/credentials",
         seg_flags=0):
    s = struct.pack("<IIQqQ", seq, 0, gen, exp, seg_flags)
    s += field(akid, 128) + field(secret, 128) + field(exptext, 32) + field(region, 64)
    s += field(profile, 256) + field(path, 512) + field(token, TOKEN)
    return s.ljust(SLOT, b"\0")


def header(current=0, flags=0, magic=MAGIC, version=4, size=SEG, gen=1, req="", issued=None):
    """issued: {field index: [values]}, hashed into the history rings."""
    h = struct.pack("<QIIiIIIQ", magic, version, size, 1234, flags, current, 0, gen)
    h = h.ljust(64, b"\0") + field(req, 512)
    rings = [[0] * HISTORY for _ in range(FIELDS)]
    for f, values in (issued or {}).items():
        for i, v in enumerate(values):
            rings[f][i % HISTORY] = value_hash(v)
    h += b"".join(struct.pack("<%dI" % HISTORY, *r) for r in rings)
    return h.ljust(HDR, b"\0")


def image(hdr, s0=None, s1=None):
    return hdr + (s0 or b"\0" * SLOT) + (s1 or b"\0" * SLOT)


def main():
    os.makedirs(OUT, exist_ok=True)
    full = b"A" * 20000
    cases = {
        "gen1_slot0": image(header(0), slot(1)),
        "gen2_slot1": image(header(1, gen=2), slot(1), slot(2, region="")),
        "odd_seq": image(header(0), slot(1, seq=3)),
        "no_expiry": image(header(0), slot(1, exp=0, exptext="", token="")),
        "expiring_then_newer": image(header(0), slot(1, exp=1)) + image(header(1, gen=2), slot(1, exp=1), slot(2)),
        "lazy_waiting": image(header(0, LAZY, req="/tmp/fifo")),
        "lazy_resolved": image(header(0, LAZY), slot(1, seg_flags=LAZY)),
        "issued_env_token": image(header(0, issued={2: ["old-token", ENV_TOKEN]}), slot(1)),
        "lazy_issued_env_token": image(header(0, LAZY, issued={2: [ENV_TOKEN]}),
                                       slot(1, seg_flags=LAZY)),
        "lazy_failed": image(header(0, LAZY | FAILED, req="/tmp/fifo")),
        "unterminated": image(header(0), slot(1, akid=full, secret=full, token=full, exptext=full,
                                                region=full, profile=full, path=full)),
        "extreme_expiry": image(header(0), slot(1, exp=-(2 ** 63))) + image(header(0), slot(2, exp=2 ** 63 - 1)),
        "bad_version": image(header(0, version=3), slot(1)),
        "bad_size": image(header(0, size=SEG - 8), slot(1)),
        "bad_magic": image(header(0, magic=0), slot(1)),
        "short": header(0)[:40],
    }
    for name, data in cases.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
