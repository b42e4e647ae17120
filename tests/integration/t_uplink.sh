#!/bin/bash
# The opt-in uplink: the simulated internet reaches a "real" network through a
# named interface of vpcd's own namespace, masqueraded. vpcd runs inside a
# namespace this test makes ("the host"), so the machine's own network is never
# touched; a second namespace plays the world outside.
. "$(dirname "$0")/lib.sh"

HOST=$NSP-uplhost
WORLD=$NSP-uplworld
at_exit 'ip netns delete "$HOST" 2>/dev/null; ip netns delete "$WORLD" 2>/dev/null'
ip netns add "$HOST"
ip netns add "$WORLD"
ip -n "$HOST" link add up0 type veth peer name wan0 netns "$WORLD"
ip -n "$HOST" addr add 192.0.2.2/24 dev up0
ip -n "$HOST" link set up0 up
ip -n "$HOST" link set lo up
ip -n "$WORLD" addr add 192.0.2.1/24 dev wan0
ip -n "$WORLD" link set wan0 up
ip -n "$WORLD" link set lo up
ip netns exec "$HOST" sysctl -qw net.ipv4.conf.up0.forwarding=0
VPCD_NETNS=$HOST
start_vpcd

topo up <<'JSON'
{"internet": {"uplink": "up0"},
 "vpcs": [{"name": "v", "cidr": "10.0.0.0/16", "internet_gateway": true,
  "subnets": [{"name": "pub", "cidr": "10.0.1.0/24", "route_table": "pub"}],
  "route_tables": [{"name": "pub", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]}],
  "instances": [{"name": "a", "subnet": "pub", "public_ip": true}, {"name": "b", "subnet": "pub"}]}]}
JSON
expect_ok "apply with an uplink" vpcctl apply -f "$TMP/up.json"

# The world answers with the address it saw.
bg nsenter --net="/run/netns/$WORLD" socat -T 5 TCP-LISTEN:80,reuseaddr,fork SYSTEM:'echo $SOCAT_PEERADDR'
for _ in $(seq 50); do ip netns exec "$WORLD" ss -Htln "sport = :80" | grep . >/dev/null && break; sleep 0.1; done
out=$(vpcctl exec v/a -- socat -T 2 - TCP:192.0.2.1:80,connect-timeout=2 </dev/null)
[ "$out" = 192.0.2.2 ] && ok "an instance with a public IP reaches the world, masqueraded as the uplink" \
	|| fail "a -> world: '$out'"
out=$(vpcctl exec internet -- socat -T 2 - TCP:192.0.2.1:80,connect-timeout=2 </dev/null)
[ "$out" = 192.0.2.2 ] && ok "the simulated internet host reaches the world" || fail "internet -> world: '$out'"
out=$(vpcctl exec v/b -- socat -T 2 - TCP:192.0.2.1:80,connect-timeout=2 </dev/null 2>/dev/null || true)
[ -z "$out" ] && ok "an instance without a public IP does not" || fail "b -> world: '$out'"
[ "$(ip netns exec "$HOST" sysctl -n net.ipv4.conf.up0.forwarding)" = 1 ] && ok "forwarding on up0 while in use" \
	|| fail "up0 forwarding off"
out=$(vpcctl show -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["internet"]["uplink"])')
[ "$out" = up0 ] && ok "show names the uplink" || fail "show: $out"
n=$(vpcctl apply -f "$TMP/up.json" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["changes"])')
[ "$n" = 0 ] && ok "re-applying changes nothing" || fail "re-apply made $n changes"

# An interface that does not exist is refused, and nothing changes.
sed 's/"uplink": "up0"/"uplink": "nope0"/' "$TMP/up.json" >"$TMP/bad.json"
out=$(vpcctl apply -f "$TMP/bad.json" 2>&1 || true)
[[ $out == *"internet.uplink: host interface nope0 does not exist"* ]] && ok "a missing interface is refused: $out" \
	|| fail "nope0: $out"
grep -q "nope0" "$TMP/vpcd.log" && ! grep -q "rolling back" "$TMP/vpcd.log" && ok "... before the kernel was touched" \
	|| fail "the refusal came late: $(tail -3 "$TMP/vpcd.log")"
out=$(vpcctl exec v/a -- socat -T 2 - TCP:192.0.2.1:80,connect-timeout=2 </dev/null)
[ "$out" = 192.0.2.2 ] && ok "the uplink still works after the refused change" || fail "after refusal: '$out'"

# Without the uplink the world is gone again, and the host is as it was. (A file
# without "internet" leaves the setting alone, like VPCs it does not name.)
sed 's/"internet": {"uplink": "up0"}/"internet": {}/' "$TMP/up.json" >"$TMP/noup.json"
expect_ok "apply without the uplink" vpcctl apply -f "$TMP/noup.json"
out=$(vpcctl exec v/a -- socat -T 2 - TCP:192.0.2.1:80,connect-timeout=2 </dev/null 2>/dev/null || true)
[ -z "$out" ] && ok "the world is unreachable without the uplink" || fail "still reached: '$out'"
[ "$(ip netns exec "$HOST" sysctl -n net.ipv4.conf.up0.forwarding)" = 0 ] && ok "up0 forwarding restored" \
	|| fail "up0 forwarding not restored"
[ -z "$(ip -n "$HOST" -o link | grep vpcup)" ] && ok "no uplink link left on the host" || fail "link left"
[ -z "$(ip netns exec "$HOST" nft list tables | grep vpcd_uplink)" ] && ok "no uplink table left on the host" \
	|| fail "table left"
