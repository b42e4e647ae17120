#!/usr/bin/env python3
"""Fuzzes vpcd's API with requests made from the ones vpcctl sends, mutated.

    api_fuzz.py SOCKET PREFIX BASE_FILE SECONDS SEED

Talks to the socket the way vpcctl does (one JSON request, a half-close, one
reply; `nacl_load` with its entries after the request; `*_file` operations with
a file attached). BASE_FILE is the topology the requests are made for; it is
applied again (with prune) every RESET requests, so that the state stays small.

What must hold, request by request:
- vpcd answers every request, with {"ok": true, "result": ...} or {"ok": false,
  "error": {"code", "message"}}, the code one of the API's and never "internal";
- a request refused, or made with "dry_run", changes nothing: the desired state
  is the same after it, reconcile finds the kernel matching it (0 changes), and
  (every few such requests) our namespaces, their links, addresses and routes
  are as they were.
Prints a summary; exits 1 with the request and the reply on the first failure.
"""
import array
import json
import os
import random
import socket
import subprocess
import sys
import time

CODES = {"invalid", "not_json", "not_found", "conflict", "not_supported", "kernel"}
RESET = 60
SNAPSHOT_EVERY = 8  # unchanged-state requests between kernel snapshots


def call(sock_path, data, fd=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(sock_path)
    if fd is not None:
        s.sendmsg([data[:1]], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
        data = data[1:]
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    return out


class Fuzz:
    def __init__(self, sock, prefix, base, seed):
        self.sock, self.prefix, self.base = sock, prefix, base
        self.r = random.Random(seed)
        self.n = {"sent": 0, "accepted": 0, "refused": 0, "dry": 0, "compared": 0}
        self.codes = {}

    def rpc(self, req):
        reply = json.loads(call(self.sock, json.dumps(req).encode()))
        if not reply.get("ok"):
            sys.exit("api_fuzz: %s refused: %s" % (req.get("op"), reply))
        return reply.get("result")

    def desired(self):
        return self.rpc({"op": "desired"})

    def reconcile_changes(self):
        return self.rpc({"op": "reconcile"})["changes"]

    def snapshot(self):
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        out = []
        for ns in sorted(l.split()[0] for l in names.splitlines() if l.startswith(self.prefix + ".")):
            out.append("== %s %d" % (ns, os.stat("/run/netns/" + ns).st_ino))
            for cmd in (["-o", "link"], ["-o", "addr"], ["route", "show", "table", "all"]):
                p = subprocess.run(["nsenter", "--net=/run/netns/" + ns, "ip"] + cmd,
                                   capture_output=True, text=True)
                # the peer's namespace name varies with other users' namespaces
                out.extend(" ".join(w for w in l.split() if not w.startswith("link-netns"))
                           for l in p.stdout.splitlines())
        return out

    # ---- what vpcctl sends ----

    def name(self):
        return self.r.choice(["x", "web1", "web2", "db1", "front", "back", "n1", "web", "rt",
                              "lab", "default", "main", "new%d" % self.r.randrange(50)])

    def cidr(self):
        return self.r.choice(["10.0.%d.0/24" % self.r.randrange(8), "10.0.0.0/16",
                              "0.0.0.0/0", "192.0.2.%d/32" % self.r.randrange(256),
                              "10.%d.0.0/16" % self.r.randrange(4)])

    def nacl_entry(self):
        e = {"rule": self.r.randrange(1, 400), "protocol": self.r.choice(["tcp", "udp", "icmp",
                                                                          "all", "47"]),
             "cidr": self.cidr(), "action": self.r.choice(["allow", "deny"])}
        if e["protocol"] in ("tcp", "udp"):
            e["ports"] = self.r.choice(["80", "443", "1024-65535", "22"])
        return e

    def sg_rule(self):
        rule = {"protocol": self.r.choice(["tcp", "udp", "icmp", "all"])}
        if rule["protocol"] in ("tcp", "udp"):
            rule["ports"] = self.r.choice(["80", "5432", "0-65535"])
        if self.r.random() < .5:
            rule["cidr"] = self.cidr()
        else:
            rule["source_group"] = self.r.choice(["web", "default", "db"])
        return rule

    def template(self):
        r = self.r
        v = ["vpcs", "lab"]
        choices = [
            lambda: {"op": "add", "path": v + ["subnets"],
                     "object": {"name": self.name(), "cidr": self.cidr()}},
            lambda: {"op": "add", "path": v + ["instances"],
                     "object": {"name": self.name(), "subnet": r.choice(["front", "back"])}},
            lambda: {"op": "remove", "path": v + [r.choice(["instances", "subnets",
                                                            "security_groups", "route_tables",
                                                            "network_acls"]), self.name()]},
            lambda: {"op": "set", "path": v + ["instances", self.name()],
                     "key": r.choice(["source_dest_check", "security_groups", "subnet"]),
                     "value": r.choice([False, True, ["web"], [], "front", None])},
            lambda: {"op": "set", "path": v + ["subnets", self.name()],
                     "key": r.choice(["network_acl", "route_table"]),
                     "value": r.choice(["n1", "default", "rt", "main", None])},
            lambda: {"op": "add", "path": v + ["network_acls", "n1", r.choice(["inbound",
                                                                               "outbound"])],
                     "object": self.nacl_entry()},
            lambda: {"op": r.choice(["replace", "remove"]),
                     "path": v + ["network_acls", "n1", "inbound", str(r.choice([100, 110, 7]))],
                     "object": self.nacl_entry()},
            lambda: {"op": "sg_rule", "vpc": "lab", "group": r.choice(["web", "db", "default"]),
                     "direction": r.choice(["ingress", "egress"]),
                     "action": r.choice(["add", "remove"]), "rule": self.sg_rule()},
            lambda: {"op": "add", "path": v + ["route_tables", "rt", "routes"],
                     "object": {"destination": self.cidr(),
                                "target": r.choice(["igw", "blackhole", "instance:web1",
                                                    "nat-gateway:x", "peering:p"])}},
            lambda: {"op": "apply", "topology": {"vpcs": [{"name": "lab2",
                                                           "cidr": "10.%d.0.0/16" % r.randrange(4),
                                                           "subnets": [{"name": "s", "cidr": "10.1.1.0/24"}]}]}},
            lambda: {"op": "destroy", "vpc": r.choice(["nope", "lab2"])},
            lambda: {"op": r.choice(["show", "status", "desired", "eip_allocate"])},
            lambda: {"op": "show", "vpc": "lab", "security_group": self.name()},
            lambda: {"op": "resolve", "target": r.choice(["lab/web1", "lab/nope", "x", ""])},
        ]
        return r.choice(choices)()

    # ---- mutations ----

    def value(self, depth=0):
        r = self.r
        k = r.randrange(12)
        if k == 0:
            return None
        if k == 1:
            return r.choice([True, False])
        if k == 2:
            return r.choice([0, -1, 1, 65535, 65536, 32766, 32767, 2**31, -2**63, 2**63 - 1])
        if k == 3:
            return r.random() * r.choice([1, 1e6, -1])
        if k == 4 and depth < 3:
            return [self.value(depth + 1) for _ in range(r.randrange(4))]
        if k == 5 and depth < 3:
            return {self.key(): self.value(depth + 1) for _ in range(r.randrange(4))}
        if k == 6:
            return "x" * r.choice([0, 1, 15, 16, 63, 64, 255, 256, 5000])
        if k == 7:
            return r.choice(["\u00e9", "a\u0000b", "../../etc", "%s%n", "\ud7ff", "lab/web1",
                             "-", " ", "1e9", "0x10", "10.0.0.0/33", "10.0.0.1/24"])
        return self.name() if k < 10 else self.cidr()

    def key(self):
        return self.r.choice(["op", "path", "object", "key", "value", "vpc", "group", "rule",
                              "dry_run", "prune", "name", "cidr", "subnet", "protocol",
                              "ports", "action", "topology", "direction", "all", "zzz"])

    def mutate_json(self, req):
        """Changes one place of the request: a value replaced, a key dropped or added."""
        r = self.r
        places = []

        def walk(node):
            if isinstance(node, dict):
                for k in list(node):
                    places.append((node, k))
                    walk(node[k])
            elif isinstance(node, list):
                for i in range(len(node)):
                    places.append((node, i))
                    walk(node[i])
        walk(req)
        if not places:
            return req
        parent, k = r.choice(places)
        what = r.randrange(4)
        if what == 0 and isinstance(parent, dict):
            del parent[k]
        elif what == 1 and isinstance(parent, dict):
            parent[self.key()] = self.value()
        else:
            parent[k] = self.value()
        return req

    def mutate_bytes(self, data):
        r = self.r
        b = bytearray(data)
        k = r.randrange(6)
        if k == 0 and b:
            del b[r.randrange(len(b)):]  # cut short
        elif k == 1 and b:
            for _ in range(r.randrange(1, 4)):
                b[r.randrange(len(b))] = r.randrange(256)
        elif k == 2:
            b[r.randrange(len(b) + 1):0] = r.choice([b"\x00", b"\xff\xfe", b"}", b"{", b",",
                                                       b'"', b"\\u0000", b"[" * 3000])
        elif k == 3:
            b += b" " + r.choice([b"{}", b"garbage", b"\n{\"op\":\"status\"}"])
        elif k == 4 and b.startswith(b"{"):
            b[1:1] = b'"op":"status",'  # a duplicate key
        else:
            b = b"[" * r.choice([100, 5000]) + b"]" * r.choice([0, 100, 5000])
        return bytes(b)

    def nacl_load(self):
        r = self.r
        head = {"op": "nacl_load", "vpc": "lab", "nacl": r.choice(["n1", "default", "nope"]),
                "dry_run": r.random() < .3}
        lines = []
        for _ in range(r.randrange(6)):
            e = self.nacl_entry()
            lines.append("%s %d %s %s %s %s" % (r.choice(["inbound", "outbound"]), e["rule"],
                                                e["protocol"], e.get("ports", "-"), e["cidr"],
                                                e["action"]))
        text = "\n".join(lines).encode() + b"\n"
        if r.random() < .5:
            text = self.mutate_bytes(text)
        return head, json.dumps(head).encode() + b"\n" + text

    def request(self):
        """(the request object as meant, or None; the bytes sent; a file to attach)"""
        r = self.r
        k = r.random()
        if k < .12:
            head, data = self.nacl_load()
            return head, data, None
        if k < .17:
            # apply_file with a mutated topology in an attached file
            doc = json.loads(json.dumps(self.base))
            for _ in range(r.randrange(1, 4)):
                self.mutate_json(doc)
            req = {"op": "apply_file", "dry_run": r.random() < .5}
            return req, json.dumps(req).encode(), json.dumps(doc).encode()
        req = self.template()
        if r.random() < .3:
            req["dry_run"] = True
        for _ in range(r.choice([0, 0, 1, 1, 2, 3])):
            self.mutate_json(req)
        data = json.dumps(req).encode()
        if r.random() < .15:
            data = self.mutate_bytes(data)
            try:
                req = json.loads(data)
            except (ValueError, RecursionError):
                req = None
        return req, data, None

    # ---- the run ----

    def check_reply(self, data, out):
        try:
            reply = json.loads(out)
        except ValueError:
            self.fail(data, out, "the reply is not JSON")
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            self.fail(data, out, "the reply has no \"ok\"")
        if reply["ok"]:
            if "result" not in reply:
                self.fail(data, out, "accepted without a result")
            return reply
        err = reply.get("error")
        if (not isinstance(err, dict) or err.get("code") not in CODES or
                not isinstance(err.get("message"), str) or not err["message"]):
            self.fail(data, out, "refused without a known code and a message")
        self.codes[err["code"]] = self.codes.get(err["code"], 0) + 1
        return reply

    def fail(self, data, out, why):
        sys.exit("api_fuzz: FAIL: %s\n  request: %r\n  reply:   %r" % (why, data[:2000], out[:2000]))

    def run(self, seconds):
        end = time.monotonic() + seconds
        apply_base = {"op": "apply", "topology": self.base, "prune": True}
        self.rpc(apply_base)
        unchanged = 0
        while time.monotonic() < end:
            if self.n["sent"] and self.n["sent"] % RESET == 0:
                self.rpc(apply_base)
            req, data, attach = self.request()
            before = self.desired()
            snap = None
            if unchanged % SNAPSHOT_EVERY == 0:
                snap = self.snapshot()
            fd = None
            if attach is not None:
                fd = os.memfd_create("api_fuzz")
                os.write(fd, attach)
            try:
                out = call(self.sock, data, fd)
            except OSError as e:
                self.fail(data, b"", "no answer: %s" % e)
            finally:
                if fd is not None:
                    os.close(fd)
            self.n["sent"] += 1
            reply = self.check_reply(data, out)
            dry = isinstance(req, dict) and req.get("dry_run") is True
            if reply["ok"] and not dry:
                self.n["accepted"] += 1
                continue
            self.n["refused" if not reply["ok"] else "dry"] += 1
            if self.desired() != before:
                self.fail(data, out, "%s, yet the desired state changed" %
                          ("refused" if not reply["ok"] else "a dry run"))
            if self.reconcile_changes():
                self.fail(data, out, "%s, yet reconcile found the kernel changed" %
                          ("refused" if not reply["ok"] else "a dry run"))
            if snap is not None:
                self.n["compared"] += 1
                if self.snapshot() != snap:
                    self.fail(data, out, "%s, yet our namespaces, links, addresses or routes "
                              "changed" % ("refused" if not reply["ok"] else "a dry run"))
            unchanged += 1
        print("api_fuzz: %d requests: %d accepted, %d refused (%s), %d dry runs; %d kernel "
              "snapshots compared" % (self.n["sent"], self.n["accepted"], self.n["refused"],
                                      ", ".join("%s %d" % kv for kv in sorted(self.codes.items())),
                                      self.n["dry"], self.n["compared"]))


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    sock, prefix, base, seconds, seed = sys.argv[1:]
    with open(base) as f:
        doc = json.load(f)
    Fuzz(sock, prefix, doc, int(seed)).run(float(seconds))


if __name__ == "__main__":
    main()
