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


class Results:
    def __init__(self, path):
        rows = load(path)
        self.udp, self.tcp = {}, {}  # (cfg, N) -> {rep: values}
        self.ivs = {}  # ("udp"|"tcp", cfg, N) -> every interval's rate, all repetitions
        for cfg, n, rep, recv, sent, wire, cpu, iv in rows.get("udp", []):
            self.udp.setdefault((cfg, int(n)), {})[int(rep)] = (
                float(recv), float(sent), float(wire), float(cpu))
            self.ivs.setdefault(("udp", cfg, int(n)), []).extend(
                float(x) for x in iv.split(",") if x != "-")
        for cfg, n, rep, gbps, retr, iv in rows.get("tcp", []):
            self.tcp.setdefault((cfg, int(n)), {})[int(rep)] = (float(gbps), int(retr))
            self.ivs.setdefault(("tcp", cfg, int(n)), []).extend(
                float(x) / 1e3 for x in iv.split(",") if x != "-")
        self.sizes = sorted({n for _, n in list(self.udp) + list(self.tcp)})
        self.apply = rows.get("apply", [])
        self.lat = {}
        for n, rep, dv, dw, dk, av, aw, ak, gap in rows.get("lat", []):
            self.lat.setdefault(int(n), []).append(
                [float(x) for x in (dv, dw, dk, av, aw, ak, gap)])

    def u(self, cfg, n, i=0):
        return [x[i] for x in self.udp.get((cfg, n), {}).values()]

    def t(self, cfg, n):
        return [x[0] for x in self.tcp.get((cfg, n), {}).values()]

    def ratios(self, kind, cfg, n):
        """cfg / no-program, repetition by repetition (they ran seconds apart)."""
        d = self.udp if kind == "udp" else self.tcp
        a, b = d.get((cfg, n), {}), d.get(("raw", n), {})
        return [a[r][0] / b[r][0] for r in sorted(a) if r in b and b[r][0]]

    def share(self, kind, cfg, n):
        r = self.ratios(kind, cfg, n)
        return "%.0f%%" % (100 * med(r)) if r else "-"

    def p90(self, kind, cfg, n):
        xs = sorted(self.ivs.get((kind, cfg, n), []))
        return xs[min(len(xs) - 1, int(0.9 * len(xs)))] if xs else float("nan")


HEAD = ["N", "no-program pps", "vpcd pps (%)", "iptables pps (%)", "no-program TCP Gbit/s",
        "vpcd TCP (%)", "iptables TCP (%)"]


def main_table(R):
    print("Forwarding through the router namespace, client subnet -> server subnet")
    print("(medians; % = median over the repetitions of the figure / no-program's figure")
    print(" measured in the same repetition, seconds apart)")
    print()
    out = []
    for n in R.sizes:
        out.append(["{:,}".format(n), kpps(med(R.u("raw", n))),
                    "%s (%s)" % (kpps(med(R.u("vpcd", n))), R.share("udp", "vpcd", n)),
                    "%s (%s)" % (kpps(med(R.u("ipt", n))), R.share("udp", "ipt", n)),
                    "%.2f" % med(R.t("raw", n)),
                    "%.2f (%s)" % (med(R.t("vpcd", n)), R.share("tcp", "vpcd", n)),
                    "%.2f (%s)" % (med(R.t("ipt", n)), R.share("tcp", "ipt", n))])
    table(HEAD, out)


def noise_table(R):
    print("Noise: min-max over the repetitions; ± = half the range as a share of the median;")
    print("[a-b%] = range of the per-repetition share of no-program")
    print()
    out = []
    g = lambda x: "%.2f" % x
    for n in R.sizes:
        row = ["{:,}".format(n), spread(R.u("raw", n), kpps)]
        for c in ("vpcd", "ipt"):
            r = R.ratios("udp", c, n)
            row.append("%s [%.0f-%.0f%%]" % (spread(R.u(c, n), kpps), 100 * min(r), 100 * max(r))
                       if r else "-")
        row.append(spread(R.t("raw", n), g))
        for c in ("vpcd", "ipt"):
            r = R.ratios("tcp", c, n)
            row.append("%s [%.0f-%.0f%%]" % (spread(R.t(c, n), g), 100 * min(r), 100 * max(r))
                       if r else "-")
        out.append(row)
    table(["N", "no-program pps", "vpcd pps", "iptables pps", "no-program TCP", "vpcd TCP",
           "iptables TCP"], out)


def latency_table(R):
    print("Rule change under traffic (a probe datagram every 0.2 ms; median [min-max] ms of %s"
          " repetitions)" % "/".join(str(len(v)) for v in R.lat.values()))
    print("visible = from just before vpcctl starts to the last datagram that got through (deny)")
    print("          or the first that gets through again (remove); wall = vpcctl's run time;")
    print("          vpcd = the time vpcd reports for the change (validate, plan, kernel, save)")
    print()
    out = []

    def c(xs):
        return "%.1f [%.1f-%.1f]" % (med(xs), min(xs), max(xs))

    for n in sorted(R.lat):
        v = R.lat[n]
        col = lambda i: [x[i] for x in v]
        gaps = [g for g in col(6) if g == g]
        out.append(["{:,}".format(n), c(col(0)), c(col(1)), "%.1f" % med(col(2)), c(col(3)),
                    c(col(4)), "%.1f" % med(col(5)), "%.2f" % max(gaps) if gaps else "-"])
    table(["rules", "add deny: visible", "wall", "vpcd", "remove deny: visible", "wall", "vpcd",
           "probe gap max"], out)


def target(R):
    print("target: vpcd >= 90% of no-program at 10,000 rules; rule change visible in <= 5 ms")
    verdict = lambda x: "met" if x >= 90 else "MISSED"
    if 10000 in R.sizes:
        n = 10000
        pp, tp = 100 * med(R.ratios("udp", "vpcd", n)), 100 * med(R.ratios("tcp", "vpcd", n))
        print("  at 10,000 rules (medians):                vpcd pps %.0f%% (%s), TCP %.0f%% (%s)"
              % (pp, verdict(pp), tp, verdict(tp)))
        pp = 100 * R.p90("udp", "vpcd", n) / R.p90("udp", "raw", n)
        tp = 100 * R.p90("tcp", "vpcd", n) / R.p90("tcp", "raw", n)
        print("  at 10,000 rules (90th pct of intervals):  vpcd pps %.0f%% (%s), TCP %.0f%% (%s)"
              % (pp, verdict(pp), tp, verdict(tp)))
    if R.lat:
        worst = max(max(med([x[0] for x in v]), med([x[3] for x in v])) for v in R.lat.values())
        print("  rule change visible: worst median %.1f ms (%s)"
              % (worst, "met" if worst <= 5 else "MISSED"))


def details(R):
    print("Details")
    print()
    print("UDP (medians): sent = iperf3 sender, wire = arrived at the server's eth0,")
    print("recv = iperf3 receiver (the pps above), cpu = the sender process' CPU time as")
    print("iperf3 reports it (softirq work on its CPU is not always charged to it)")
    print()
    out, lossy = [], []
    for n in R.sizes:
        row = ["{:,}".format(n)]
        for c in CFGS:
            s_, w, r, cpu = (med(R.u(c, n, 1)), med(R.u(c, n, 2)), med(R.u(c, n, 0)),
                             med(R.u(c, n, 3)))
            row.append("%s / %s / %s / %.0f%%" % (kpps(s_), kpps(w), kpps(r), cpu))
            if r < 0.98 * s_:
                lossy.append("%s at N=%d (%.0f%% lost)" % (c, n, 100 - 100 * r / s_))
        out.append(row)
    table(["N", "no-program sent/wire/recv/cpu", "vpcd sent/wire/recv/cpu",
           "iptables sent/wire/recv/cpu"], out)
    print("The sender is the bottleneck in every configuration, by design: a packet's whole")
    print("path (veth, router, filter, veth, delivery) runs in softirq on the sending CPU, so")
    print("its rate is the path's cost.",
          "The receiver lost datagrams in: " + ", ".join(lossy) + "." if lossy
          else "The receiver kept up everywhere (recv = sent).")
    retr = {c: sum(x[1] for n in R.sizes for x in R.tcp.get((c, n), {}).values()) for c in CFGS}
    print("TCP retransmissions, all runs: no-program %d, vpcd %d, iptables %d (reordering between"
          % (retr["raw"], retr["vpcd"], retr["ipt"]))
    print("the two CPUs' backlogs on the veth path; present without any filter)")
    print()
    print("Less exposed to other tenants: 90th percentile of the sender's 0.5 s intervals,")
    print("all repetitions pooled (interference only ever lowers a rate)")
    print()
    out = []
    for n in R.sizes:
        ru, rt = R.p90("udp", "raw", n), R.p90("tcp", "raw", n)
        out.append(["{:,}".format(n), kpps(ru)] +
                   ["%s (%s)" % (kpps(R.p90("udp", c, n)), pct(R.p90("udp", c, n), ru))
                    for c in ("vpcd", "ipt")] + ["%.2f" % rt] +
                   ["%.2f (%s)" % (R.p90("tcp", c, n), pct(R.p90("tcp", c, n), rt))
                    for c in ("vpcd", "ipt")])
    table(HEAD, out)
    if R.apply:
        print()
        print("vpcctl apply of the topology, in the order run (rules: wall / vpcd's figure):")
        print("  " + ", ".join("{:,}: {:.0f} / {} ms".format(int(n), float(w), k or "-")
                               for n, w, k in R.apply))


def report(path):
    R = Results(path)
    if R.sizes:
        main_table(R)
        print()
        noise_table(R)
    if R.lat:
        print()
        latency_table(R)
    print()
    target(R)
    if R.sizes:
        print()
        details(R)


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
