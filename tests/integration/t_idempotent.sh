#!/bin/bash
# Applying the same file twice changes nothing: no kernel operation, the same state
# file byte for byte, the same namespaces (inodes), links (ifindex, MAC), addresses
# and routes. Also after reformatting the file, and across a daemon restart.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kstate.sh"
start_vpcd

topo lab <<'JSON'
{"vpcs": [
 {"name": "lab", "cidr": "10.0.0.0/16",
  "subnets": [{"name": "a", "cidr": "10.0.1.0/24"}, {"name": "b", "cidr": "10.0.2.0/28"}],
  "instances": [{"name": "a1", "subnet": "a"}, {"name": "a2", "subnet": "a"},
                {"name": "b1", "subnet": "b", "private_ip": "10.0.2.6"},
                {"name": "b2", "subnet": "b"}]},
 {"name": "two", "cidr": "172.16.0.0/24",
  "subnets": [{"name": "s", "cidr": "172.16.0.0/26"}],
  "instances": [{"name": "t1", "subnet": "s"}]}]}
JSON
changes() { vpcctl apply -o json "$@" | json_get 'd["changes"]'; }

n=$(changes -f "$TMP/lab.json")
[ "$n" -gt 0 ] && ok "first apply makes $n kernel operations" || fail "first apply made $n operations"
ping_ok lab/a1 10.0.2.6

snap1=$(kernel_snapshot)
sum1=$(state_sum)
show1=$(vpcctl show -o json)
[ -n "$sum1" ] && ok "the state file exists" || fail "no state file"
[ "$(grep -c '^== ' <<<"$snap1")" -eq 7 ] && ok "7 namespaces (2 routers, 5 instances)" ||
	fail "namespaces: $(grep '^== ' <<<"$snap1")"

# Second apply of the same file.
out=$(vpcctl apply -o json -f "$TMP/lab.json")
[ "$(json_get 'd["changes"]' <<<"$out")" = 0 ] && ok "second apply: \"changes\": 0" || fail "second apply: $out"
[ "$(json_get 'len(d["operations"])' <<<"$out")" = 0 ] && ok "second apply: no operations" || fail "operations: $out"
[ "$(state_sum)" = "$sum1" ] && ok "state file byte-for-byte unchanged" || fail "state file changed"
snap2=$(kernel_snapshot)
[ "$snap2" = "$snap1" ] && ok "kernel unchanged (namespace inodes, links, MACs, addresses, routes)" ||
	fail "kernel changed: $(diff <(echo "$snap1") <(echo "$snap2"))"
[ "$(vpcctl show -o json)" = "$show1" ] && ok "show unchanged" || fail "show changed"

out=$(vpcctl apply -f "$TMP/lab.json")
[ "$out" = "no changes: the kernel already matches" ] && ok "apply prints \"$out\"" || fail "apply printed: $out"

# The things a user would look at, one by one: port vpc-iN is ifindex 1000+N in the
# router, eth0 is ifindex 2 in the instance, peered with its port, and has the MAC
# that show reports. (The snapshots above prove they did not change.)
ports=$(ip -n "$NSP.lab" -o link | sed -n 's/^\([0-9]*\): vpc-i\([0-9]*\)@.*link\/ether \([0-9a-f:]*\).*/\1 \2 \3/p')
[ "$(wc -l <<<"$ports")" -eq 4 ] && ok "4 router ports in lab" || fail "ports: $ports"
while read -r idx id _; do
	[ "$idx" = $((1000 + id)) ] || fail "port vpc-i$id has ifindex $idx"
done <<<"$ports"
ok "every port vpc-iN has ifindex 1000+N"
for i in a1 a2 b1 b2; do
	read -r idx peer mac < <(ip -n "$NSP.lab.i.$i" -o link show eth0 |
		sed -n 's/^\([0-9]*\): eth0@if\([0-9]*\):.*link\/ether \([0-9a-f:]*\).*/\1 \2 \3/p')
	want=$(vpcctl instance list lab -o json | json_get '[x["mac"] for x in d if x["name"] == "'$i'"][0]')
	[ "$idx" = 2 ] && [ "$mac" = "$want" ] && grep -q "^$peer $((peer - 1000)) " <<<"$ports" ||
		fail "$i: eth0 ifindex $idx, peer $peer, mac $mac (show: $want)"
done
ok "eth0 is ifindex 2, peered with its port, with the MAC show reports, in every instance"

# Once more, with the file reformatted (other whitespace, other key order).
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
def rev(o):
    if isinstance(o, dict): return {k: rev(o[k]) for k in reversed(list(o))}
    if isinstance(o, list): return [rev(x) for x in o]
    return o
json.dump(rev(d), open(sys.argv[2], "w"), indent=5)' "$TMP/lab.json" "$TMP/reformatted.json"
[ "$(changes -f "$TMP/reformatted.json")" = 0 ] && ok "reformatted file: no changes" || fail "reformatted file made changes"
[ "$(kernel_snapshot)" = "$snap1" ] && ok "kernel unchanged after the reformatted file" || fail "kernel changed"

# A file naming only one of the VPCs leaves the other alone and changes nothing.
python3 -c '
import json, sys
d = json.load(open(sys.argv[1])); d["vpcs"] = d["vpcs"][:1]
json.dump(d, open(sys.argv[2], "w"))' "$TMP/lab.json" "$TMP/only-lab.json"
[ "$(changes -f "$TMP/only-lab.json")" = 0 ] && ok "file with one of two VPCs: no changes" || fail "changes"
[ "$(kernel_snapshot)" = "$snap1" ] && ok "kernel unchanged, VPC two still there" || fail "kernel changed"

# A dry run of the same file: nothing to do.
out=$(vpcctl apply --dry-run -o json -f "$TMP/lab.json")
[ "$(json_get 'd["changes"]' <<<"$out")" = 0 ] && ok "dry run of the same file: 0 changes" || fail "dry run: $out"

# Across a daemon restart: the kernel is untouched, and the file still changes nothing.
stop_vpcd
start_vpcd
[ "$(kernel_snapshot)" = "$snap1" ] && ok "restart: kernel unchanged" ||
	fail "restart changed the kernel: $(diff <(echo "$snap1") <(kernel_snapshot))"
[ "$(changes -f "$TMP/lab.json")" = 0 ] && ok "apply after restart: no changes" || fail "changes after restart"
[ "$(state_sum)" = "$sum1" ] && ok "state file unchanged after restart and apply" || fail "state file changed"
[ "$(kernel_snapshot)" = "$snap1" ] && ok "kernel unchanged after restart and apply" || fail "kernel changed"
ping_ok lab/a1 10.0.2.6
ping_ok two/t1 172.16.0.1
