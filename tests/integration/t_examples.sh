#!/bin/bash
# Every claim in examples/*/README.md, with real traffic, numbered as there.
. "$(dirname "$0")/lib.sh"
start_vpcd

pub_of() { # VPC NAME: an instance's or NAT gateway's public IP
	vpcctl show "$1" -o json | python3 -c '
import json, sys
v = json.load(sys.stdin)["vpcs"][0]
print([x for x in v["instances"] + v["nat_gateways"] if x["name"] == sys.argv[1]][0]["public_ip"])' "$2"
}

# ---- examples/lab.json (the README's first command) ----
expect_ok "apply examples/lab.json" vpcctl apply -f "$ROOT/examples/lab.json"
ping_ok lab/web1 10.0.1.5
ping_ok lab/web1 10.0.2.10
expect_ok "destroy lab" vpcctl destroy lab

# ---- examples/two-tier ----
expect_ok "apply examples/two-tier" vpcctl apply -f "$ROOT/examples/two-tier/topology.json"
web1=$(pub_of shop web1)
nat1=$(pub_of shop nat1)
tool=$(pub_of shop tool)
web2=$(ip_of shop web2)
serve_tcp shop/web1 80
serve_tcp shop/web1 22
serve_tcp shop/web1 8080
serve_tcp shop/db1 5432
serve_tcp shop/tool 8080
# The internet host says who it heard from.
bg vpcctl exec internet -- socat -T 5 TCP-LISTEN:8080,reuseaddr,fork SYSTEM:'echo $SOCAT_PEERADDR'
wait_listen internet 8080 tcp

tcp_ok internet "$web1" 80                                      # 1
tcp_ok internet "$web1" 22                                      # 2
tcp_no internet "$web1" 8080                                    # 3
ping_no internet "$web2"                                        # 4
out=$(vpcctl exec shop/web2 -- socat -T 2 - TCP:203.0.113.1:8080,connect-timeout=2 </dev/null 2>/dev/null || true)
[ -z "$out" ] && ok "5: web2 cannot reach the internet" || fail "5: web2 reached the internet as $out"
out=$(vpcctl exec shop/web1 -- socat -T 2 - TCP:203.0.113.1:8080,connect-timeout=2 </dev/null 2>/dev/null)
[ "$out" = "$web1" ] && ok "6: web1 reaches the internet as $web1" || fail "6: web1 seen as '$out'"
out=$(vpcctl exec shop/db1 -- socat -T 2 - TCP:203.0.113.1:8080,connect-timeout=2 </dev/null 2>/dev/null)
[ "$out" = "$nat1" ] && ok "7: db1 reaches the internet as the NAT gateway $nat1" \
	|| fail "7: db1 seen as '$out'"
out=$(vpcctl exec internet -- socat -T 2 - TCP:"$nat1":5432,connect-timeout=2 </dev/null 2>/dev/null || true)
[ -z "$out" ] && ok "8: the NAT gateway lets nothing in" || fail "8: got '$out' through the NAT gateway"
tcp_no internet "$tool" 8080                                    # 9
tcp_ok shop/web1 10.0.2.10 5432                                 # 10
tcp_no shop/tool 10.0.2.10 5432                                 # 11
ping_ok internet "$web1"                                        # 12
# (9, the other half: the same port answers from inside the VPC.)
tcp_ok shop/web1 "$(ip_of shop tool)" 8080
expect_ok "destroy shop" vpcctl destroy shop

# ---- examples/peering ----
expect_ok "apply examples/peering" vpcctl apply -f "$ROOT/examples/peering/topology.json"
ping_ok dev/app 10.2.1.10                                       # 1
ping_ok shared/git 10.1.1.10                                    # 2
ping_ok shared/git 10.3.1.10                                    # 3
ping_no dev/app 10.3.1.10                                       # 4
ping_no prod/db 10.1.1.10                                       # 5
expect_ok "remove shared's route back to dev" vpcctl route remove shared svc --destination 10.1.0.0/16
ping_no dev/app 10.2.1.10                                       # 6
expect_ok "put it back" vpcctl route add shared svc --destination 10.1.0.0/16 --target peering:dev-shared
ping_ok dev/app 10.2.1.10
# 7: an overlapping peering is refused and nothing changes.
vpcctl vpc create twin --cidr 10.1.0.0/16 >/dev/null
sum0=$(sha256sum "$TMP/state/state.json")
ns0=$(ip netns list | sort)
out=$(vpcctl peering create dev-twin dev twin 2>&1 || true)
[[ $out == *"VPC dev (10.1.0.0/16) and VPC twin (10.1.0.0/16) overlap; peered VPCs need non-overlapping CIDRs"* ]] \
	&& ok "7: overlapping peering refused: $out" || fail "7: $out"
[ "$(sha256sum "$TMP/state/state.json")" = "$sum0" ] && [ "$(ip netns list | sort)" = "$ns0" ] \
	&& ok "7: nothing changed" || fail "7: something changed"
