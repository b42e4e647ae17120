"""Rows and tables shared by the data path benchmarks (bench/nacl_report.py,
bench/sg_report.py).

Result rows (tab-separated), one file per run:
  udp CFG N REP recv_pps sent_pps wire_pps sender_cpu_pct interval_pps,...
  tcp CFG N REP gbit_s retransmits interval_mbit_s,...
  conn CFG N REP conn_s failures interval_conn_s,...
  lat LABEL REP ...  and  est LABEL REP ...  (see rule_latency.py)
  apply N wall_ms kernel_ms
  info KEY TEXT   (free text a report may print)
CFG: raw (the hand-built path without a filter), vpcd, ipt (iptables); N: rules.
recv_pps is what iperf3's receiver got per second (datagrams minus lost ones);
wire_pps what reached the server instance's eth0, per second of sending.
"""
import json
import statistics
import sys

CFGS = ("raw", "vpcd", "ipt")


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def kpps(x):
    return "%.1fk" % (x / 1e3)


def gbit(x):
    return "%.2f" % x


# Per measured kind: column title, short title, how a value reads.
KINDS = {
    "udp": ("pps", "pps", kpps),
    "tcp": ("TCP Gbit/s", "TCP", gbit),
    "conn": ("conn/s", "conn/s", kpps),
}


# ---- rows ----

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
        if s["seconds"] >= 0.4:  # of 0.5 s (the scripts run iperf3 -i 0.5)
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


def conn_row(cfg, n, rep, path):
    """From conn_rate's output: CONNECTIONS SECONDS FAILURES RATE,..."""
    with open(path) as f:
        ok, secs, failed, iv = f.read().split()
    print("conn\t%s\t%s\t%s\t%.0f\t%s\t%s" % (cfg, n, rep, int(ok) / float(secs), failed, iv))


def main(argv, report, doc):
    """A report script's command line: the row verbs, or `table FILE`."""
    if row_main(argv):
        return
    if argv[1:2] == ["table"] and len(argv) == 3:
        report(argv[2])
    else:
        sys.exit(doc)


def row_main(argv):
    """The row-printing verbs, shared by the report scripts; False if none."""
    a = argv[1:]
    if a[:1] == ["udp"] and len(a) == 7:
        udp_row(*a[1:])
    elif a[:1] == ["tcp"] and len(a) == 5:
        tcp_row(*a[1:])
    elif a[:1] == ["conn"] and len(a) == 5:
        conn_row(*a[1:])
    else:
        return False
    return True


# ---- reading them back ----

def load(path):
    rows = {}
    with open(path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            rows.setdefault(p[0], []).append(p[1:])
    return rows


def label_key(label):
    """Latency labels are "N" or "N what": sorted by N, then by what."""
    n, _, rest = label.partition(" ")
    return (int(n), rest)


def label_str(label):
    n, _, rest = label.partition(" ")
    return "{:,}".format(int(n)) + (" " + rest if rest else "")


class Results:
    def __init__(self, path):
        rows = load(path)
        self.data = {k: {} for k in KINDS}  # kind -> (cfg, N) -> {rep: values}
        self.ivs = {}  # (kind, cfg, N) -> every interval's rate, all repetitions
        for cfg, n, rep, recv, sent, wire, cpu, iv in rows.get("udp", []):
            self._add("udp", cfg, n, rep, (float(recv), float(sent), float(wire), float(cpu)), iv)
        for cfg, n, rep, gbps, retr, iv in rows.get("tcp", []):
            self._add("tcp", cfg, n, rep, (float(gbps), int(retr)), iv, 1e-3)  # Mbit -> Gbit
        for cfg, n, rep, rate, failed, iv in rows.get("conn", []):
            self._add("conn", cfg, n, rep, (float(rate), int(failed)), iv)
        self.kinds = [k for k in KINDS if self.data[k]]
        self.sizes = sorted({n for k in KINDS for c, n in self.data[k] if c in CFGS})
        self.apply = rows.get("apply", [])
        self.lat, self.est = {}, {}
        for label, rep, *v in rows.get("lat", []):
            self.lat.setdefault(label, []).append([float(x) for x in v])
        for label, rep, *v in rows.get("est", []):
            self.est.setdefault(label, []).append([float(x) for x in v])
        self.info = {}
        for key, text in rows.get("info", []):
            self.info.setdefault(key, []).append(text)

    def _add(self, kind, cfg, n, rep, values, iv, scale=1):
        self.data[kind].setdefault((cfg, int(n)), {})[int(rep)] = values
        self.ivs.setdefault((kind, cfg, int(n)), []).extend(
            float(x) * scale for x in iv.split(",") if x != "-")

    def vals(self, kind, cfg, n, i=0):
        return [x[i] for x in self.data[kind].get((cfg, n), {}).values()]

    def ratios(self, kind, cfg, n):
        """cfg / the unfiltered path, repetition by repetition (they ran seconds apart)."""
        a, b = self.data[kind].get((cfg, n), {}), self.data[kind].get(("raw", n), {})
        return [a[r][0] / b[r][0] for r in sorted(a) if r in b and b[r][0]]

    def share(self, kind, cfg, n):
        r = self.ratios(kind, cfg, n)
        return "%.0f%%" % (100 * med(r)) if r else "-"

    def p90(self, kind, cfg, n):
        xs = sorted(self.ivs.get((kind, cfg, n), []))
        return xs[min(len(xs) - 1, int(0.9 * len(xs)))] if xs else float("nan")


# ---- tables ----

def spread(xs, fmt):
    """min-max, and the range as a share of the median."""
    if not xs:
        return "-"
    m = med(xs)
    return "%s-%s (±%.0f%%)" % (fmt(min(xs)), fmt(max(xs)), 50 * (max(xs) - min(xs)) / m if m else 0)


def pct(a, b):
    return "%.0f%%" % (100 * a / b) if b else "-"


def table(head, rows):
    w = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    fmt = lambda r: " | ".join(str(c).rjust(w[i]) if i == 0 else str(c).ljust(w[i])
                               for i, c in enumerate(r)).rstrip()
    print(fmt(head))
    print("-+-".join("-" * x for x in w))
    for r in rows:
        print(fmt(r))


def head(R, base, short=False):
    h = ["N"]
    for k in R.kinds:
        long_, sh, _ = KINDS[k]
        h += ["%s %s" % (base, sh if short else long_)] + [
            "%s %s%s" % (c, sh, "" if short else " (%)") for c in ("vpcd", "iptables")]
    return h


def rate_table(R, base, value, share):
    """Rows per N: the base figure, then vpcd's and iptables' with their share of
    it; value(kind, cfg, n) gives a figure, share(kind, cfg, n) its share."""
    out = []
    for n in R.sizes:
        row = ["{:,}".format(n)]
        for k in R.kinds:
            f = KINDS[k][2]
            row.append(f(value(k, "raw", n)))
            row += ["%s (%s)" % (f(value(k, c, n)), share(k, c, n)) for c in ("vpcd", "ipt")]
        out.append(row)
    table(head(R, base), out)


def main_table(R, base, title):
    print(title)
    print("(medians; %% = median over the repetitions of the figure / %s's figure" % base)
    print(" measured in the same repetition, seconds apart)")
    print()
    rate_table(R, base, lambda k, c, n: med(R.vals(k, c, n)), R.share)


def noise_table(R, base):
    print("Noise: min-max over the repetitions; ± = half the range as a share of the median;")
    print("[a-b%%] = range of the per-repetition share of %s" % base)
    print()
    out = []
    for n in R.sizes:
        row = ["{:,}".format(n)]
        for k in R.kinds:
            f = KINDS[k][2]
            row.append(spread(R.vals(k, "raw", n), f))
            for c in ("vpcd", "ipt"):
                r = R.ratios(k, c, n)
                row.append("%s [%.0f-%.0f%%]" % (spread(R.vals(k, c, n), f), 100 * min(r),
                                                 100 * max(r)) if r else "-")
        out.append(row)
    table(head(R, base, short=True), out)


def latency_table(R, intro, stop, start):
    """intro: lines above the table, the first with a %s for the repetitions;
    stop, start: what the two commands do."""
    print(intro[0] % "/".join(sorted({str(len(v)) for v in R.lat.values()})))
    for line in intro[1:]:
        print(line)
    print()
    out = []

    def c(xs):
        return "%.1f [%.1f-%.1f]" % (med(xs), min(xs), max(xs))

    for label in sorted(R.lat, key=label_key):
        v = R.lat[label]
        col = lambda i: [x[i] if i < len(x) else float("nan") for x in v]
        gaps = [g for g in col(6) if g == g]
        out.append([label_str(label), c(col(0)), c(col(1)), "%.1f" % med(col(2)),
                    "%.1f" % med(col(7)), c(col(3)), c(col(4)), "%.1f" % med(col(5)),
                    "%.1f" % med(col(8)), "%.2f" % max(gaps) if gaps else "-"])
    table(["rules", stop + ": visible", "wall", "vpcd", "in effect", start + ": visible", "wall",
           "vpcd", "in effect", "probe gap max"], out)


def target(R, base):
    print("target: vpcd >= 90%% of %s at 10,000 rules; rule change visible in <= 5 ms" % base)
    verdict = lambda x: "met" if x >= 90 else "MISSED"
    if 10000 in R.sizes:
        n = 10000
        for how, f in (("medians", lambda k, c: 100 * med(R.ratios(k, c, n))),
                       ("90th pct of intervals",
                        lambda k, c: 100 * R.p90(k, c, n) / R.p90(k, "raw", n))):
            print("  %-42s" % ("at 10,000 rules (%s):" % how) + ", ".join(
                "%s %.0f%% (%s)" % ("vpcd " + KINDS[k][1] if i == 0 else KINDS[k][1],
                                    f(k, "vpcd"), verdict(f(k, "vpcd")))
                for i, k in enumerate(R.kinds)))
    if R.lat:
        worst = max(max(med([x[0] for x in v]), med([x[3] for x in v])) for v in R.lat.values())
        print("  rule change visible: worst median %.1f ms (%s)"
              % (worst, "met" if worst <= 5 else "MISSED"))
        eff = [med([x[i] for x in v]) for v in R.lat.values() for i in (7, 8) if len(v[0]) > i]
        if eff:
            print("  (in effect inside vpcd, from the request to the kernel: worst median %.1f ms)"
                  % max(eff))


def udp_details(R, base):
    print("UDP (medians): sent = iperf3 sender, wire = arrived at the server's eth0,")
    print("recv = iperf3 receiver (the pps above), cpu = the sender process' CPU time as")
    print("iperf3 reports it (softirq work on its CPU is not always charged to it)")
    print()
    out, lossy = [], []
    for n in R.sizes:
        row = ["{:,}".format(n)]
        for c in CFGS:
            s_, w, r, cpu = (med(R.vals("udp", c, n, 1)), med(R.vals("udp", c, n, 2)),
                             med(R.vals("udp", c, n, 0)), med(R.vals("udp", c, n, 3)))
            row.append("%s / %s / %s / %.0f%%" % (kpps(s_), kpps(w), kpps(r), cpu))
            if r < 0.98 * s_:
                lossy.append("%s at N=%d (%.0f%% lost)" % (c, n, 100 - 100 * r / s_))
        out.append(row)
    table(["N", base + " sent/wire/recv/cpu", "vpcd sent/wire/recv/cpu",
           "iptables sent/wire/recv/cpu"], out)
    print("The sender is the bottleneck in every configuration, by design: a packet's whole")
    print("path (veth, router, filter, veth, delivery) runs in softirq on the sending CPU, so")
    print("its rate is the path's cost.",
          "The receiver lost datagrams in: " + ", ".join(lossy) + "." if lossy
          else "The receiver kept up everywhere (recv = sent).")


def retransmissions(R, base):
    retr = {c: sum(x[1] for n in R.sizes for x in R.data["tcp"].get((c, n), {}).values())
            for c in CFGS}
    print("TCP retransmissions, all runs: %s %d, vpcd %d, iptables %d (reordering between"
          % (base, retr["raw"], retr["vpcd"], retr["ipt"]))
    print("the two CPUs' backlogs on the veth path; present without any filter)")


def p90_table(R, base):
    print("Less exposed to other tenants: 90th percentile of the sender's 0.5 s intervals,")
    print("all repetitions pooled (interference only ever lowers a rate)")
    print()
    rate_table(R, base, R.p90, lambda k, c, n: pct(R.p90(k, c, n), R.p90(k, "raw", n)))


def apply_times(R):
    if R.apply:
        print("vpcctl apply of the topology, in the order run (rules: wall / vpcd's figure):")
        print("  " + ", ".join("{:,}: {:.0f} / {} ms".format(int(n), float(w), k or "-")
                               for n, w, k in R.apply))
