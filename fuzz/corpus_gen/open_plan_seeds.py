#!/usr/bin/env python3
"""Writes the seed corpus of open_plan_fuzzer (the input format is in fuzz/open_plan_fuzzer.cc).

Run from the repository root: python3 fuzz/corpus_gen/open_plan_seeds.py fuzz/corpus/open_plan
"""
import ipaddress
import os
import struct
import sys


def rule(net, prefix, first, last, deny=False):
    a = ipaddress.ip_address(net)
    return bytes([(a.version == 6) | (deny << 1), prefix]) + a.packed + struct.pack(">HH", first, last)


def target_ip(addr, port):
    a = ipaddress.ip_address(addr)
    return bytes([0 if a.version == 4 else 1]) + struct.pack(">HB", port, 0) + a.packed


def target_name(name, port):
    n = name.encode()
    return bytes([2]) + struct.pack(">HB", port, len(n)) + n


def answer(error, *addrs):
    out = bytes([error])
    for s in addrs:
        a = ipaddress.ip_address(s)
        out += bytes([a.version == 6]) + a.packed
    return out


RULES = bytes([7, 3]) + rule("10.0.0.0", 8, 1, 65535) + rule("10.9.0.0", 16, 443, 443, deny=True) + \
    rule("2001:db8::", 32, 80, 443)
SEEDS = {
    "ipv4_allowed": RULES + target_ip("10.1.2.3", 443),
    "ipv4_denied": RULES + target_ip("10.9.1.1", 443),
    "ipv4_unspecified": RULES + target_ip("0.0.0.0", 443),
    "ipv6_allowed": RULES + target_ip("2001:db8::7", 80),
    "ipv6_mapped": RULES + target_ip("::ffff:10.1.2.3", 22),
    "name_literal": RULES + target_name("10.1.2.3", 443),
    "name_by_cidr": RULES + target_name("git.example", 22) + answer(0, "10.9.1.1", "10.1.1.1", "192.0.2.1", "::"),
    "name_by_host": RULES + target_name("x.corp.example", 443) + answer(0, "192.0.2.1", "10.9.0.1", "0.0.0.0"),
    "name_denied_host": RULES + target_name("bad.corp.example", 443),
    "name_dns_failed": RULES + target_name("intranet.example", 443) + answer(2),
    "name_no_address": RULES + target_name("intranet.example", 443) + answer(0),
    "name_invalid": RULES + target_name("bad..name", 443),
    "port_zero": RULES + target_name("x.corp.example", 0),
    "no_rules": bytes([0, 0]) + target_name("x.corp.example", 443) + answer(0, "10.1.1.1"),
}

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
