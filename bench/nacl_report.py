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
            "visible = from just before vpcctl starts to the last datagram that got through (deny)",
            "          or the first that gets through again (remove); wall = vpcctl's run time;",
            "          vpcd = the time vpcd reports for the change (validate, plan, kernel, save)"],
            "add deny", "remove deny")
    print()
    b.target(R, BASE)
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


def main():
    if b.row_main(sys.argv):
        return
    if sys.argv[1:2] == ["table"] and len(sys.argv) == 3:
        report(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
