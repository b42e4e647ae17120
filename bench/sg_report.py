#!/usr/bin/env python3
"""Rows and tables of bench/sg.sh (the shared parts are in benchlib.py).

    sg_report.py udp CFG N REP IPERF_JSON RX_BEFORE RX_AFTER   prints a udp row
    sg_report.py tcp CFG N REP IPERF_JSON                      prints a tcp row
    sg_report.py conn CFG N REP CONN_RATE_OUTPUT               prints a conn row
    sg_report.py table RESULTS                                 prints the tables

The rows are described in benchlib.py; conn rows with CFG "loop" are conn_rate
over loopback in one namespace, without the path (the tool's own ceiling), and
with CFG "floor" the hand-built path with a program that passes everything on the
router's ports and a table of conntrack's two rules ("floor-none": the same path
without them, in turns).
"""
import sys

import benchlib as b

BASE = "no filter"


def established(R):
    print("An established flow beside the probe (answered UDP, a datagram every 1 ms, admitted")
    print("by the same rule), while the rule was absent: from vpcctl returning to the next")
    print("command. sent/lost: by sequence number; max gap: the longest silence from the")
    print("removal starting to the add returning, of arrivals and of sending (the sender,")
    print("a Python process, is at times held back by the CPU the change keeps busy)")
    print()
    out, kept = [], True
    for label in sorted(R.est, key=b.label_key):
        v = R.est[label]
        sent, got = sum(x[1] for x in v), sum(x[2] for x in v)
        ok = got == sent
        kept &= ok
        out.append([b.label_str(label), "%.0f" % b.med([x[0] for x in v]),
                    "%d / %d" % (sent, sent - got),
                    "%.1f / %.1f (%.1f)" % (max(x[3] for x in v), max(x[4] for x in v),
                                            max(x[5] for x in v)),
                    "kept flowing" if ok else "DATAGRAMS LOST"])
    b.table(["rules", "rule absent, ms (median)", "sent / lost (all reps)",
             "max gap ms: arrivals / sending (before)", ""], out)
    return kept


def conn_details(R):
    fails = {c: sum(x[1] for n in R.sizes for x in R.data["conn"].get((c, n), {}).values())
             for c in b.CFGS}
    print("Connections that failed (connect error or 1 s timeout), all runs: "
          "%s %d, vpcd %d, iptables %d" % (BASE, fails["raw"], fails["vpcd"], fails["ipt"]))
    loop = R.vals("conn", "loop", 0)
    if loop and R.sizes:
        raw = [x for n in R.sizes for x in R.vals("conn", "raw", n)]
        print("conn_rate over loopback in one namespace (no veth, no router): %s conn/s "
              "(runs: %s);" % (b.kpps(b.med(loop)), ", ".join(b.kpps(x) for x in loop)))
        print("through the unfiltered path it reaches %s (median of all its runs), %.0f%% of that:"
              % (b.kpps(b.med(raw)), 100 * b.med(raw) / b.med(loop)))
        print("the path, not the tool, sets the rate, and each filter's cost comes on top.")
    fl, none = R.data["conn"].get(("floor", 0), {}), R.data["conn"].get(("floor-none", 0), {})
    share = sorted(fl[r][0] / none[r][0] for r in fl if r in none and none[r][0])
    if share:
        print("The floor of the design for new connections: the same path with a program on both")
        print("router ports, both ways, that passes everything, and a table of conntrack's two")
        print("rules alone (established/related accept, invalid drop): %s conn/s against %s"
              % (b.kpps(b.med([v[0] for v in fl.values()])),
                 b.kpps(b.med([v[0] for v in none.values()]))))
        print("unfiltered, in turns: %.0f%% (run by run: %s). A filter made of port programs"
              % (100 * b.med(share), ", ".join("%.0f%%" % (100 * x) for x in share)))
        print("and conntrack, vpcd's, pays at least this before its first rule.")


def report(path):
    R = b.Results(path)
    if R.sizes:
        b.main_table(R, BASE, "Through the router namespace, client subnet -> server subnet: "
                              "64-byte UDP, TCP, new TCP connections")
        print()
        b.noise_table(R, BASE)
    if R.lat:
        print()
        b.latency_table(R, [
            "Rule change under traffic, seen by new flows (a probe datagram every 0.6 ms, each"
            " from the next source port; median [min-max] ms of %s repetitions)",
            "cidr: the probe instance's rule (udp from a /32: vpcd rebuilds the l4 set it is in);",
            "group: the client's rule (all from group clients: vpcd rebuilds the chain)",
            "visible = from just before vpcctl starts to the last probe that got through (remove)",
            "          or the first that gets through again (add); wall = vpcctl's run time;",
            "          vpcd = the time vpcd reports for the change (validate, plan, kernel, save);",
            "          in effect = from vpcd receiving the request to the kernel having the",
            "          change, as vpcd reports it (visible less vpcctl's start and the probe)"],
            "remove rule", "add rule")
    kept = True
    if R.est:
        print()
        kept = established(R)
    print()
    b.target(R, BASE)
    if R.est:
        print("  established flows kept while their rule was removed: %s"
              % ("met" if kept else "MISSED"))
    if R.sizes:
        print()
        print("Details")
        print()
        b.udp_details(R, BASE)
        b.retransmissions(R, BASE)
        if "conn" in R.kinds:
            conn_details(R)
        print()
        b.p90_table(R, BASE)
        if R.apply:
            print()
            b.apply_times(R)


if __name__ == "__main__":
    b.main(sys.argv, report, __doc__)
