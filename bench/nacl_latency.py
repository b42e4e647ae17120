#!/usr/bin/env python3
"""How long a NACL entry change takes to reach traffic (bench/nacl.sh).

    nacl_latency.py recv PORT LOG           in the server instance: logs every
                                            datagram as (seq, sent, arrived)
    nacl_latency.py send DST PORT USEC      in the client instance: a datagram
                                            every USEC microseconds
    nacl_latency.py drive LOG OUT N REPS VPCCTL VPC NACL RULE CIDR PORT

`drive` runs in the host namespace. Each repetition adds an inbound deny entry
for the probe flow, waits, removes it, and reads the receiver's log:
  deny visible  = last arrival after the add started  - time the add started
  allow visible = first arrival after the remove started - time it started
and the wall time of each vpcctl command. All times are time.monotonic(), which
every network namespace shares. One row per repetition is appended to OUT:
  lat N REP deny_ms deny_wall_ms deny_kernel_ms allow_ms allow_wall_ms allow_kernel_ms gap_ms
(kernel_ms: what vpcd reports for its kernel operations; gap_ms: the largest gap
between arrivals while nothing changed, i.e. the probe's resolution.)
"""
import ctypes
import os
import re
import socket
import struct
import subprocess
import sys
import time

REC = struct.Struct("<Qdd")  # seq, sent, arrived
PKT = struct.Struct("!Qd")  # seq, sent
SETTLE = 0.3  # after a command returns, how long the new state is observed


def recv(port, log):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind(("0.0.0.0", port))
    s.settimeout(0.01)
    buf = bytearray(64)
    out = bytearray()
    with open(log, "ab", buffering=0) as f:
        last = time.monotonic()
        while True:
            try:
                n = s.recv_into(buf)
                t = time.monotonic()
                if n >= PKT.size:
                    seq, sent = PKT.unpack_from(buf)
                    out += REC.pack(seq, sent, t)
            except socket.timeout:
                t = time.monotonic()
            # Flush often, and always when traffic pauses (a deny is in force).
            if out and t - last > 0.005:
                f.write(out)
                out.clear()
                last = t


def send(dst, port, usec):
    # Timer slack down to 1 ns (PR_SET_TIMERSLACK), so that sleeps end on time.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(29, 1, 0, 0, 0)
    except OSError:
        pass
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((dst, port))
    step = usec / 1e6
    seq = 0
    nxt = time.monotonic()
    while True:
        seq += 1
        try:
            s.send(PKT.pack(seq, time.monotonic()))
        except OSError:
            pass  # ICMP port unreachable before the receiver is up
        nxt += step
        d = nxt - time.monotonic()
        if d > 0:
            time.sleep(d)
        elif d < -0.005:
            nxt = time.monotonic()  # fell behind: carry on, do not burst


def records(log, offset):
    with open(log, "rb") as f:
        f.seek(offset)
        data = f.read()
    n = len(data) // REC.size
    return [REC.unpack_from(data, i * REC.size) for i in range(n)], offset + n * REC.size


def run(cmd):
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    t1 = time.monotonic()
    if p.returncode:
        sys.exit("command failed (%d): %s\n%s%s" % (p.returncode, " ".join(cmd), p.stdout, p.stderr))
    m = re.search(r" in ([0-9.]+) ms", p.stdout)
    return t0, t1, float(m.group(1)) if m else float("nan")


def wait_flowing(log, timeout=3.0):
    """Until a datagram arrived in the last 20 ms."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        size = os.path.getsize(log) if os.path.exists(log) else 0
        if size >= REC.size:
            # The file may grow while we read: take the last whole record.
            recs, _ = records(log, (size // REC.size - 1) * REC.size)
            if recs and time.monotonic() - recs[-1][2] < 0.02:
                return True
        time.sleep(0.01)
    return False


def drive(log, out, n, reps, vpcctl, vpc, nacl, rule, cidr, port):
    add = [vpcctl, "nacl", "entry", "add", vpc, nacl, "--inbound", "--rule", rule,
           "--protocol", "udp", "--ports", port, "--cidr", cidr, "--action", "deny"]
    remove = [vpcctl, "nacl", "entry", "remove", vpc, nacl, "--inbound", "--rule", rule]
    rows = []
    for rep in range(1, reps + 1):
        if not wait_flowing(log):
            sys.exit("the probe flow does not arrive (before repetition %d)" % rep)
        time.sleep(0.1)  # a stretch of undisturbed traffic, for the resolution
        offset = os.path.getsize(log) // REC.size * REC.size
        t_quiet = time.monotonic() - 0.1
        a0, a1, a_kern = run(add)
        time.sleep(max(0.0, a1 + SETTLE - time.monotonic()))
        r0, r1, r_kern = run(remove)
        wait_flowing(log)
        time.sleep(0.02)
        recs, _ = records(log, offset)
        arr = sorted(r[2] for r in recs)
        before = [t for t in arr if a0 <= t < r0]
        after = [t for t in arr if t >= r0]
        quiet = [t for t in arr if t_quiet <= t < a0]
        gap = max((b - a for a, b in zip(quiet, quiet[1:])), default=float("nan"))
        if before and r0 - before[-1] < 0.05:
            sys.exit("rules=%d rep %d: the deny did not stop the flow within %.0f ms of "
                     "vpcctl returning" % (n, rep, SETTLE * 1000))
        if not after:
            sys.exit("rules=%d rep %d: the flow did not come back after the remove" % (n, rep))
        deny = (before[-1] - a0) if before else 0.0
        allow = after[0] - r0
        rows.append("lat\t%d\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\n" % (
            n, rep, deny * 1e3, (a1 - a0) * 1e3, a_kern, allow * 1e3, (r1 - r0) * 1e3, r_kern,
            gap * 1e3))
    with open(out, "a") as f:
        f.writelines(rows)


def main():
    a = sys.argv[1:]
    if a[:1] == ["recv"] and len(a) == 3:
        recv(int(a[1]), a[2])
    elif a[:1] == ["send"] and len(a) == 4:
        send(a[1], int(a[2]), float(a[3]))
    elif a[:1] == ["drive"] and len(a) == 11:
        drive(a[1], a[2], int(a[3]), int(a[4]), *a[5:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
