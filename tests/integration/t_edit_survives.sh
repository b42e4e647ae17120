#!/bin/bash
# Applying an edited file changes only the difference: a TCP connection between two
# untouched instances survives, untouched namespaces keep their inodes, removed
# instances go, added ones answer, a changed address moves. A dry run lists the
# operations and changes nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kstate.sh"
start_vpcd

topo before <<'JSON'
{"vpcs": [{"name": "lab", "cidr": "10.0.0.0/16",
  "subnets": [{"name": "a", "cidr": "10.0.1.0/24"}, {"name": "b", "cidr": "10.0.2.0/24"}],
  "instances": [{"name": "keep1", "subnet": "a", "private_ip": "10.0.1.10"},
                {"name": "gone1", "subnet": "a", "private_ip": "10.0.1.11"},
                {"name": "keep2", "subnet": "b", "private_ip": "10.0.2.10"},
                {"name": "mover", "subnet": "a", "private_ip": "10.0.1.20"},
                {"name": "gone2", "subnet": "b", "private_ip": "10.0.2.11"},
                {"name": "stay3", "subnet": "b"}]}]}
JSON
topo after <<'JSON'
{"vpcs": [{"name": "lab", "cidr": "10.0.0.0/16",
  "subnets": [{"name": "a", "cidr": "10.0.1.0/24"}, {"name": "b", "cidr": "10.0.2.0/24"},
              {"name": "c", "cidr": "10.0.3.0/24"}],
  "instances": [{"name": "keep1", "subnet": "a", "private_ip": "10.0.1.10"},
                {"name": "new1", "subnet": "a"},
                {"name": "keep2", "subnet": "b", "private_ip": "10.0.2.10"},
                {"name": "mover", "subnet": "a", "private_ip": "10.0.1.30"},
                {"name": "stay3", "subnet": "b"},
                {"name": "new2", "subnet": "b", "private_ip": "10.0.2.50"},
                {"name": "new3", "subnet": "c"}]}]}
JSON
expect_ok "apply the first file" vpcctl apply -f "$TMP/before.json"
stay3_ip=$(ip_of lab stay3)
ping_ok lab/keep1 10.0.1.20
ping_ok lab/keep1 10.0.1.11
ping_ok lab/keep1 10.0.2.11

# A long-lived connection keep1 -> keep2: a line every 0.1 s, appended to a file.
# One socat, no fork: the server takes exactly one connection, so lines after the
# apply can only come through the connection opened before it.
start_stream lab/keep1 lab/keep2 10.0.2.10 7000
stream_flows "before the apply"

ino_keep1=$(ns_inode "$NSP.lab.i.keep1")
ino_keep2=$(ns_inode "$NSP.lab.i.keep2")
ino_stay3=$(ns_inode "$NSP.lab.i.stay3")
ino_router=$(ns_inode "$NSP.lab")
port_of() { # INSTANCE: "ifindex name mac" of its router port
	local peer
	peer=$(ip -n "$NSP.lab.i.$1" -o link show eth0 | sed -n 's/^2: eth0@if\([0-9]*\):.*/\1/p')
	ip -n "$NSP.lab" -o link | sed -n "s/^\($peer\): \([^:@]*\)@.*link\/ether \([0-9a-f:]*\).*/\1 \2 \3/p"
}
ports_before=$(for i in keep1 keep2 stay3; do port_of $i; done)
[ "$(wc -l <<<"$ports_before")" -eq 3 ] && ok "ports of the untouched instances: $(tr "\n" " " <<<"$ports_before")" ||
	fail "ports: $ports_before"

# Dry run: the operations are listed, nothing happens.
snap=$(kernel_snapshot)
sum=$(state_sum)
show=$(show_config)
expect_ok "apply --dry-run of the edited file" vpcctl apply --dry-run -f "$TMP/after.json"
dry=$(cat "$TMP/out")
head -n1 <<<"$dry" | grep '^would make [0-9]* kernel operations' >/dev/null && ok "dry run: $(head -n1 <<<"$dry")" ||
	fail "dry run said: $dry"
for want in "netns-delete .*namespace=$NSP.lab.i.gone1\$" "netns-delete .*namespace=$NSP.lab.i.gone2\$" \
	"instance-create .*instance=new1\$" "instance-create .*instance=new2\$" \
	"instance-create .*instance=new3\$" "instance-create .*instance=mover\$" "gateway-add .*subnet=c\$"; do
	grep -q "^  $want" <<<"$dry" && ok "dry run lists: $want" || fail "dry run misses $want: $dry"
done
grep -Eq 'keep1|keep2|stay3' <<<"$dry" && fail "dry run touches an untouched instance: $dry"
ok "dry run lists nothing for keep1, keep2, stay3"
out=$(vpcctl apply --dry-run -o json -f "$TMP/after.json")
[ "$(json_get 'd["dry_run"]' <<<"$out")" = True ] &&
	[ "$(json_get 'd["changes"] == len(d["operations"]) > 0' <<<"$out")" = True ] &&
	ok "dry run -o json: dry_run true, changes = number of operations" || fail "dry run json: $out"
[ "$(kernel_snapshot)" = "$snap" ] && ok "dry run: kernel unchanged" || fail "dry run changed the kernel"
[ "$(state_sum)" = "$sum" ] && ok "dry run: state file unchanged" || fail "dry run changed the state file"
[ "$(show_config)" = "$show" ] && ok "dry run: show unchanged" || fail "dry run changed show"

# The real thing.
expect_ok "apply the edited file" vpcctl apply -f "$TMP/after.json"
stream_flows "after the apply"
kill -0 "$client_pid" 2>/dev/null && ok "the client is still alive" || fail "the client died"
kill -0 "$server_pid" 2>/dev/null && ok "the server is still alive" || fail "the server died"
stream_gapless

[ "$(ns_inode "$NSP.lab.i.keep1")" = "$ino_keep1" ] && [ "$(ns_inode "$NSP.lab.i.keep2")" = "$ino_keep2" ] &&
	[ "$(ns_inode "$NSP.lab.i.stay3")" = "$ino_stay3" ] && [ "$(ns_inode "$NSP.lab")" = "$ino_router" ] &&
	ok "keep1, keep2, stay3 and the router keep their namespace inodes" || fail "an untouched namespace was rebuilt"
ports_after=$(for i in keep1 keep2 stay3; do port_of $i; done)
[ "$ports_after" = "$ports_before" ] && ok "their ports keep ifindex, name and MAC" ||
	fail "ports changed: $ports_before -> $ports_after"
[ "$(ip_of lab stay3)" = "$stay3_ip" ] && ok "stay3 keeps its allocated address $stay3_ip" || fail "stay3 moved"
for g in gone1 gone2; do
	[ ! -e "/run/netns/$NSP.lab.i.$g" ] && ok "$g's namespace is gone" || fail "$g's namespace remains"
done
nports=$(ip -n "$NSP.lab" -o link | grep -c ': vpc-i')
[ "$nports" -eq 7 ] && ok "7 router ports for 7 instances" || fail "$nports router ports"
ping_no lab/keep1 10.0.1.11
ping_no lab/keep1 10.0.2.11
ping_ok lab/keep1 "$(ip_of lab new1)"
ping_ok lab/keep1 10.0.2.50
ping_ok lab/keep1 "$(ip_of lab new3)"
ping_ok lab/new3 10.0.2.10

[ "$(ip_of lab mover)" = 10.0.1.30 ] && ok "show: mover is 10.0.1.30" || fail "show: mover is $(ip_of lab mover)"
out=$(vpcctl exec lab/mover -- ip -4 -o addr show dev eth0)
[[ $out == *" 10.0.1.30/24 "* && $out != *10.0.1.20* ]] && ok "mover's eth0 has 10.0.1.30/24 only" ||
	fail "mover's eth0: $out"
ping_ok lab/keep1 10.0.1.30
ping_no lab/keep1 10.0.1.20
ping_ok lab/mover 10.0.2.10

# And the edited file is now what the kernel holds.
out=$(vpcctl apply -o json -f "$TMP/after.json" | json_get 'd["changes"]')
[ "$out" = 0 ] && ok "applying the edited file again: no changes" || fail "$out changes"

# ---- resizing a subnet -------------------------------------------------------------
# Subnet a grows from 10.0.1.0/24 to 10.0.0.0/23. Its instances keep their addresses,
# but their prefix and their router (10.0.0.1 instead of 10.0.1.1) change, and the
# kernel must follow: the edit changes the subnet, so it changes its instances.
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
d["vpcs"][0]["subnets"][0]["cidr"] = "10.0.0.0/23"
json.dump(d, open(sys.argv[2], "w"))' "$TMP/after.json" "$TMP/resized.json"
expect_ok "apply the file with subnet a resized to 10.0.0.0/23" vpcctl apply -f "$TMP/resized.json"
[ "$(ip_of lab keep1)" = 10.0.1.10 ] && ok "keep1 keeps 10.0.1.10" || fail "keep1 is $(ip_of lab keep1)"
ip -n "$NSP.lab" -o addr show dev lo | grep ' 10.0.0.1/32 ' >/dev/null && ok "the router answers as 10.0.0.1" ||
	fail "router addresses: $(ip -n "$NSP.lab" -o addr show dev lo)"
# keep1 still knows the router's MAC from before; a neighbour cache entry does not
# live for ever, so forget it now, as the kernel would a little later.
ip -n "$NSP.lab.i.keep1" neigh flush all
ping_ok lab/keep1 10.0.2.10
ping_ok lab/keep1 10.0.0.1
ping_ok lab/new3 10.0.1.10
out=$(vpcctl exec lab/keep1 -- ip -4 -o addr show dev eth0 | awk '{print $4}')
[ "$out" = 10.0.1.10/23 ] && ok "keep1's eth0 has 10.0.1.10/23 (and nothing else)" || fail "keep1's eth0: $out"
out=$(vpcctl exec lab/keep1 -- ip route show default)
[[ $out == "default via 10.0.0.1 dev eth0"* ]] && ok "keep1's default route is via 10.0.0.1" ||
	fail "keep1's default route: $out"
