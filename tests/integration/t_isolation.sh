#!/bin/bash
# Two VPCs with the same CIDR and the same private IPs are isolated: each instance
# reaches its own VPC (the "same" address answers from its own VPC), and nothing of
# the other VPC, in both directions.
. "$(dirname "$0")/lib.sh"
start_vpcd

# red and blue share 10.0.0.0/16 and the addresses of x and y; each also has an
# address the other lacks (red/r at .30, blue/w at .20, blue/z in a subnet red lacks).
topo twins <<'JSON'
{"vpcs": [
 {"name": "red", "cidr": "10.0.0.0/16",
  "subnets": [{"name": "a", "cidr": "10.0.1.0/24"}],
  "instances": [{"name": "x", "subnet": "a", "private_ip": "10.0.1.10"},
                {"name": "y", "subnet": "a", "private_ip": "10.0.1.11"},
                {"name": "r", "subnet": "a", "private_ip": "10.0.1.30"}]},
 {"name": "blue", "cidr": "10.0.0.0/16",
  "subnets": [{"name": "a", "cidr": "10.0.1.0/24"}, {"name": "b", "cidr": "10.0.2.0/24"}],
  "instances": [{"name": "x", "subnet": "a", "private_ip": "10.0.1.10"},
                {"name": "y", "subnet": "a", "private_ip": "10.0.1.11"},
                {"name": "w", "subnet": "a", "private_ip": "10.0.1.20"},
                {"name": "z", "subnet": "b", "private_ip": "10.0.2.10"}]}]}
JSON
expect_ok "apply two VPCs with the same CIDR" vpcctl apply -f "$TMP/twins.json"

[ "$(ip_of red y)" = 10.0.1.11 ] && [ "$(ip_of blue y)" = 10.0.1.11 ] &&
	ok "both VPCs hold 10.0.1.11" || fail "addresses: red/y $(ip_of red y), blue/y $(ip_of blue y)"
[ "$(ns_inode "$NSP.red")" != "$(ns_inode "$NSP.blue")" ] &&
	ok "each VPC has its own router namespace" || fail "one router namespace for both VPCs"

# A TCP server per instance that says which VPC it is in.
serve_as() { # WHERE PORT WORD
	bg vpcctl exec "$1" -- socat -U -t 3 -T 5 TCP-LISTEN:"$2",reuseaddr,fork SYSTEM:"echo $3"
	wait_listen "$1" "$2" tcp
}
answer_is() { # FROM DST PORT WORD
	local got
	got=$(tcp_talk "$1" "$2" "$3") || true
	[ "$got" = "$4" ] && ok "tcp $1 -> $2:$3 answered by $4" || fail "tcp $1 -> $2:$3: got '$got', want '$4'"
}
no_answer() { # FROM DST PORT
	local got
	got=$(tcp_talk "$1" "$2" "$3") || true
	[ -z "$got" ] && ok "no tcp $1 -> $2:$3" || fail "tcp $1 -> $2:$3 crossed VPCs: '$got'"
}
serve_as red/y 8080 red-y
serve_as blue/y 8080 blue-y
serve_as red/r 8080 red-r
serve_as blue/w 8080 blue-w
serve_as blue/z 8080 blue-z

# Inside each VPC, everything works; the shared address answers from its own VPC.
ping_ok red/x 10.0.1.11
ping_ok blue/x 10.0.1.11
ping_ok red/x 10.0.1.30
ping_ok blue/x 10.0.1.20
ping_ok blue/x 10.0.2.10
answer_is red/x 10.0.1.11 8080 red-y
answer_is blue/x 10.0.1.11 8080 blue-y
answer_is red/x 10.0.1.30 8080 red-r
answer_is blue/x 10.0.1.20 8080 blue-w
answer_is blue/x 10.0.2.10 8080 blue-z
answer_is blue/z 10.0.1.11 8080 blue-y

# Across VPCs, nothing: red cannot reach blue's own addresses, and back.
ping_no red/x 10.0.1.20
ping_no red/y 10.0.1.20
ping_no red/x 10.0.2.10
no_answer red/x 10.0.1.20 8080
no_answer red/x 10.0.2.10 8080
ping_no blue/x 10.0.1.30
ping_no blue/z 10.0.1.30
no_answer blue/x 10.0.1.30 8080
no_answer blue/z 10.0.1.30 8080

# Not one packet of red's traffic to 10.0.1.11 reaches blue's 10.0.1.11 (and back).
rx_packets() { # NAMESPACE: packets received on eth0
	ip -n "$1" -s -j link show dev eth0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])'
}
rx_counts_still() { # FROM DST-VPC: FROM sends to 10.0.1.11; DST-VPC's y must see none of it
	local before after
	before=$(rx_packets "$NSP.$2.i.y")
	vpcctl exec "$1" -- ping -c 5 -i 0.2 -W 1 -q 10.0.1.11 >/dev/null || fail "ping $1 -> 10.0.1.11"
	tcp_talk "$1" 10.0.1.11 8080 >/dev/null
	after=$(rx_packets "$NSP.$2.i.y")
	[ "$before" = "$after" ] && ok "$2/y received nothing of $1's traffic to 10.0.1.11" ||
		fail "$2/y received $((after - before)) packets of $1's traffic"
}
# The check can fail: its own VPC's y does count the packets.
before=$(rx_packets "$NSP.red.i.y")
vpcctl exec red/x -- ping -c 5 -i 0.2 -W 1 -q 10.0.1.11 >/dev/null
after=$(rx_packets "$NSP.red.i.y")
[ $((after - before)) -ge 5 ] && ok "red/y counts red/x's pings ($((after - before)) packets)" ||
	fail "red/y counted $((after - before)) packets"
rx_counts_still red/x blue
rx_counts_still blue/x red

# UDP too.
bg vpcctl exec red/y -- socat -U -t 3 -T 5 UDP-LISTEN:5353,reuseaddr,fork SYSTEM:"echo red-udp"
wait_listen red/y 5353 udp
bg vpcctl exec blue/w -- socat -U -t 3 -T 5 UDP-LISTEN:5353,reuseaddr,fork SYSTEM:"echo blue-udp"
wait_listen blue/w 5353 udp
# The answer comes from a process the listener forks: on a busy machine it may
# miss the 2 s the client waits, so up to three tries (as udp_ok does).
for _ in 1 2 3; do
	got=$(udp_talk red/x 10.0.1.11 5353) || true
	[ "$got" = red-udp ] && break
done
[ "$got" = red-udp ] && ok "udp red/x -> 10.0.1.11 answered by red" || fail "udp red/x -> 10.0.1.11: '$got'"
got=$(udp_talk blue/x 10.0.1.11 5353) || true
[ -z "$got" ] && ok "no udp blue/x -> 10.0.1.11:5353 (only red's y serves it)" || fail "udp blue -> red: '$got'"
got=$(udp_talk red/x 10.0.1.20 5353) || true
[ -z "$got" ] && ok "no udp red/x -> blue's 10.0.1.20" || fail "udp red -> blue: '$got'"
