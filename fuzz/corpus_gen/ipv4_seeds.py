#!/usr/bin/env python3
"""Writes the seed corpus of ipv4_fuzzer (the input format is in fuzz/ipv4_fuzzer.cc: a mode byte, then a packet).

Run from the repository root: python3 fuzz/corpus_gen/ipv4_seeds.py fuzz/corpus/ipv4
The packets carry correct checksums (computed here), so the seeds reach the clamp and the ICMP errors as they are.
"""
import os
import struct
import sys


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def addr(text):
    return bytes(int(x) for x in text.split("."))


def ip(src, dst, proto, payload, ident=0x1234, frag=0x4000, options=b""):
    ihl = (20 + len(options)) // 4
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(options) + len(payload), ident, frag, 64, proto, 0,
                    addr(src), addr(dst)) + options
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def l4sum(src, dst, proto, seg):
    return csum(addr(src) + addr(dst) + struct.pack("!BBH", 0, proto, len(seg)) + seg)


def tcp(src, dst, flags, options=b"", data=b""):
    seg = struct.pack("!HHIIBBHHH", 51234, 443, 0x6C1D2E3F, 0, (20 + len(options)) // 4 << 4, flags, 64240, 0, 0)
    seg += options + data
    return seg[:16] + struct.pack("!H", l4sum(src, dst, 6, seg)) + seg[18:]


def udp(src, dst, data):
    seg = struct.pack("!HHHH", 53535, 53, 8 + len(data), 0) + data
    return seg[:6] + struct.pack("!H", l4sum(src, dst, 17, seg)) + seg[8:]


def icmp(type_, code, rest, body):
    m = struct.pack("!BB", type_, code) + b"\0\0" + rest + body
    return m[:2] + struct.pack("!H", csum(m)) + m[4:]


A, B, DNS, G = "10.0.0.2", "93.184.216.34", "1.1.1.1", "8.8.8.8"
LINUX_SYN_OPTIONS = bytes.fromhex("020405b40402080a1b3c5d7e0000000001030307")
ODD_MSS_OPTIONS = bytes.fromhex("0102042328010101")  # NOP, MSS 9000 at an odd offset, NOPs
DNS_QUERY = struct.pack("!HHHHHH", 0xBEEF, 0x0100, 1, 0, 0, 0) + b"\x07example\x03com\x00" + struct.pack("!HH", 1, 1)

LIMIT_1380 = 0x04  # mode bits 2-3: the clamp limit 1380
SEEDS = {
    "syn_mss": bytes([LIMIT_1380]) + ip(A, B, 6, tcp(A, B, 0x02, LINUX_SYN_OPTIONS)),
    "synack_odd_mss": bytes([LIMIT_1380]) + ip(B, A, 6, tcp(B, A, 0x12, ODD_MSS_OPTIONS)),
    "syn_no_mss": bytes([LIMIT_1380]) + ip(A, B, 6, tcp(A, B, 0x02, bytes.fromhex("01010402"))),
    "ack_data": bytes([0]) + ip(A, B, 6, tcp(A, B, 0x18, b"", b"GET / HTTP/1.1\r\n\r\n")),
    "udp_dns": bytes([0]) + ip(A, DNS, 17, udp(A, DNS, DNS_QUERY), frag=0),
    "echo_request": bytes([0]) + ip(A, G, 1, icmp(8, 0, struct.pack("!HH", 0x1234, 1), bytes(range(16, 72)))),
    "time_exceeded": bytes([0]) + ip(G, A, 1, icmp(11, 0, b"\0\0\0\0", ip(A, B, 17, udp(A, B, b"x"))[:28])),
    "fragment_first": bytes([0x10]) + ip(A, DNS, 17, udp(A, DNS, bytes(1472))[:1480], frag=0x2000),
    "fragment_last": bytes([0]) + ip(A, DNS, 17, bytes(528), frag=185),
    "ip_options_gre": bytes([0]) + ip(A, B, 47, b"\0\0\x08\0", options=b"\x94\x04\0\0"),
    # Checksums left for the fuzzer to fill in (mode bits 0 and 1): a mutated header still parses.
    "syn_fix_checksums": bytes([0x03 | LIMIT_1380]) + ip(A, B, 6, tcp(A, B, 0x02, LINUX_SYN_OPTIONS))[:10] + b"\0\0"
    + ip(A, B, 6, tcp(A, B, 0x02, LINUX_SYN_OPTIONS))[12:],
}

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
