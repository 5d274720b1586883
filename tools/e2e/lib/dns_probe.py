"""Exit 0 when the cluster DNS at ADDRESS answers an A query for NAME with an address.

Used by tools/e2e/up to check the whole data path from the host (kube-proxy's service rules,
the pod network, CoreDNS itself) instead of trusting a pod status that may be stale after a restart.
Usage: python3 dns_probe.py ADDRESS NAME
"""

import random
import socket
import struct
import sys


def query(server: str, name: str) -> list[str]:
    qid = random.randrange(65536)
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    packet += b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    packet += struct.pack(">HH", 1, 1)  # type A, class IN
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(packet, (server, 53))
        data, _ = sock.recvfrom(4096)
    rid, flags, _qd, ancount, _ns, _ar = struct.unpack(">HHHHHH", data[:12])
    if rid != qid or flags & 0x000F:
        return []
    pos = 12 + len(packet) - 12  # skip the echoed question
    found = []
    for _ in range(ancount):
        if data[pos] & 0xC0 == 0xC0:
            pos += 2
        else:
            while data[pos]:
                pos += data[pos] + 1
            pos += 1
        rtype, _cls, _ttl, rdlen = struct.unpack(">HHIH", data[pos : pos + 10])
        pos += 10
        if rtype == 1 and rdlen == 4:
            found.append(socket.inet_ntoa(data[pos : pos + 4]))
        pos += rdlen
    return found


if __name__ == "__main__":
    try:
        answers = query(sys.argv[1], sys.argv[2])
    except OSError as exc:
        print(f"no answer: {exc}", file=sys.stderr)
        sys.exit(1)
    print(" ".join(answers))
    sys.exit(0 if answers else 1)
