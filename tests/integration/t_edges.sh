#!/bin/bash
# The edges beyond the examples: elastic IPs moving reachability (and surviving a
# restart), blackhole routes, group references across a peering, gateways and
# the internet going away with their VPCs, and an appliance route followed by the
# shortcut for tracked flows.
. "$(dirname "$0")/lib.sh"
start_vpcd

topo edge <<'JSON'
{"vpcs": [
 {"name": "a", "cidr": "10.1.0.0/16", "internet_gateway": true,
  "subnets": [{"name": "pub", "cidr": "10.1.1.0/24", "route_table": "pub"}],
  "route_tables": [{"name": "pub", "routes": [
     {"destination": "0.0.0.0/0", "target": "igw"},
     {"destination": "10.2.0.0/16", "target": "peering:ab"},
     {"destination": "192.0.2.0/24", "target": "blackhole"}]}],
  "security_groups": [{"name": "web", "ingress": [{"protocol": "tcp", "ports": "80", "cidr": "0.0.0.0/0"},
                                                  {"protocol": "tcp", "ports": "9000", "source_group": "b/client"}]}],
  "instances": [{"name": "w1", "subnet": "pub", "security_groups": ["web"]},
                {"name": "w2", "subnet": "pub", "security_groups": ["web"]}]},
 {"name": "b", "cidr": "10.2.0.0/16", "internet_gateway": true,
  "subnets": [{"name": "s", "cidr": "10.2.1.0/24", "route_table": "s"}],
  "route_tables": [{"name": "s", "routes": [{"destination": "10.1.0.0/16", "target": "peering:ab"}]}],
  "security_groups": [{"name": "client"}],
  "instances": [{"name": "c1", "subnet": "s", "security_groups": ["client"]},
                {"name": "c2", "subnet": "s"}]}],
 "peerings": [{"name": "ab", "vpcs": ["a", "b"]}]}
JSON
expect_ok "apply" vpcctl apply -f "$TMP/edge.json"
w1=$(ip_of a w1)
w2=$(ip_of a w2)
serve_tcp a/w1 80
serve_tcp a/w2 80
serve_tcp a/w1 9000

# Elastic IP: allocate, associate with w1, move to w2: reachability follows.
eip=$(vpcctl eip allocate)
[[ $eip == 198.51.100.* ]] && ok "allocated $eip" || fail "allocate: $eip"
tcp_no internet "$eip" 80
expect_ok "associate with w1" vpcctl eip associate "$eip" a/w1
out=$(tcp_talk internet "$eip" 80)
[ "$out" = hello-from-80 ] && ok "internet reaches w1 at $eip" || fail "w1 at $eip: $out"
# Tell w1 and w2 apart: w1's port 9000 is open, w2's is not.
vpcctl exec a/w1 -- ss -Htln "sport = :9000" | grep . >/dev/null || fail "w1 listens on 9000"
expect_ok "move to w2" vpcctl eip associate "$eip" a/w2
n=$(vpcctl show a -o json | python3 -c '
import json, sys
v = json.load(sys.stdin)["vpcs"][0]
print(",".join(i["name"] for i in v["instances"] if i["public_ip"] == sys.argv[1]))' "$eip")
[ "$n" = w2 ] && ok "show: $eip is w2's" || fail "show: $eip belongs to '$n'"
out=$(tcp_talk internet "$eip" 80)
[ "$out" = hello-from-80 ] && ok "internet reaches w2 at $eip" || fail "w2 at $eip: $out"
# The address really is w2's now: w2 reaches the internet from it.
bg vpcctl exec internet -- socat -T 5 TCP-LISTEN:8080,reuseaddr,fork SYSTEM:'echo $SOCAT_PEERADDR'
wait_listen internet 8080 tcp
out=$(vpcctl exec a/w2 -- socat -T 2 - TCP:203.0.113.1:8080,connect-timeout=2 </dev/null)
[ "$out" = "$eip" ] && ok "w2 leaves through $eip" || fail "w2 seen as $out"
out=$(vpcctl exec a/w1 -- socat -T 2 - TCP:203.0.113.1:8080,connect-timeout=2 </dev/null 2>/dev/null || true)
[ -z "$out" ] && ok "w1, without a public IP now, cannot" || fail "w1 seen as $out"
# Kept across a daemon restart.
stop_vpcd
start_vpcd
out=$(vpcctl eip list -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["instance"])')
[ "$out" = a/w2 ] && ok "the association survives a restart" || fail "after restart: $out"
n=$(vpcctl reconcile -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["counts"].get("igw-nat-sync", 0))')
[ "$n" = 0 ] && ok "nothing to repair after the restart" || fail "restart changed the NAT"
expect_ok "disassociate" vpcctl eip disassociate "$eip"
tcp_no internet "$eip" 80
expect_ok "release" vpcctl eip release "$eip"
expect_fail "release again" vpcctl eip release "$eip"

# A blackhole route drops; the same destination without it is unreachable for
# another reason (no route at the internet), so compare counters instead:
# the router's blackhole route answers nothing and forwards nothing.
out=$(vpcctl exec a/w1 -- ping -c 1 -w 2 192.0.2.1 2>&1 || true)
[[ $out == *"0 received"* ]] && ok "blackhole drops 192.0.2.0/24" || fail "blackhole: $out"
expect_ok "remove the blackhole" vpcctl route remove a pub --destination 192.0.2.0/24
out=$(ip netns exec "$NSP.a" ip route show table all 192.0.2.0/24)
[ -z "$out" ] && ok "the blackhole route is gone" || fail "still: $out"
expect_ok "blackhole the peer" vpcctl route add a pub --destination 10.2.1.0/24 --target blackhole
out=$(vpcctl exec b/c1 -- socat -T 2 - TCP:"$w1":9000,connect-timeout=2 </dev/null 2>/dev/null || true)
[ -z "$out" ] && ok "a more specific blackhole beats the peering route" || fail "got $out"
expect_ok "remove it" vpcctl route remove a pub --destination 10.2.1.0/24

# A group reference across the peering: 9000 on w1 only from members of b/client.
tcp_ok b/c1 "$w1" 9000
tcp_no b/c2 "$w1" 9000
expect_ok "c2 joins client" vpcctl instance groups b c2 client
tcp_ok b/c2 "$w1" 9000

# Gateways go with their VPC; the internet goes with the last gateway.
[ -e "/run/netns/$NSP.a.igw" ] && [ -e "/run/netns/$NSP.internet" ] && ok "gateways and internet exist" \
	|| fail "missing gateway or internet"
expect_ok "destroy a" vpcctl destroy a
[ ! -e "/run/netns/$NSP.a.igw" ] && ok "a's internet gateway is gone" || fail "a.igw left"
[ -e "/run/netns/$NSP.internet" ] && ok "the internet stays for b" || fail "internet gone too early"
ip netns exec "$NSP.internet" ip -o link | grep "vpc-g" >/dev/null && \
	[ "$(ip netns exec "$NSP.internet" ip -o link | grep -c vpc-g)" = 1 ] \
	&& ok "only b's link is left on the internet" || fail "internet links: $(ip netns exec "$NSP.internet" ip -o link)"
expect_ok "detach b's gateway" vpcctl vpc set b --internet-gateway off
[ ! -e "/run/netns/$NSP.internet" ] && ok "the internet went with the last gateway" || fail "internet left"
expect_fail "a route to igw without a gateway is refused" vpcctl route add b s --destination 0.0.0.0/0 --target igw

# An appliance in the path: subnet a's route table sends subnet b's traffic to the
# instance fw (source/destination check off, forwarding on inside it). Packets of
# tracked flows take the port program's shortcut, which must route them as the
# kernel would: through fw while the route exists, straight to b1 once it is gone.
topo mbox <<'JSON'
{"vpcs": [{"name": "m", "cidr": "10.9.0.0/16",
  "subnets": [{"name": "a", "cidr": "10.9.1.0/24", "route_table": "via"},
              {"name": "b", "cidr": "10.9.2.0/24"},
              {"name": "f", "cidr": "10.9.3.0/24"}],
  "route_tables": [{"name": "via", "routes": [{"destination": "10.9.2.0/24", "target": "instance:fw"}]}],
  "instances": [{"name": "a1", "subnet": "a", "private_ip": "10.9.1.10"},
                {"name": "b1", "subnet": "b", "private_ip": "10.9.2.10"},
                {"name": "fw", "subnet": "f", "private_ip": "10.9.3.10", "source_dest_check": false}]}]}
JSON
expect_ok "apply a VPC with an appliance route" vpcctl apply -f "$TMP/mbox.json"
expect_ok "forwarding on inside the appliance" vpcctl exec m/fw -- sysctl -qw net.ipv4.ip_forward=1
# via PORT: 10 MB from a1 to b1:PORT, whole and closed; VIA = how many packets fw
# forwarded (at least 153 of up to 64 KB: segments travel as GSO packets).
via() {
	local f1 f2
	f1=$(forwarded "$NSP.m.i.fw")
	send_file m/a1 m/b1 10.9.2.10 "$1" "$TMP/src10m" || fail "10 MB to b1:$1 did not arrive whole and closed"
	f2=$(forwarded "$NSP.m.i.fw")
	VIA=$((f2 - f1))
}
head -c 10000000 /dev/urandom >"$TMP/src10m"
r1=$(forwarded "$NSP.m")
via 5001
r2=$(forwarded "$NSP.m")
[ "$VIA" -gt 100 ] && ok "a tracked flow follows the route through the appliance ($VIA packets forwarded by fw)" \
	|| fail "the appliance forwarded $VIA packets of the transfer"
[ $((r2 - r1)) -lt 200 ] && ok "... by the shortcut: the router's stack forwarded $((r2 - r1)) of them" \
	|| fail "the router's stack forwarded $((r2 - r1)) packets: no shortcut"
expect_ok "remove the appliance route" vpcctl route remove m via --destination 10.9.2.0/24
via 5002
[ "$VIA" -lt 50 ] && ok "without the route the flow goes straight to b1 ($VIA packets through fw)" \
	|| fail "the appliance still forwarded $VIA packets"
