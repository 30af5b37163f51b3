#!/usr/bin/env python3
"""Writes the seed corpus of netlink_reply_fuzzer: netlink datagrams as the kernel sends them to RtNetlink
(runtime/netlink.h), host (little-endian) byte order.

Run from the repository root: python3 fuzz/corpus_gen/netlink_reply_seeds.py fuzz/corpus/netlink_reply
"""
import os
import struct
import sys

NLMSG_ERROR, NLMSG_DONE, RTM_NEWROUTE = 2, 3, 24
NLM_F_MULTI, NLM_F_CAPPED, NLM_F_ACK_TLVS = 0x2, 0x100, 0x200
NLMSGERR_ATTR_MSG = 1
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PREFSRC, RTA_TABLE, RTA_PRIORITY = 1, 4, 5, 7, 15, 6
AF_INET, AF_INET6 = 2, 10
EEXIST, EINVAL, ESRCH = 17, 22, 3


def pad(b):
    return b + bytes(-len(b) % 4)


def msg(mtype, flags, seq, body, pid=4242):
    return pad(struct.pack("<IHHII", 16 + len(body), mtype, flags, seq, pid) + body)


def attr(atype, value):
    return pad(struct.pack("<HH", 4 + len(value), atype) + value)


def request_header(seq, body_len=12):
    return struct.pack("<IHHII", 16 + body_len, RTM_NEWROUTE, 0x605, seq, 0)


def error(seq, err, text=None, capped=True):
    body = struct.pack("<i", -err) + request_header(seq)
    if not capped:
        body += bytes(12)  # the echoed request's body
    flags = NLM_F_CAPPED if capped else 0
    if text is not None:
        body += attr(NLMSGERR_ATTR_MSG, text.encode() + b"\0")
        flags |= NLM_F_ACK_TLVS
    return msg(NLMSG_ERROR, flags, seq, body)


def route(dst, dst_len, oif, table=254, scope=253, extra=b""):
    body = struct.pack("<BBBBBBBBI", AF_INET, dst_len, 0, 0, table if table < 256 else 0, 4, scope, 1, 0)
    if dst_len:
        body += attr(RTA_DST, bytes(dst))
    body += attr(RTA_TABLE, struct.pack("<I", table)) + attr(RTA_OIF, struct.pack("<i", oif)) + extra
    return msg(RTM_NEWROUTE, NLM_F_MULTI, 7, body)


def done(seq, err=0):
    return msg(NLMSG_DONE, NLM_F_MULTI, seq, struct.pack("<i", -err))


SEEDS = {
    "ack": error(1, 0),
    "error_eexist_ext_ack": error(2, EEXIST, "Route already exists"),
    "error_einval_uncapped_ext_ack": error(3, EINVAL, "Invalid prefix for given prefix length", capped=False),
    "error_esrch_plain": error(4, ESRCH),
    "route_dump": route([10, 20, 0, 0], 16, 5) + route([100, 96, 0, 2], 32, 5, table=255, scope=254,
                                                        extra=attr(RTA_PREFSRC, bytes([100, 96, 0, 2])))
                  + route([0, 0, 0, 0], 0, 2, extra=attr(RTA_GATEWAY, bytes([192, 168, 1, 1]))
                          + attr(RTA_PRIORITY, struct.pack("<I", 100)))
                  + done(7),
    "route_table_1000": route([10, 20, 0, 0], 16, 5, table=1000) + done(7),
    "dump_failed": route([10, 0, 0, 0], 8, 3) + done(7, 16),
    "stale_then_ack": error(1, 0) + error(2, 0),
    "route_ipv6": msg(RTM_NEWROUTE, NLM_F_MULTI, 7, struct.pack("<BBBBBBBBI", AF_INET6, 64, 0, 0, 254, 4, 0, 1, 0)),
    "length_past_end": struct.pack("<IHHII", 400, NLMSG_ERROR, 0, 1, 0) + bytes(20),
    "length_below_header": struct.pack("<IHHII", 8, NLMSG_DONE, 0, 1, 0),
    "error_too_short": msg(NLMSG_ERROR, 0, 1, struct.pack("<i", -1)),
}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
