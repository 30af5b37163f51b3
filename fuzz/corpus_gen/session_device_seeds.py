#!/usr/bin/env python3
"""Writes the seed corpus of session_device_fuzzer (the record format is in fuzz/session_device_fuzzer.cc).

Run from the repository root: python3 fuzz/corpus_gen/session_device_seeds.py fuzz/corpus/session_device
"""
import os
import struct
import sys

NONE = b"\xff\xff"  # no bit flipped


def rec(op, body=b""):
    return bytes([op]) + struct.pack(">H", len(body)) + body


def inner(kind, stream, payload=b"", flags=0):
    return bytes([kind, flags]) + struct.pack(">IH", stream, len(payload)) + payload


OFFER = rec(1, b"\x00conn-1")
ACCEPT = rec(3, b"\x00" + NONE)
OPEN = rec(6, b"\x00\x0a\x00\x00\x01")
SEEDS = {
    # flags, records
    "established_stream": b"\x00" + OFFER + ACCEPT + OPEN + rec(6, b"\x01hello")
    + rec(4, inner(2, 1, struct.pack(">I", 65536)) + inner(3, 1, b"world", flags=1))
    + rec(4, inner(5, 1, struct.pack(">H", 1))),
    "established_datagram": b"\x01" + OFFER + ACCEPT + rec(5, b"\x45" + bytes(19)) + rec(6, b"\x02\x45abc")
    + rec(5, b"\xcc"),
    "established_close": b"\x00" + OFFER + ACCEPT + rec(6, b"\x03\x07"),
    "offer_direct_conn1": b"\x01" + rec(2, b"\x00\x00" + NONE + b"conn-1") + ACCEPT,
    "offer_conn2_unpinned": b"\x00" + rec(2, b"\x01\x00" + NONE + b"conn-2") + ACCEPT,
    "offer_conn2_pinned": b"\x01" + rec(2, b"\x01\x00" + NONE + b"conn-2"),
    "offer_other_tenant": b"\x00" + rec(2, b"\x02\x00" + NONE + b"conn-x"),
    "offer_device_credential": b"\x00" + rec(2, b"\x03\x00" + NONE),
    "offer_flipped_credential": b"\x00" + rec(2, b"\x04\x00\x01\x23"),
    "offer_garbage": b"\x00" + rec(2, b"\x05\x00" + NONE + b"\x01\x02\x03"),
    "offer_expired": b"\x00" + rec(7) + OFFER,
    "offer_channel_zero": b"\x00" + rec(1, b"\x01conn-1") + OFFER,
    "accept_flipped": b"\x00" + OFFER + rec(3, b"\x00\x00\x10"),
    "accept_wrong_channel": b"\x00" + OFFER + rec(3, b"\x02" + NONE) + ACCEPT,
    "accept_before_offer": b"\x00" + ACCEPT + OFFER,
    "sealed_before_established": b"\x00" + rec(4, b"xx") + OFFER + ACCEPT + rec(4, b"yy"),
    "raw_close": b"\x00" + OFFER + rec(0, bytes([0x14, 0]) + struct.pack(">H", 2) + b"\x00"),
}

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
