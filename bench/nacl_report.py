#!/usr/bin/env python3
"""Rows and tables of bench/nacl.sh.

    nacl_report.py udp CFG N REP IPERF_JSON RX_BEFORE RX_AFTER   prints a udp row
    nacl_report.py tcp CFG N REP IPERF_JSON                      prints a tcp row
    nacl_report.py table RESULTS                                 prints the tables

Result rows (tab-separated):
  udp CFG N REP recv_pps sent_pps wire_pps sender_cpu_pct interval_pps,...
  tcp CFG N REP gbit_s retransmits interval_mbit_s,...
  lat ...  (see nacl_latency.py)
  apply N wall_ms kernel_ms
recv_pps is what iperf3's receiver got per second (datagrams minus lost ones);
wire_pps what reached the server instance's eth0, per second of sending.
"""
import json
import statistics
import sys

CFGS = ("raw", "vpcd", "ipt")


def iperf(path):
    with open(path) as f:
        d = json.load(f)
    if "error" in d:
        sys.exit("iperf3: %s" % d["error"])
    return d["end"]


def intervals(d, key):
    """The sender's rate in each reporting interval (-i), full intervals only."""
    out = []
    for iv in d["intervals"]:
        s = iv["sum"]
        if s["seconds"] >= 0.4:  # of 0.5 s (bench/nacl.sh runs iperf3 -i 0.5)
            out.append(key(s) / s["seconds"])
    return ",".join("%.0f" % x for x in out) or "-"


def udp_row(cfg, n, rep, path, rx0, rx1):
    e = iperf(path)
    s, r = e["sum_sent"], e["sum_received"]
    recv = (r["packets"] - r["lost_packets"]) / r["seconds"]
    sent = s["packets"] / s["seconds"]
    wire = (int(rx1) - int(rx0)) / s["seconds"]
    cpu = e["cpu_utilization_percent"]["host_total"]
    with open(path) as f:
        iv = intervals(json.load(f), lambda x: x["packets"])
    print("udp\t%s\t%s\t%s\t%.0f\t%.0f\t%.0f\t%.1f\t%s" % (cfg, n, rep, recv, sent, wire, cpu, iv))


def tcp_row(cfg, n, rep, path):
    e = iperf(path)
    gbps = e["sum_received"]["bits_per_second"] / 1e9
    with open(path) as f:
        iv = intervals(json.load(f), lambda x: x["bytes"] * 8 / 1e6)  # Mbit
    print("tcp\t%s\t%s\t%s\t%.3f\t%d\t%s" % (cfg, n, rep, gbps, e["sum_sent"].get("retransmits", 0),
                                             iv))


def load(path):
    rows = {}
    with open(path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            rows.setdefault(p[0], []).append(p[1:])
    return rows


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def kpps(x):
    return "%.1fk" % (x / 1e3)


def spread(xs, fmt):
    """min-max, and the range as a share of the median."""
    if not xs:
        return "-"
    m = med(xs)
    return "%s-%s (±%.0f%%)" % (fmt(min(xs)), fmt(max(xs)), 50 * (max(xs) - min(xs)) / m if m else 0)


def pct(a, b):
    return "%.0f%%" % (100 * a / b) if b else "-"


def table(head, rows, align=None):
    w = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    fmt = lambda r: " | ".join(str(c).rjust(w[i]) if i == 0 else str(c).ljust(w[i])
                               for i, c in enumerate(r)).rstrip()
    print(fmt(head))
    print("-+-".join("-" * x for x in w))
    for r in rows:
        print(fmt(r))


def report(path):
    rows = load(path)
    udp, tcp = {}, {}  # (cfg, N) -> {rep: values}
    ivs = {}  # ("udp"|"tcp", cfg, N) -> every interval's rate, all repetitions
    for cfg, n, rep, recv, sent, wire, cpu, iv in rows.get("udp", []):
        udp.setdefault((cfg, int(n)), {})[int(rep)] = (float(recv), float(sent), float(wire),
                                                       float(cpu))
        ivs.setdefault(("udp", cfg, int(n)), []).extend(float(x) for x in iv.split(",") if x != "-")
    for cfg, n, rep, gbps, retr, iv in rows.get("tcp", []):
        tcp.setdefault((cfg, int(n)), {})[int(rep)] = (float(gbps), int(retr))
        ivs.setdefault(("tcp", cfg, int(n)), []).extend(float(x) / 1e3 for x in iv.split(",")
                                                        if x != "-")
    sizes = sorted({n for _, n in list(udp) + list(tcp)})

    def u(cfg, n, i=0):
        return [x[i] for x in udp.get((cfg, n), {}).values()]

    def t(cfg, n):
        return [x[0] for x in tcp.get((cfg, n), {}).values()]

    def ratios(d, cfg, n):
        """cfg / no-program, repetition by repetition (they ran seconds apart)."""
        a, b = d.get((cfg, n), {}), d.get(("raw", n), {})
        return [a[r][0] / b[r][0] for r in sorted(a) if r in b and b[r][0]]

    def share(d, cfg, n):
        r = ratios(d, cfg, n)
        return "%.0f%%" % (100 * med(r)) if r else "-"

    print("Forwarding through the router namespace, client subnet -> server subnet")
    print("(medians; % = median over the repetitions of the figure / no-program's figure")
    print(" measured in the same repetition, seconds apart)")
    print()
    out = []
    for n in sizes:
        out.append(["{:,}".format(n), kpps(med(u("raw", n))),
                    "%s (%s)" % (kpps(med(u("vpcd", n))), share(udp, "vpcd", n)),
                    "%s (%s)" % (kpps(med(u("ipt", n))), share(udp, "ipt", n)),
                    "%.2f" % med(t("raw", n)),
                    "%.2f (%s)" % (med(t("vpcd", n)), share(tcp, "vpcd", n)),
                    "%.2f (%s)" % (med(t("ipt", n)), share(tcp, "ipt", n))])
    table(["N", "no-program pps", "vpcd pps (%)", "iptables pps (%)", "no-program TCP Gbit/s",
           "vpcd TCP (%)", "iptables TCP (%)"], out)
    print()
    print("Noise: min-max over the repetitions; ± = half the range as a share of the median;")
    print("[a-b%] = range of the per-repetition share of no-program")
    print()
    out = []
    g = lambda x: "%.2f" % x
    for n in sizes:
        row = ["{:,}".format(n), spread(u("raw", n), kpps)]
        for c in ("vpcd", "ipt"):
            r = ratios(udp, c, n)
            row.append("%s [%.0f-%.0f%%]" % (spread(u(c, n), kpps), 100 * min(r), 100 * max(r))
                       if r else "-")
        row.append(spread(t("raw", n), g))
        for c in ("vpcd", "ipt"):
            r = ratios(tcp, c, n)
            row.append("%s [%.0f-%.0f%%]" % (spread(t(c, n), g), 100 * min(r), 100 * max(r))
                       if r else "-")
        out.append(row)
    table(["N", "no-program pps", "vpcd pps", "iptables pps", "no-program TCP", "vpcd TCP",
           "iptables TCP"], out)
    print()
    print("UDP detail (medians): sent = iperf3 sender, wire = arrived at the server's eth0,")
    print("recv = iperf3 receiver (the pps above), cpu = the sender process' CPU time as")
    print("iperf3 reports it (softirq work on its CPU is not charged to it)")
    print()
    out = []
    for n in sizes:
        row = ["{:,}".format(n)]
        for c in CFGS:
            s_, w, r, cpu = med(u(c, n, 1)), med(u(c, n, 2)), med(u(c, n, 0)), med(u(c, n, 3))
            row.append("%s / %s / %s / %.0f%%" % (kpps(s_), kpps(w), kpps(r), cpu))
        out.append(row)
    table(["N", "no-program sent/wire/recv/cpu", "vpcd sent/wire/recv/cpu",
           "iptables sent/wire/recv/cpu"], out)
    retr = {c: sum(x[1] for n in sizes for x in tcp.get((c, n), {}).values()) for c in CFGS}
    print("TCP retransmissions, all runs: no-program %d, vpcd %d, iptables %d" % (
        retr["raw"], retr["vpcd"], retr["ipt"]))

    # Other tenants' bursts only ever lower a rate: the upper part of the
    # distribution of short intervals estimates the undisturbed rate.
    def p90(kind, cfg, n):
        xs = sorted(ivs.get((kind, cfg, n), []))
        return xs[min(len(xs) - 1, int(0.9 * len(xs)))] if xs else float("nan")

    print()
    print("Less sensitive to interference: 90th percentile of the sender's 0.5 s intervals,")
    print("all repetitions pooled (%)")
    print()
    out = []
    for n in sizes:
        ru, rt = p90("udp", "raw", n), p90("tcp", "raw", n)
        out.append(["{:,}".format(n), kpps(ru)] +
                   ["%s (%s)" % (kpps(p90("udp", c, n)), pct(p90("udp", c, n), ru)) for c in ("vpcd", "ipt")] +
                   ["%.2f" % rt] +
                   ["%.2f (%s)" % (p90("tcp", c, n), pct(p90("tcp", c, n), rt)) for c in ("vpcd", "ipt")])
    table(["N", "no-program pps", "vpcd pps (%)", "iptables pps (%)", "no-program TCP Gbit/s",
           "vpcd TCP (%)", "iptables TCP (%)"], out)

    if rows.get("apply"):
        print()
        print("vpcctl apply of the topology with N inbound rules (wall / vpcd's kernel operations):")
        print("  " + ", ".join("{:,}: {:.0f} / {} ms".format(int(n), float(w), k or "-")
                               for n, w, k in rows["apply"]))

    lat = {}
    for n, rep, dv, dw, dk, av, aw, ak, gap in rows.get("lat", []):
        lat.setdefault(int(n), []).append([float(x) for x in (dv, dw, dk, av, aw, ak, gap)])
    if lat:
        print()
        print("Rule change under traffic (a probe datagram every 0.2 ms; median [min-max] ms of %s"
              " repetitions)" % "/".join(str(len(v)) for v in lat.values()))
        print("visible = from just before vpcctl starts to the last datagram that got through (deny)")
        print("          or the first that gets through again (remove); wall = vpcctl's run time;")
        print("          vpcd = the time vpcd reports for the change (validate, plan, kernel, save)")
        print()
        out = []

        def c(xs):
            return "%.1f [%.1f-%.1f]" % (med(xs), min(xs), max(xs))

        for n in sorted(lat):
            v = lat[n]
            col = lambda i: [x[i] for x in v]
            out.append(["{:,}".format(n), c(col(0)), c(col(1)), "%.1f" % med(col(2)), c(col(3)),
                        c(col(4)), "%.1f" % med(col(5)),
                        "%.2f" % max([g for g in col(6) if g == g] or [float("nan")])])
        table(["rules", "add deny: visible", "wall", "vpcd", "remove deny: visible", "wall", "vpcd",
               "probe gap max"], out)

    print()
    print("target: vpcd >= 90% of no-program at 10,000 rules; rule change visible in <= 5 ms")
    if 10000 in sizes:
        n = 10000
        pp = 100 * med(ratios(udp, "vpcd", n))
        tp = 100 * med(ratios(tcp, "vpcd", n))
        print("  at 10,000 rules, medians: vpcd pps %.0f%% (%s), TCP %.0f%% (%s)" % (
            pp, "met" if pp >= 90 else "MISSED", tp, "met" if tp >= 90 else "MISSED"))
        pp = 100 * p90("udp", "vpcd", n) / p90("udp", "raw", n)
        tp = 100 * p90("tcp", "vpcd", n) / p90("tcp", "raw", n)
        print("  at 10,000 rules, 90th percentiles of intervals: vpcd pps %.0f%% (%s), TCP %.0f%% (%s)" % (
            pp, "met" if pp >= 90 else "MISSED", tp, "met" if tp >= 90 else "MISSED"))
    if lat:
        worst = max(max(med([x[0] for x in v]), med([x[3] for x in v])) for v in lat.values())
        print("  rule change visible: worst median %.1f ms (%s)" % (worst, "met" if worst <= 5 else "MISSED"))


def main():
    a = sys.argv[1:]
    if a[:1] == ["udp"] and len(a) == 7:
        udp_row(*a[1:])
    elif a[:1] == ["tcp"] and len(a) == 5:
        tcp_row(*a[1:])
    elif a[:1] == ["table"] and len(a) == 2:
        report(a[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
