#!/usr/bin/env python3
"""Writes the generated seeds of tests/fuzz/seeds (run from the repository's top;
the files are committed, this says where they came from):

  topo_load/   NACLs of 64 entries and more, in the plainest form, which
               topo_load() reads itself (indented and compact)
  nacl_text/   the entries of one of them as `vpcctl nacl export` writes them,
               and the AWS documentation's public-subnet NACL
  topology/    edit requests (first line) on examples/lab.json and the examples
  nacl_compile/ 40 random rules' worth of bytes
"""
import json
import random

SEEDS = "tests/fuzz/seeds"


def entry(rnd, num):
    p = rnd.choice(["tcp", "udp", "icmp", "all", "47"])
    e = {"rule": num, "protocol": p}
    if p in ("tcp", "udp") and rnd.random() < .8:
        lo = rnd.randrange(0, 65536)
        hi = rnd.randrange(lo, 65536)
        e["ports"] = str(lo) if rnd.random() < .5 else "%d-%d" % (lo, hi)
    if p == "icmp" and rnd.random() < .7:
        e["icmp_type"] = rnd.randrange(256)
        if rnd.random() < .5:
            e["icmp_code"] = rnd.randrange(256)
    ln = rnd.choice([0, 8, 16, 24, 28, 32])
    a = rnd.getrandbits(32) & ((0xffffffff << (32 - ln)) & 0xffffffff if ln else 0)
    e["cidr"] = "%d.%d.%d.%d/%d" % (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255, ln)
    e["action"] = rnd.choice(["allow", "deny"])
    return e


def nacl_doc(rnd, n_in, n_out):
    nums = sorted(rnd.sample(range(1, 32767), n_in + n_out))
    return {"vpcs": [{
        "name": "v", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "s", "cidr": "10.0.1.0/24", "network_acl": "n"}],
        "network_acls": [{"name": "n", "inbound": [entry(rnd, x) for x in nums[:n_in]],
                          "outbound": [entry(rnd, x) for x in nums[n_in:]]}]}]}


def write(path, text, mode="w"):
    with open("%s/%s" % (SEEDS, path), mode) as f:
        f.write(text)


def main():
    rnd = random.Random(3)
    d = nacl_doc(rnd, 70, 64)
    write("topo_load/nacl-indented.json", json.dumps(d, indent=2) + "\n")
    write("topo_load/nacl-compact.json", json.dumps(nacl_doc(rnd, 64, 3), separators=(",", ":")))

    lines = ["# direction\trule\tprotocol\tports|icmp\tcidr\taction"]
    for dirn in ("inbound", "outbound"):
        for e in d["vpcs"][0]["network_acls"][0][dirn][:40]:
            l4 = e.get("ports", "-")
            if e["protocol"] == "icmp" and "icmp_type" in e:
                l4 = str(e["icmp_type"]) + ("/%d" % e["icmp_code"] if "icmp_code" in e else "")
            lines.append("\t".join([dirn, str(e["rule"]), e["protocol"], l4, e["cidr"],
                                    e["action"]]))
    write("nacl_text/entries.txt", "\n".join(lines) + "\n")
    write("nacl_text/aws.txt", """# the AWS documentation's public subnet
inbound  100 tcp  80         0.0.0.0/0      allow
inbound  110 tcp  443        0.0.0.0/0      allow
inbound  120 tcp  22         192.0.2.0/24   allow
inbound  140 tcp  1024-65535 0.0.0.0/0      allow
inbound  150 icmp 8/0        0.0.0.0/0      allow
outbound 100 all  -          0.0.0.0/0      allow
outbound 200 udp  53         10.0.0.2/32    deny   # a comment
""")

    lab = json.load(open("examples/lab.json"))
    reqs = [
        {"op": "add", "path": ["vpcs", "lab", "network_acls"],
         "object": {"name": "n", "inbound": [{"rule": 100, "protocol": "tcp", "ports": "80",
                                              "cidr": "0.0.0.0/0", "action": "allow"}]}},
        {"op": "add", "path": ["vpcs", "lab", "subnets"],
         "object": {"name": "third", "cidr": "10.0.3.0/24"}},
        {"op": "remove", "path": ["vpcs", "lab", "instances", "web2"]},
        {"op": "replace", "path": ["vpcs", "lab", "subnets", "back"],
         "object": {"name": "back", "cidr": "10.0.4.0/24"}},
        {"op": "set", "path": ["vpcs", "lab", "instances", "web1"], "key": "source_dest_check",
         "value": False},
        {"op": "merge", "object": {"vpcs": [{"name": "other", "cidr": "10.1.0.0/16"}]},
         "prune": False},
    ]
    for i, r in enumerate(reqs):
        write("topology/lab-%d.txt" % i, json.dumps(r) + "\n" + json.dumps(lab, indent=1) + "\n")
    write("topology/nacl-entry.txt", json.dumps({
        "op": "add", "path": ["vpcs", "v", "network_acls", "n", "inbound"],
        "object": {"rule": 7, "protocol": "udp", "ports": "53", "cidr": "10.0.0.0/8",
                   "action": "deny"}}) + "\n" + json.dumps(nacl_doc(rnd, 5, 3)) + "\n")
    for name in ("two-tier", "peering"):
        write("topology/%s.txt" % name, '{"op": "remove", "path": ["vpcs", "x"]}\n' +
              open("examples/%s/topology.json" % name).read())

    rb = random.Random(9)
    write("nacl_compile/random-40", bytes(rb.getrandbits(8) for _ in range(13 * 40)), "wb")


if __name__ == "__main__":
    main()
