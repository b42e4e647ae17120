#!/usr/bin/env python3
"""How long a rule change takes to reach traffic (bench/nacl.sh, bench/sg.sh).

    rule_latency.py recv PORT LOG [echo]    in the server instance: logs every
                                            datagram as (seq, sent, arrived);
                                            echo: also sends each one back
    rule_latency.py send DST PORT USEC [new]  in a client instance: a datagram
                                            every USEC microseconds; new: each
                                            from the next source port (a new
                                            flow; USEC >= 500 so that a port
                                            comes back after conntrack forgot it)
    rule_latency.py drive LOG OUT LABEL REPS STOP START [EST_LOG]

`drive` runs in the host namespace. STOP and START are commands (one string
each, split like a shell would) that make the probe flow stop and start again:
for a NACL, adding a deny entry and removing it; for a security group, removing
the rule that admits the flow and adding it back. Each repetition runs STOP,
waits, runs START, and reads the receiver's log:
  stop visible  = last arrival after STOP started  - time STOP started
  start visible = first arrival after START started - time START started
and the wall time of each command. All times are time.monotonic(), which every
network namespace shares; an arrival is the kernel's stamp of the datagram
reaching the receiver's socket (SO_TIMESTAMPNS), moved onto that clock. One row per repetition is appended to OUT:
  lat LABEL REP stop_ms stop_wall_ms stop_kernel_ms start_ms start_wall_ms start_kernel_ms gap_ms
      stop_effect_ms start_effect_ms
(kernel_ms: the time vpcd reports for the change; gap_ms: the largest gap
between arrivals while nothing changed, i.e. the probe's resolution; effect_ms:
from vpcd receiving the request to the kernel having the change, as vpcd reports
it.)

EST_LOG: the log of a second flow, established before STOP, that STOP must not
cut (removing a security group's rule keeps tracked flows). Per repetition, a row
  est LABEL REP window_ms sent arrived max_gap_ms max_send_gap_ms quiet_gap_ms
window: from STOP returning to START starting (the rule is surely gone); sent:
how many datagrams were sent in it (by sequence number), arrived: how many of
those arrived; max_gap: the longest silence between arrivals from STOP starting
to START returning, max_send_gap: the longest between their sending (a sender
the scheduler held back), quiet_gap: the longest between arrivals before STOP.
"""
import ctypes
import os
import re
import shlex
import socket
import struct
import subprocess
import sys
import time

REC = struct.Struct("<Qdd")  # seq, sent, arrived
PKT = struct.Struct("!Qd")  # seq, sent
SETTLE = 0.3  # after a command returns, how long the new state is observed


SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # asm-generic/socket.h
TIMESPEC = struct.Struct("qq")
ANC_SIZE = socket.CMSG_SPACE(TIMESPEC.size)


def clock_offset():
    """CLOCK_REALTIME - CLOCK_MONOTONIC, read between two monotonic readings that
    are close together (a reading the scheduler interrupted would be off)."""
    best = None
    for _ in range(5):
        m0 = time.monotonic()
        rt = time.clock_gettime(time.CLOCK_REALTIME)
        m1 = time.monotonic()
        if best is None or m1 - m0 < best[0]:
            best = (m1 - m0, rt - (m0 + m1) / 2)
    return best[1]


def kernel_arrival(anc, offset, now):
    """The kernel's arrival stamp (CLOCK_REALTIME) on the monotonic clock; `now`
    when there is none."""
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= TIMESPEC.size:
            sec, nsec = TIMESPEC.unpack_from(data)
            return sec + nsec * 1e-9 - offset
    return now


def recv(port, log, echo=False):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    # The kernel's time of each datagram's arrival at the socket (SO_TIMESTAMPNS),
    # not the time this process got round to reading it: on two busy CPUs the
    # receiver can be held back by a millisecond, which would count as latency.
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.bind(("0.0.0.0", port))
    s.settimeout(0.01)
    buf = bytearray(64)
    out = bytearray()
    with open(log, "ab", buffering=0) as f:
        last = time.monotonic()
        offset, offset_t = clock_offset(), last
        while True:
            try:
                n, anc, _, peer = s.recvmsg_into([buf], ANC_SIZE)
                t = time.monotonic()
                arrived = kernel_arrival(anc, offset, t)
                if echo:
                    try:
                        s.sendto(buf[:n], peer)
                    except OSError:
                        pass
                if n >= PKT.size:
                    seq, sent = PKT.unpack_from(buf)
                    out += REC.pack(seq, sent, arrived)
            except socket.timeout:
                t = time.monotonic()
            # Flush often, and always when traffic pauses (a deny is in force).
            if out and t - last > 0.005:
                f.write(out)
                out.clear()
                last = t
            if t - offset_t > 1:  # the clocks' offset moves when NTP steps the clock
                offset, offset_t = clock_offset(), t


# `new` flows take the source ports in turn, so that a port comes back only after
# all the others: conntrack forgets an unanswered UDP flow 30 s after its last
# datagram, and a flow it still tracks is let through whatever the rules say
# (a security group keeps tracked flows). The turn follows the clock, one port per
# USEC, so that a sender started after another (the next case) goes on where the
# clock is rather than at the ports just used; the caller chooses USEC so that a
# round (64,512 ports) lasts longer than 30 s.
NEW_PORTS = range(1024, 65536)


def bind_next(s, last, step):
    p = NEW_PORTS.start + int(time.monotonic() / step) % len(NEW_PORTS)
    for _ in range(64):
        if p != last:
            try:
                s.bind(("0.0.0.0", p))
                return p
            except OSError:
                pass  # in use by another socket here: the next one
        p = p + 1 if p + 1 in NEW_PORTS else NEW_PORTS.start
    return last


def send(dst, port, usec, new=False):
    # Timer slack down to 1 ns (PR_SET_TIMERSLACK), so that sleeps end on time.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(29, 1, 0, 0, 0)
    except OSError:
        pass
    s = None
    sport = 0
    step = usec / 1e6
    seq = 0
    nxt = time.monotonic()
    while True:
        seq += 1
        if s is None:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            if new:
                sport = bind_next(s, sport, step)
            s.connect((dst, port))
            # A flow's replies (echo) are never read: keep them from piling up.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            s.send(PKT.pack(seq, time.monotonic()))
        except OSError:
            pass  # ICMP port unreachable before the receiver is up
        if new:
            # Next datagram from the next source port: a flow conntrack does not
            # track (see bind_next).
            s.close()
            s = None
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
    e = re.search(r"in effect after ([0-9.]+) ms", p.stdout)
    return (t0, t1, float(m.group(1)) if m else float("nan"),
            float(e.group(1)) if e else float("nan"))


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


def gaps(ts):
    return [b - a for a, b in zip(ts, ts[1:])]


def drive(log, out, label, reps, stop_cmd, start_cmd, est_log=None):
    stop, start = shlex.split(stop_cmd), shlex.split(start_cmd)
    rows = []
    for rep in range(1, reps + 1):
        for lg in [log] + ([est_log] if est_log else []):
            if not wait_flowing(lg):
                sys.exit("%s: no traffic arrives (before repetition %d)" % (lg, rep))
        offsets = {lg: os.path.getsize(lg) // REC.size * REC.size for lg in (log, est_log) if lg}
        t_quiet = time.monotonic()
        time.sleep(0.1)  # a stretch of undisturbed traffic, for the resolution
        a0, a1, a_kern, a_eff = run(stop)
        time.sleep(max(0.0, a1 + SETTLE - time.monotonic()))
        r0, r1, r_kern, r_eff = run(start)
        wait_flowing(log)
        time.sleep(0.02)
        arr = sorted(r[2] for r in records(log, offsets[log])[0])
        before = [t for t in arr if a0 <= t < r0]
        after = [t for t in arr if t >= r0]
        quiet = [t for t in arr if t_quiet <= t < a0]
        gap = max(gaps(quiet), default=float("nan"))
        if before and r0 - before[-1] < 0.05:
            sys.exit("%s rep %d: traffic still arrived %.0f ms after `%s` returned" % (
                label, rep, (before[-1] - a1) * 1e3, stop_cmd))
        if not after:
            sys.exit("%s rep %d: the flow did not come back after `%s`" % (label, rep, start_cmd))
        stopped = (before[-1] - a0) if before else 0.0
        started = after[0] - r0
        rows.append("lat\t%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\n" % (
            label, rep, stopped * 1e3, (a1 - a0) * 1e3, a_kern, started * 1e3, (r1 - r0) * 1e3,
            r_kern, gap * 1e3, a_eff, r_eff))
        if est_log:
            recs = sorted(records(est_log, offsets[est_log])[0], key=lambda r: r[2])
            # Sent while the rule was surely absent: the sequence numbers tell how
            # many were sent (a slow sender is not a lost datagram).
            prev = max((r[0] for r in recs if r[1] < a1), default=None)
            nxt = min((r[0] for r in recs if r[1] >= r0), default=None)
            if prev is None or nxt is None:
                sys.exit("%s rep %d: the established flow did not run" % (label, rep))
            win = [r for r in recs if prev < r[0] < nxt]
            sent = nxt - prev - 1
            # Arrival gaps from the last arrival before STOP to the first after START
            # returned; the sender's own gaps over the same datagrams.
            lo = max((i for i, r in enumerate(recs) if r[2] < a0), default=0)
            hi = min((i for i, r in enumerate(recs) if r[2] >= r1), default=len(recs) - 1)
            span = recs[lo:hi + 1]
            quiet = [r[2] for r in recs if t_quiet <= r[2] < a0]
            rows.append("est\t%s\t%d\t%.1f\t%d\t%d\t%.3f\t%.3f\t%.3f\n" % (
                label, rep, (r0 - a1) * 1e3, sent, len(win),
                max(gaps([r[2] for r in span]), default=float("nan")) * 1e3,
                max(gaps(sorted(r[1] for r in span)), default=float("nan")) * 1e3,
                max(gaps(quiet), default=float("nan")) * 1e3))
    with open(out, "a") as f:
        f.writelines(rows)


def main():
    a = sys.argv[1:]
    if a[:1] == ["recv"] and len(a) in (3, 4) and a[3:] in ([], ["echo"]):
        recv(int(a[1]), a[2], echo=a[3:] == ["echo"])
    elif a[:1] == ["send"] and len(a) in (4, 5) and a[4:] in ([], ["new"]):
        send(a[1], int(a[2]), float(a[3]), new=a[4:] == ["new"])
    elif a[:1] == ["drive"] and len(a) in (7, 8):
        drive(a[1], a[2], a[3], int(a[4]), *a[5:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
