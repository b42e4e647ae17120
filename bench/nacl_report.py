#!/usr/bin/env python3
"""Rows and tables of bench/nacl.sh (the shared parts are in benchlib.py).

    nacl_report.py udp CFG N REP IPERF_JSON RX_BEFORE RX_AFTER   prints a udp row
    nacl_report.py tcp CFG N REP IPERF_JSON                      prints a tcp row
    nacl_report.py table RESULTS                                 prints the tables

The rows are described in benchlib.py.
"""
import sys

import benchlib as b

BASE = "no-program"


def report(path):
    R = b.Results(path)
    if R.sizes:
        b.main_table(R, BASE, "Forwarding through the router namespace, client subnet -> server subnet")
        print()
        b.noise_table(R, BASE)
    if R.lat:
        print()
        b.latency_table(R, [
            "Rule change under traffic (a probe datagram every 0.2 ms; median [min-max] ms of %s"
            " repetitions)",
            "N: one entry - add a deny for the probe, then remove it (vpcctl nacl entry add/remove);",
            "N whole: the whole NACL replaced - apply a file whose NACL holds N other rules and",
            "         keeps the probe out, then the first file again (vpcctl apply -f)",
            "N load: the same two NACLs as entries text (vpcctl nacl load -f, one entry a line)",
            "visible = from just before vpcctl starts to the last datagram that got through (deny)",
            "          or the first that gets through again (allow); wall = vpcctl's run time;",
            "          vpcd = the time vpcd reports for the change (validate, plan, kernel, save);",
            "          in effect = from vpcd receiving the request to the kernel having the",
            "          change, as vpcd reports it (visible less vpcctl's start and the probe)"],
            "deny", "allow")
    own = program_cost(R)
    print()
    b.target(R, BASE)
    for line in own:
        print(line)
    if R.sizes:
        print()
        print("Details")
        print()
        b.udp_details(R, BASE)
        b.retransmissions(R, BASE)
        print()
        b.p90_table(R, BASE)
        if R.apply:
            print()
            b.apply_times(R)


def program_cost(R):
    """The table of the programs' own cost (vpcd-on / vpcd-off rows); returns the
    target lines it supports."""
    sizes = sorted({n for k in ("udp", "tcp") for c, n in R.data.get(k, {}) if c == "vpcd-off"})
    if not sizes:
        return []
    print()
    print("The NACL programs' own cost: the same VPC and traffic with the programs taken off")
    print("the router's ports (nacl_detach; conntrack and the security-group table stay),")
    print("alternating with them on (medians; % = per-repetition on / off). With the")
    print("programs goes their shortcut for tracked flows: off, every packet crosses the")
    print("router's stack and the nftables table")
    print()
    out, lines = [], []
    for n in sizes:
        row = ["{:,}".format(n)]
        for kind, fmt in (("udp", b.kpps), ("tcp", lambda x: "%.2f" % x)):
            on, off = R.data[kind].get(("vpcd-on", n), {}), R.data[kind].get(("vpcd-off", n), {})
            r = [on[k][0] / off[k][0] for k in sorted(on) if k in off and off[k][0]]
            pct = 100 * b.med(r) if r else float("nan")
            row += [fmt(b.med([v[0] for v in off.values()])),
                    "%s (%.0f%%)" % (fmt(b.med([v[0] for v in on.values()])), pct)]
            lines.append("  %-42s%s %.0f%% of the same VPC without them (%s)" % (
                "at {:,} rules, programs on:".format(n) if kind == "udp" else "", kind.upper(),
                pct, "met" if pct >= 90 else "MISSED"))
        out.append(row)
    b.table(["N", "programs off pps", "programs on pps (%)", "off TCP Gbit/s", "on TCP (%)"], out)
    return lines


if __name__ == "__main__":
    b.main(sys.argv, report, __doc__)
