#!/bin/bash
# Instances reach each other inside a subnet and across subnets (ping and TCP), and
# the router answers for every address of the subnet.
. "$(dirname "$0")/lib.sh"
start_vpcd

topo lab <<'JSON'
{"vpcs": [{"name": "lab", "cidr": "10.0.0.0/16",
  "subnets": [{"name": "a", "cidr": "10.0.1.0/24"}, {"name": "b", "cidr": "10.0.2.0/24"}],
  "instances": [{"name": "a1", "subnet": "a"}, {"name": "a2", "subnet": "a"},
                {"name": "b1", "subnet": "b", "private_ip": "10.0.2.10"}]}]}
JSON
expect_ok "apply" vpcctl apply -f "$TMP/lab.json"
a2=$(ip_of lab a2)
[ "$a2" = 10.0.1.5 ] && ok "first free address allocated in file order" || fail "a2 got $a2"

ping_ok lab/a1 "$a2"          # same subnet
ping_ok lab/a1 10.0.2.10      # across subnets
ping_ok lab/b1 10.0.1.4
ping_ok lab/a1 10.0.1.1       # the subnet's router
ping_no lab/a1 10.0.1.99      # nobody there
ping_no lab/a1 10.0.3.4       # no such subnet

serve_tcp lab/b1 5432
tcp_ok lab/a1 10.0.2.10 5432
tcp_ok lab/a2 10.0.2.10 5432
tcp_no lab/a1 10.0.2.10 5433  # nothing listens: refused, not hung
serve_udp lab/a2 53
udp_ok lab/b1 "$a2" 53

# Instance view: eth0 with the subnet prefix, default route via .1, IPv4 only.
out=$(vpcctl exec lab/a1 -- ip -4 -o addr show dev eth0)
[[ $out == *"10.0.1.4/24"* ]] && ok "eth0 has 10.0.1.4/24" || fail "eth0: $out"
out=$(vpcctl exec lab/a1 -- ip route show default)
[[ $out == "default via 10.0.1.1 dev eth0"* ]] && ok "default route via 10.0.1.1" || fail "route: $out"
[ -z "$(vpcctl exec lab/a1 -- ip -6 -o addr show)" ] && ok "no IPv6 addresses" || fail "IPv6 present"

# No broadcast domain: a1 resolves a2 and 10.0.1.1 to the router port's MAC.
vpcctl exec lab/a1 -- ping -c1 -W1 -q "$a2" >/dev/null
mac_a2=$(vpcctl exec lab/a1 -- ip neigh show "$a2" | awk '{print $5}')
mac_gw=$(vpcctl exec lab/a1 -- ip neigh show 10.0.1.1 | awk '{print $5}')
[ -n "$mac_a2" ] && [ "$mac_a2" = "$mac_gw" ] && ok "ARP for a peer is answered by the router ($mac_gw)" \
	|| fail "peer MAC $mac_a2, router MAC $mac_gw"

# exec passes the exit code and standard streams through.
set +e
vpcctl exec lab/a1 -- sh -c 'exit 7'
rc=$?
set -e
[ $rc -eq 7 ] && ok "exec passes the exit code" || fail "exit code $rc"
out=$(echo through | vpcctl exec lab/a1 -- cat)
[ "$out" = through ] && ok "exec passes stdin/stdout" || fail "got $out"
expect_fail "exec into a missing instance" vpcctl exec lab/zz -- true
