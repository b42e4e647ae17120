#!/usr/bin/env python3
"""Rule sets for bench/nacl.sh: one NACL and its iptables twin.

    nacl_rules.py topo N FILE      the benchmark VPC as a vpcctl topology file
    nacl_rules.py other N FILE     the same VPC with another NACL of N rules, every
                                   one different, that keeps the client out
    nacl_rules.py iptables N FILE PORT  the same N rules as an iptables-restore
                                   file; PORT: the router's port to the client

N rules on the server subnet's inbound side, "the matching rule last in number
order": N-1 rules that match none of the benchmark's traffic, then the rule that
lets it in, with the highest number. N = 0 is the VPC's default NACL (one
allow-all rule), and for iptables a chain holding only the accepting rule.

The benchmark's traffic is client 10.20.1.10 -> server 10.20.2.10, UDP and TCP to
port 5201 (iperf3) and UDP to port 9000 (the rule-change probe). The other rules
are varied so that the compiled structure is not trivial: host and network
prefixes in 198.18.0.0/15 (RFC 2544 benchmarking space), tcp/udp single ports and
ranges, icmp type/code, "all" and protocol numbers, some allows among the denies,
and now and then a rule that names the client's own subnet on ports or protocols
the benchmark never uses.

Rule numbers are even (2, 4, ..., 2N) so that odd numbers stay free: the
rule-change measurement adds its deny as number 2N-1, just before the allow.
"""
import json
import sys

VPC = "bench"
VPC_CIDR = "10.20.0.0/16"
CLIENT_NET, SERVER_NET = "10.20.1.0/24", "10.20.2.0/24"
CLIENT_IP, SERVER_IP = "10.20.1.10", "10.20.2.10"
NACL = "bench"
USED_PORTS = (5201, 9000)  # must never be matched by a filler rule from the client


def ip_str(n):
    return "%d.%d.%d.%d" % (n >> 24 & 255, n >> 16 & 255, n >> 8 & 255, n & 255)


BASE = 198 << 24 | 18 << 16  # 198.18.0.0/15: 131072 addresses


def filler(i):
    """The i-th rule that does not match the benchmark traffic (a dict as in a
    topology file, without its number)."""
    kind = i % 7
    if i % 97 == 50:
        # The client's own subnet, on something the benchmark does not send.
        cidr = CLIENT_NET
        choices = [("tcp", "1-1023"), ("udp", "6000-6999"), ("tcp", "5202-5299"),
                   ("udp", "1-5200"), ("47", None)]
        proto, ports = choices[(i // 97) % len(choices)]
        r = {"protocol": proto, "cidr": cidr, "action": "deny"}
        if ports:
            r["ports"] = ports
        return r
    if i % 13 == 0:
        # A /24 or /28 network in the second half of 198.18.0.0/15.
        plen = 24 if i % 2 else 28
        host = (BASE | 1 << 16) + (i * 256 if plen == 24 else i * 16) % 65536
        cidr = "%s/%d" % (ip_str(host), plen)
    else:
        cidr = "%s/32" % ip_str(BASE + 1 + i % 65535)
    action = "allow" if i % 10 == 3 else "deny"
    r = {"cidr": cidr, "action": action}
    if kind in (0, 1):
        r["protocol"] = "tcp"
        lo = 1 + (i * 37) % 60000
        r["ports"] = str(lo) if kind == 0 else "%d-%d" % (lo, lo + 1 + i % 500)
    elif kind in (2, 3):
        r["protocol"] = "udp"
        lo = 1 + (i * 53) % 60000
        r["ports"] = str(lo) if kind == 2 else "%d-%d" % (lo, lo + 1 + i % 200)
    elif kind == 4:
        r["protocol"] = "icmp"
        r["icmp_type"] = (0, 3, 8, 11)[i % 4]
        if i % 3 == 0:
            r["icmp_code"] = i % 4
    elif kind == 5:
        r["protocol"] = "all"
    else:
        r["protocol"] = str((47, 50, 132, 17, 6)[i % 5])
        # 17/6 by number: udp/tcp over every port, still from 198.18/15 only.
    return r


OTHER = 100003  # where the other NACL's fillers start


def nacl_rules(n, other=False):
    """The N inbound rules with their numbers; the last one lets the client in.
    other: N different rules (no filler the same), the last one keeping it out:
    replacing one NACL with the other changes every rule."""
    rules = []
    for i in range(n - 1):
        r = {"rule": 2 * (i + 1)}
        r.update(filler(i + OTHER if other else i))
        rules.append(r)
    if n:
        rules.append({"rule": 2 * n, "protocol": "all", "cidr": CLIENT_NET,
                      "action": "deny" if other else "allow"})
    return rules


def topo(n, other=False):
    server = {"name": "srv", "cidr": SERVER_NET}
    vpc = {
        "name": VPC, "cidr": VPC_CIDR,
        "subnets": [{"name": "cli", "cidr": CLIENT_NET}, server],
        "instances": [
            {"name": "c1", "subnet": "cli", "private_ip": CLIENT_IP},
            {"name": "s1", "subnet": "srv", "private_ip": SERVER_IP},
        ],
    }
    if n:
        server["network_acl"] = NACL
        vpc["network_acls"] = [{
            "name": NACL,
            "inbound": nacl_rules(n, other),
            # Replies leave the server subnet: allow all, as the default NACL does.
            "outbound": [{"rule": 100, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"}],
        }]
    return {"vpcs": [vpc]}


def ipt_match(r):
    m = ["-s", r["cidr"]]
    p = r["protocol"]
    if p in ("tcp", "udp"):
        m += ["-p", p]
        if "ports" in r:
            m += ["--dport", r["ports"].replace("-", ":")]
    elif p == "icmp":
        m += ["-p", "icmp"]
        if "icmp_type" in r:
            t = str(r["icmp_type"])
            if "icmp_code" in r:
                t += "/%d" % r["icmp_code"]
            m += ["--icmp-type", t]
    elif p != "all":
        m += ["-p", p]
    return m


def iptables(n, client_port):
    """FORWARD with policy DROP. Packets toward the client subnet are accepted by
    the first rule (the allow-all NACLs the replies cross); everything else is
    headed for the server subnet and walks the N rules, the accepting one last.
    (The rules carry no "-o" match of their own: one match less per rule, in
    iptables' favour.)"""
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]",
             "-A FORWARD -o %s -j ACCEPT" % client_port]
    rules = nacl_rules(n) if n else [{"protocol": "all", "cidr": CLIENT_NET, "action": "allow"}]
    for r in rules:
        verdict = "ACCEPT" if r["action"] == "allow" else "DROP"
        lines.append(" ".join(["-A FORWARD"] + ipt_match(r) + ["-j", verdict]))
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def check(used_ports=USED_PORTS, hosts=(CLIENT_IP,), rules=None):
    """No filler rule may match the benchmark traffic from `hosts` to `used_ports`
    (a cheap self-test; bench/sg_rules.py runs it on its rules too)."""
    import ipaddress
    hosts = [ipaddress.ip_address(h) for h in hosts]
    for r in rules if rules is not None else map(filler, list(range(10000)) +
                                                  list(range(OTHER, OTHER + 10000))):
        if "cidr" not in r or not any(h in ipaddress.ip_network(r["cidr"]) for h in hosts):
            continue
        p = r["protocol"]
        assert p in ("tcp", "udp", "47"), r
        if p in ("tcp", "udp"):
            lo, _, hi = r["ports"].partition("-")
            for port in used_ports:
                assert not (int(lo) <= port <= int(hi or lo)), r


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    what = sys.argv[1]
    if what == "check":
        check()
        return
    n, path = int(sys.argv[2]), sys.argv[3]
    if what in ("topo", "other"):
        text = json.dumps(topo(n, what == "other"), indent=1) + "\n"
    elif what == "iptables":
        # Port names of the hand-built router (bench/nacl.sh).
        text = iptables(n, client_port=sys.argv[4])
    else:
        sys.exit(__doc__)
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
