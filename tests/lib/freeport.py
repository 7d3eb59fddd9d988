#!/usr/bin/python3
"""Print free TCP ports on 127.0.0.1.

    freeport.py [--count N] [--block K] [--range LO HI] [--exclude P ...]
    freeport.py --check PORT      (exit 0 if PORT is free, 1 if not)

Prints N ports, one per line, chosen at random in [LO, HI) (default
20000-32000: high, but below Linux's ephemeral range 32768-60999 so that
outgoing connections never take them). With --block K each printed port is
the first of K consecutive free ports. A port is free when binding
127.0.0.1:port without SO_REUSEADDR succeeds (this also fails when something
is bound to 0.0.0.0:port) and nothing accepts a connection on it.
"""
import argparse
import random
import socket
import sys


def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        return False
    finally:
        s.close()
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.settimeout(0.2)
    try:
        c.connect(("127.0.0.1", port))
        return False
    except OSError:
        return True
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--block", type=int, default=1)
    ap.add_argument("--range", nargs=2, type=int, default=[20000, 32000])
    ap.add_argument("--exclude", nargs="*", type=int, default=[])
    ap.add_argument("--check", type=int)
    a = ap.parse_args()
    if a.check is not None:
        return 0 if port_free(a.check) else 1
    lo, hi = a.range
    taken = set(a.exclude)
    out = []
    rng = random.SystemRandom()
    for _ in range(a.count):
        for _attempt in range(2000):
            base = rng.randrange(lo, hi - a.block + 1)
            block = range(base, base + a.block)
            if any(p in taken for p in block):
                continue
            if all(port_free(p) for p in block):
                taken.update(block)
                out.append(base)
                break
        else:
            print("freeport: no free port block found in %d-%d" % (lo, hi), file=sys.stderr)
            return 1
    print("\n".join(str(p) for p in out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
