#!/bin/bash
# Stopping vpcd leaves the data plane up (traffic flows while it is down, an
# established connection survives a restart) and starting it again changes nothing.
# `destroy VPC` removes that VPC only; `destroy --all` leaves no namespace, no host
# link and no VPC in the state file; destroying an unknown VPC is an error naming it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kstate.sh"

host_links() { ip -o link | awk -F': ' '{print $2}' | cut -d@ -f1 | sort; }
links_before=$(host_links)
start_vpcd

topo two <<'JSON'
{"vpcs": [
 {"name": "lab", "cidr": "10.0.0.0/16",
  "subnets": [{"name": "a", "cidr": "10.0.1.0/24"}, {"name": "b", "cidr": "10.0.2.0/24"}],
  "instances": [{"name": "a1", "subnet": "a", "private_ip": "10.0.1.10"},
                {"name": "a2", "subnet": "a", "private_ip": "10.0.1.11"},
                {"name": "b1", "subnet": "b", "private_ip": "10.0.2.10"}]},
 {"name": "other", "cidr": "10.1.0.0/16",
  "subnets": [{"name": "s", "cidr": "10.1.1.0/24"}],
  "instances": [{"name": "o1", "subnet": "s", "private_ip": "10.1.1.10"},
                {"name": "o2", "subnet": "s", "private_ip": "10.1.1.11"}]}]}
JSON
expect_ok "apply two VPCs" vpcctl apply -f "$TMP/two.json"
[ -n "$(host_links | comm -13 <(echo "$links_before") -)" ] && fail "apply added host links: $(host_links | comm -13 <(echo "$links_before") -)"
ok "apply added no link to the host's namespace"

# ---- the daemon is not the data plane ---------------------------------------
start_stream lab/a1 lab/b1 10.0.2.10 7000
stream_flows "with vpcd up"

snap=$(kernel_snapshot)
sum=$(state_sum)
pid=$VPCD_PID
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
VPCD_PID=
[ $rc -eq 0 ] && ok "vpcd exits 0 on SIGTERM" || fail "vpcd exited $rc on SIGTERM"
set +e
vpcctl status >/dev/null 2>&1
rc=$?
set -e
[ $rc -eq 3 ] && ok "vpcd is down (vpcctl status exits 3)" || fail "vpcctl status exited $rc"
[ "$(kernel_snapshot)" = "$snap" ] && ok "stopping vpcd changed nothing in the kernel" || fail "stopping vpcd changed the kernel"

# While vpcd is down: new and established traffic, entered without vpcctl.
stream_flows "while vpcd is down"
expect_ok "ping a1 -> a2 while vpcd is down" in_ns "$NSP.lab.i.a1" ping -c 1 -W 1 -q 10.0.1.11
expect_ok "ping o1 -> o2 while vpcd is down" in_ns "$NSP.other.i.o1" ping -c 1 -W 1 -q 10.1.1.11
# nsenter itself, not in_ns: bg must record the PID of the process that serves
# (nsenter execs socat), or cleanup would leave the server running.
bg nsenter --net="/run/netns/$NSP.lab.i.a2" socat -U -t 3 -T 5 TCP-LISTEN:8080,reuseaddr,fork SYSTEM:"echo up-without-vpcd"
for _ in $(seq 100); do
	in_ns "$NSP.lab.i.a2" ss -H -tln "sport = :8080" | grep . >/dev/null && break
	sleep 0.05
done
got=$(in_ns "$NSP.lab.i.b1" socat -t 3 -T 3 - TCP:10.0.1.11:8080,connect-timeout=2 </dev/null 2>/dev/null) || true
[ "$got" = up-without-vpcd ] && ok "a new TCP connection b1 -> a2 works while vpcd is down" || fail "tcp b1 -> a2: '$got'"
expect_fail "no ping a1 -> 10.0.1.99 while vpcd is down (nobody there)" in_ns "$NSP.lab.i.a1" ping -c 1 -W 1 -q 10.0.1.99

start_vpcd
[ "$(kernel_snapshot)" = "$snap" ] && ok "starting vpcd again changed nothing in the kernel" ||
	fail "restart changed the kernel: $(diff <(echo "$snap") <(kernel_snapshot))"
[ "$(state_sum)" = "$sum" ] && ok "the state file is unchanged" || fail "the state file changed"
stream_flows "after vpcd is back"
[ "$(vpcctl apply -o json -f "$TMP/two.json" | json_get 'd["changes"]')" = 0 ] &&
	ok "the file still changes nothing" || fail "the file makes changes after a restart"
stream_gapless

# ---- destroy one VPC ------------------------------------------------------------
other_snap() { kernel_snapshot | awk '/^== /{keep = ($2 ~ /\.other(\.|$)/)} keep'; }
osnap=$(other_snap)
[ "$(grep -c '^== ' <<<"$osnap")" -eq 3 ] && ok "VPC other has 3 namespaces" || fail "other: $osnap"
sum=$(state_sum)
set +e
vpcctl destroy nope >"$TMP/out" 2>"$TMP/err"
rc=$?
set -e
[ $rc -eq 1 ] && [ "$(cat "$TMP/err")" = 'vpcctl: error: no VPC named "nope"' ] &&
	ok "destroy nope: exit 1, $(cat "$TMP/err")" || fail "destroy nope: exit $rc, $(cat "$TMP/err")"
[ "$(state_sum)" = "$sum" ] && [ "$(kernel_snapshot)" = "$snap" ] && ok "destroy nope changed nothing" ||
	fail "destroy nope changed something"

expect_ok "destroy lab" vpcctl destroy lab
[ -z "$(our_ns | grep "^$NSP\\.lab\\(\\.\\|\$\\)")" ] && ok "no namespace of lab remains" ||
	fail "lab namespaces remain: $(our_ns | grep "^$NSP\\.lab")"
[ "$(other_snap)" = "$osnap" ] && ok "VPC other is untouched (inodes, links, addresses, routes)" ||
	fail "VPC other changed: $(diff <(echo "$osnap") <(other_snap))"
ping_ok other/o1 10.1.1.11
[ "$(vpcctl show -o json | json_get '[v["name"] for v in d["vpcs"]]')" = "['other']" ] &&
	ok "show lists only other" || fail "show: $(vpcctl show -o json)"
[ "$(json_get '([v["name"] for v in d["desired"]["vpcs"]], sorted(d["alloc"]["vpcs"]))' <"$TMP/state/state.json")" = \
	"(['other'], ['other'])" ] && ok "the state file holds only other" || fail "state: $(cat "$TMP/state/state.json")"
set +e
vpcctl destroy lab 2>"$TMP/err"
rc=$?
set -e
[ $rc -eq 1 ] && [ "$(cat "$TMP/err")" = 'vpcctl: error: no VPC named "lab"' ] &&
	ok "destroy lab again: exit 1, $(cat "$TMP/err")" || fail "destroy lab again: exit $rc, $(cat "$TMP/err")"

# ---- destroy everything -------------------------------------------------------
expect_ok "destroy --all" vpcctl destroy --all
[ -z "$(our_ns)" ] && ok "no namespace with prefix $NSP remains" || fail "left: $(our_ns)"
new_links=$(host_links | comm -13 <(echo "$links_before") -)
[ -z "$new_links" ] && ok "no link was added to the host's namespace" || fail "new host links: $new_links"
[ "$(json_get '(d["desired"]["vpcs"], d["alloc"]["vpcs"])' <"$TMP/state/state.json")" = "([], {})" ] &&
	ok "the state file holds no VPC" || fail "state: $(cat "$TMP/state/state.json")"
[ "$(vpcctl show -o json | json_get 'len(d["vpcs"])')" = 0 ] && ok "show lists no VPC" || fail "show lists VPCs"
out=$(vpcctl destroy --all)
[ "$out" = "no changes: the kernel already matches" ] && ok "destroy --all again: $out" || fail "destroy --all again: $out"
set +e
vpcctl destroy 2>"$TMP/err"
rc=$?
set -e
[ $rc -eq 2 ] && ok "destroy with neither a VPC nor --all: exit 2, $(cat "$TMP/err")" || fail "destroy: exit $rc"
