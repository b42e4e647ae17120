#!/usr/bin/env python3
"""Rule sets for bench/sg.sh: one security group and its iptables twin.

    sg_rules.py topo N FILE        the benchmark VPC as a vpcctl topology file
    sg_rules.py iptables N FILE    the same N rules as an iptables-restore file
    sg_rules.py toggle cidr|group  the vpcctl options naming the rule that the
                                   rule-change measurement removes and adds back
    sg_rules.py check              no filler rule admits the benchmark traffic

The server instance s1 (10.20.2.10) is in group "bench", which holds N ingress
rules, the one that admits the benchmark traffic last:
  - N-2 filler rules that match none of the benchmark traffic: the NACL
    benchmark's (nacl_rules.filler: hosts and networks in 198.18.0.0/15, tcp/udp
    ports and ranges, icmp type/code, "all", protocol numbers, now and then the
    client subnet on ports the benchmark never uses), without their numbers and
    actions, and one in 50 naming one of the groups ga, gb, gc as its source
    instead of a CIDR (each has one member, an instance a1..a3 in a third
    subnet; SG_GROUP_EVERY=K in the environment: one in K, 0: none);
  - "udp 9000-9001 from 10.20.1.20/32": lets in the probe instance c2, which
    sends only during the rule-change measurement;
  - "all from group clients": lets in the client instance c1, whose traffic is
    measured (iperf3, connections per second).
A group's rules have no order: vpcd compiles the CIDR rules of a group into
nftables sets (one lookup per kind whatever their number), then the rules naming
each group, in the order the groups first appear (a member set lookup and sets
once a group is named three times or more, a rule per reference below that). So
the rule admitting the client, the only one naming its group, is tried last: a
new flow from the client first misses every set and every other group's rules.

N = 0 is the VPC's default group on c1 and s1 (inbound from its own members),
and for iptables a chain holding only the accepting rule.
"""
import json
import os
import sys

import nacl_rules as nr

VPC = "bench"
VPC_CIDR = "10.20.0.0/16"
CLIENT_NET, SERVER_NET, AUX_NET = "10.20.1.0/24", "10.20.2.0/24", "10.20.3.0/24"
CLIENT_IP, PROBE_IP, SERVER_IP = "10.20.1.10", "10.20.1.20", "10.20.2.10"
GROUP = "bench"
AUX = {"ga": "10.20.3.10", "gb": "10.20.3.11", "gc": "10.20.3.12"}  # group: its one member
# Ports of the benchmark traffic: iperf3 (tcp, udp), connections per second (tcp),
# the probe (udp, new flows) and the established flow beside it (udp).
USED_PORTS = (5201, 7001, 9000, 9001)
# One filler in GROUP_EVERY names a group (environment SG_GROUP_EVERY; 0: none).
GROUP_EVERY = int(os.environ.get("SG_GROUP_EVERY", "50"))
PROBE_RULE = {"protocol": "udp", "ports": "9000-9001", "cidr": PROBE_IP + "/32"}
CLIENT_RULE = {"protocol": "all", "source_group": "clients"}


def filler(i):
    """The i-th rule that admits none of the benchmark traffic."""
    r = nr.filler(i)
    del r["action"]
    if GROUP_EVERY and i % GROUP_EVERY == GROUP_EVERY // 2:
        del r["cidr"]
        r["source_group"] = sorted(AUX)[(i // GROUP_EVERY) % len(AUX)]
    return r


def sg_rules(n):
    if n == 1:
        return [dict(CLIENT_RULE)]
    return [filler(i) for i in range(n - 2)] + [dict(PROBE_RULE), dict(CLIENT_RULE)]


def topo(n):
    own = lambda g: [g] if n else ["default"]
    instances = [
        {"name": "c1", "subnet": "cli", "private_ip": CLIENT_IP, "security_groups": own("clients")},
        {"name": "c2", "subnet": "cli", "private_ip": PROBE_IP, "security_groups": ["probe"]},
        {"name": "s1", "subnet": "srv", "private_ip": SERVER_IP, "security_groups": own(GROUP)},
    ]
    # Groups without "ingress" let nothing in; without "egress", everything out.
    groups = [{"name": "clients"}, {"name": "probe"}]
    for k, (g, ip) in enumerate(sorted(AUX.items())):
        groups.append({"name": g})
        instances.append({"name": "a%d" % (k + 1), "subnet": "aux", "private_ip": ip,
                          "security_groups": [g]})
    if n:
        groups.append({"name": GROUP, "ingress": sg_rules(n)})
    return {"vpcs": [{
        "name": VPC, "cidr": VPC_CIDR,
        "subnets": [{"name": "cli", "cidr": CLIENT_NET}, {"name": "srv", "cidr": SERVER_NET},
                    {"name": "aux", "cidr": AUX_NET}],
        "security_groups": groups,
        "instances": instances,
    }]}


def iptables(n):
    """A typical stateful firewall in the hand-built router's FORWARD chain:
    replies and the rest of accepted flows first, invalid packets out, then the
    N rules, which therefore only ever see the first packet of a flow; policy
    DROP. A rule naming a group becomes one rule per member (one here)."""
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]",
             "-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
             "-A FORWARD -m conntrack --ctstate INVALID -j DROP"]
    rules = sg_rules(n) if n else [dict(CLIENT_RULE)]
    for r in rules:
        r = dict(r)
        g = r.pop("source_group", None)
        if g:
            r["cidr"] = (AUX[g] if g in AUX else CLIENT_IP) + "/32"
        lines.append(" ".join(["-A FORWARD"] + nr.ipt_match(r) + ["-j", "ACCEPT"]))
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def toggle(kind):
    r = PROBE_RULE if kind == "cidr" else CLIENT_RULE
    opts = ["--ingress", "--protocol", r["protocol"]]
    if "ports" in r:
        opts += ["--ports", r["ports"]]
    opts += ["--cidr", r["cidr"]] if "cidr" in r else ["--group", r["source_group"]]
    return " ".join(opts)


def check():
    nr.check(used_ports=USED_PORTS, hosts=(CLIENT_IP, PROBE_IP), rules=map(filler, range(10000)))
    for i in range(10000):
        assert filler(i).get("source_group") not in ("clients", "probe", GROUP), i


def main():
    a = sys.argv[1:]
    if a == ["check"]:
        check()
    elif len(a) == 2 and a[0] == "toggle" and a[1] in ("cidr", "group"):
        print(toggle(a[1]))
    elif len(a) == 3 and a[0] in ("topo", "iptables"):
        n = int(a[1])
        text = json.dumps(topo(n), indent=1) + "\n" if a[0] == "topo" else iptables(n)
        with open(a[2], "w") as f:
            f.write(text)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
