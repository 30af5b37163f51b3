#!/usr/bin/env python3
"""Writes the seed corpus of vnet_segments_fuzzer (the input format is in fuzz/vnet_segments_fuzzer.cc: a mode byte,
a 10-byte virtio_net_hdr in host order, then an IPv4 packet).

Run from the repository root: python3 fuzz/corpus_gen/vnet_segments_seeds.py fuzz/corpus/vnet_segments
The header is written little-endian (every machine we build for); the packets carry correct IPv4 checksums and, as
the kernel hands them over with NEEDS_CSUM, the pseudo-header's sum in the TCP or UDP checksum field.
"""
import os
import struct
import sys

NEEDS_CSUM, DATA_VALID = 1, 2
GSO_NONE, GSO_TCPV4, GSO_UDP, GSO_ECN = 0, 1, 3, 0x80
ACK, PSH, FIN, CWR, ECE = 0x10, 0x08, 0x01, 0x80, 0x40
# Mode bits: 0x01 total_length, 0x02 IPv4 checksum, 0x04 pseudo-header sum in the field; 0x08 * k picks max_packet
# (576, 1420, 9000, 65535); 0x20 odd address.
FIX_ALL, MTU_576, MTU_1420, MTU_9000 = 0x07, 0x00, 0x08, 0x10


def fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def csum(b):
    if len(b) % 2:
        b += b"\0"
    return ~fold(sum(struct.unpack("!%dH" % (len(b) // 2), b))) & 0xFFFF


def addr(text):
    return bytes(int(x) for x in text.split("."))


SRC, DST = "10.0.0.2", "93.184.216.34"


def ip(proto, payload, ident=0x1234, frag=0x4000, options=b""):
    ihl = (20 + len(options)) // 4
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(options) + len(payload), ident, frag, 64, proto, 0,
                    addr(SRC), addr(DST)) + options
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def pseudo(proto, length):
    a, b = addr(SRC), addr(DST)
    return fold(sum(struct.unpack("!4H", a + b)) + proto + length)


TIMESTAMPS = bytes([1, 1, 8, 10, 0x1B, 0x3C, 0x5D, 0x7E, 0, 0x11, 0x22, 0x33])


def tcp(flags, data, options=TIMESTAMPS, seq=0x6C1D2E3F):
    seg = struct.pack("!HHIIBBHHH", 51234, 443, seq, 0x01020304, (20 + len(options)) // 4 << 4, flags, 64240, 0, 0)
    seg += options + data
    return seg[:16] + struct.pack("!H", pseudo(6, len(seg))) + seg[18:]


def udp(data):
    seg = struct.pack("!HHHH", 53535, 53, 8 + len(data), 0) + data
    return seg[:6] + struct.pack("!H", pseudo(17, len(seg))) + seg[8:]


def vnet(flags, gso_type, hdr_len=0, gso_size=0, csum_start=0, csum_offset=0):
    return struct.pack("<BBHHHH", flags, gso_type, hdr_len, gso_size, csum_start, csum_offset)


def data(n):
    return bytes((i * 7 + (i >> 8)) & 0xFF for i in range(n))


def gso(seg_size, flags, n, gso_type=GSO_TCPV4, options=b""):
    hl = 20 + len(options)
    return vnet(NEEDS_CSUM, gso_type, hl + 32, seg_size, hl, 16) + ip(6, tcp(flags, data(n)), options=options)


def main(out):
    os.makedirs(out, exist_ok=True)
    seeds = {
        "gso_8k": bytes([FIX_ALL | MTU_1420]) + gso(1368, ACK | PSH, 8000),
        "gso_odd_address": bytes([FIX_ALL | MTU_1420 | 0x20]) + gso(1368, ACK | PSH, 5001),
        "gso_ecn_fin_ip_options": bytes([FIX_ALL | MTU_1420]) +
        gso(1000, ACK | PSH | FIN | CWR | ECE, 3000, GSO_TCPV4 | GSO_ECN, options=bytes([0x94, 4, 0, 0])),
        "gso_known_answer": bytes([0]) + vnet(0, GSO_TCPV4, 40, 3) +
        bytes.fromhex("4500002d00014000400626c80a0000020a000001100000500000010000000200501810004eae00006162636465"),
        "gso_too_many_segments": bytes([FIX_ALL | MTU_9000]) + gso(38, ACK, 5000),
        "gso_above_mtu": bytes([FIX_ALL | MTU_576]) + gso(1368, ACK, 3000),
        "gso_on_udp": bytes([FIX_ALL | MTU_1420]) + vnet(NEEDS_CSUM, GSO_UDP, 28, 1000, 20, 6) + ip(17, udp(data(3000))),
        "needs_csum_tcp": bytes([FIX_ALL | MTU_1420]) + vnet(NEEDS_CSUM, GSO_NONE, 0, 0, 20, 16) +
        ip(6, tcp(ACK | PSH, data(1001))),
        "needs_csum_udp": bytes([FIX_ALL | MTU_1420]) + vnet(NEEDS_CSUM, GSO_NONE, 0, 0, 20, 6) + ip(17, udp(data(333))),
        "data_valid": bytes([0x03 | MTU_1420]) + vnet(DATA_VALID, GSO_NONE) + ip(17, udp(data(40))),
        "complete_ack": bytes([0x03 | MTU_1420]) + vnet(0, GSO_NONE) + ip(6, tcp(ACK, b"")),
    }
    for name, blob in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(blob)


if __name__ == "__main__":
    main(sys.argv[1])
