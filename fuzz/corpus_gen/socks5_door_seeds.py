#!/usr/bin/env python3
"""Writes the seed corpus of socks5_door_fuzzer (the record format is in fuzz/socks5_door_fuzzer.cc).

Run from the repository root: python3 fuzz/corpus_gen/socks5_door_seeds.py fuzz/corpus/socks5_door
"""
import os
import sys


def rec(op, body=b""):
    return bytes([op, len(body)]) + body


GREETING = b"\x05\x01\x00"
IPV4 = b"\x05\x01\x00\x01\x0a\x00\x00\x01\x00\x50"
NAME = b"\x05\x01\x00\x03\x0bexample.com\x01\xbb"
IPV6 = b"\x05\x01\x00\x04" + bytes(15) + b"\x01\x1f\x90"
DATA, EOF, OPENED, FAILED = 0, 1, 2, 3

SEEDS = {
    "ipv4_opened": rec(DATA, GREETING) + rec(DATA, IPV4) + rec(OPENED),
    "name_pipelined": rec(DATA, GREETING + NAME + b"GET / HTTP/1.0\r\n") + rec(DATA, b"\r\n") + rec(OPENED),
    "ipv6_halfclosed": rec(DATA, GREETING + IPV6) + rec(DATA, b"x") + rec(EOF) + rec(OPENED) + rec(DATA, b"y"),
    "byte_at_a_time": b"".join(rec(DATA, bytes([c])) for c in GREETING + IPV4) + rec(OPENED),
    "eof_before_request": rec(DATA, GREETING) + rec(EOF) + rec(DATA, IPV4),
    "no_acceptable_method": rec(DATA, b"\x05\x01\x02"),
    "bad_version": rec(DATA, b"\x04\x01\x00\x50\x0a\x00\x00\x01\x00"),
    "bind": rec(DATA, GREETING + b"\x05\x02\x00\x01\x0a\x00\x00\x01\x00\x50"),
    "bad_atyp": rec(DATA, GREETING + b"\x05\x01\x00\x02\x00"),
    "opened_twice": rec(DATA, GREETING + IPV4) + rec(OPENED) + rec(OPENED) + rec(FAILED, b"\x00\x15"),
    "events_before_request": rec(OPENED) + rec(FAILED, b"\x00\x14") + rec(DATA, GREETING + IPV4),
}
for code in (1, 8, 11, 12, 14, 15, 20, 21, 22, 23, 24, 0xFFFF):
    SEEDS[f"failed_{code}"] = rec(DATA, GREETING + NAME + b"pipelined") + rec(FAILED, code.to_bytes(2, "big"))

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
