#!/bin/bash
# vpcd killed with SIGKILL in the middle of an apply: on restart it removes what the
# unfinished apply left (the state never recorded it), keeps what the state records
# untouched (same namespaces, traffic flowing), and the next apply converges.
# Drift (a port or a namespace deleted by hand, a route or router address removed)
# is repaired by `vpcctl reconcile` and by a restart, rebuilding exactly what broke.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kstate.sh"
start_vpcd

# big_topo FILE VPC N [FIXED...]: VPC with subnet 10.0.0.0/20 and instances i1..iN;
# FIXED are extra instances "name=ip" listed first.
big_topo() {
	python3 - "$@" <<'PY'
import json, sys
path, vpc, n, fixed = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
inst = [{"name": f.split("=")[0], "subnet": "a", "private_ip": f.split("=")[1]} for f in fixed]
inst += [{"name": "i%d" % i, "subnet": "a"} for i in range(1, n + 1)]
json.dump({"vpcs": [{"name": vpc, "cidr": "10.0.0.0/16",
                     "subnets": [{"name": "a", "cidr": "10.0.0.0/20"}],
                     "instances": inst}]}, open(path, "w"))
PY
}
count_ns() { ls /run/netns | grep -c "^$1" || true; } # PATTERN (a regex on the name)
crash_vpcd() {
	kill -9 "$VPCD_PID"
	wait "$VPCD_PID" 2>/dev/null || true
	VPCD_PID=
}
recorded() { # VPC INSTANCE: does the state file record this instance?
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(sys.argv[3] not in d["alloc"]["vpcs"].get(sys.argv[2], {}).get("instances", {}))' \
		"$TMP/state/state.json" "$1" "$2" 2>/dev/null
}
# apply_and_crash FILE PATTERN FULL VPC INSTANCE UNDO...: applies FILE in the
# background and kills vpcd once between 5 and FULL-1 namespaces matching PATTERN
# exist. When the apply won the race (the state file records VPC/INSTANCE), runs the
# command UNDO and tries again, up to 10 times; fails when it never catches it.
apply_and_crash() {
	local file=$1 pat=$2 full=$3 apid n caught
	for attempt in $(seq 10); do
		vpcctl apply -f "$file" >/dev/null 2>&1 &
		apid=$!
		caught=
		while kill -0 "$apid" 2>/dev/null; do
			n=$(count_ns "$pat")
			if [ "$n" -ge 5 ] && [ "$n" -lt "$full" ]; then
				crash_vpcd
				caught=$n
				break
			fi
		done
		wait "$apid" 2>/dev/null || true
		if [ -n "$caught" ] && ! recorded "$4" "$5"; then
			CAUGHT=$caught
			return 0
		fi
		# The apply won the race: undo it and try again.
		log "attempt $attempt: the apply finished before the kill; again"
		[ -n "$VPCD_PID" ] || start_vpcd
		"${@:6}" >/dev/null
	done
	fail "never caught vpcd in the middle of an apply"
}

# ---- 1. A VPC the state never recorded: everything of it goes ----------------
big_topo "$TMP/big.json" big 100
apply_and_crash "$TMP/big.json" "$NSP\\.big" 101 big i100 vpcctl destroy big
ok "killed vpcd (SIGKILL) with $CAUGHT of 101 namespaces of VPC big built"
left=$(count_ns "$NSP\\.big")
[ "$left" -ge 5 ] && ok "the unfinished apply left $left namespaces behind" || fail "only $left namespaces"
recorded big i1 && fail "the state file records VPC big" || ok "the state file does not record VPC big"
start_vpcd
[ "$(count_ns "$NSP\\.")" -eq 0 ] && ok "restart removed every orphan namespace" ||
	fail "orphans remain: $(our_ns | head)"
[ "$(vpcctl status -o json | json_get 'd["vpcs"]')" = 0 ] && ok "vpcd holds no VPC" || fail "vpcd holds a VPC"
tail -n 3 "$TMP/vpcd.log" | grep -Eq "reconciled with .*: [1-9][0-9]* repairs" &&
	ok "the log tells how many operations reconciling took" || fail "log: $(tail -n 3 "$TMP/vpcd.log")"

expect_ok "apply the 100-instance file again" vpcctl apply -f "$TMP/big.json"
[ "$(count_ns "$NSP\\.big\\.i\\.")" -eq 100 ] && ok "100 instance namespaces" || fail "$(count_ns "$NSP\\.big\\.i\\.") instances"
[ "$(ip -n "$NSP.big" -o link | grep -c ': vpc-i')" -eq 100 ] && ok "100 router ports" || fail "ports"
# i1 pings every other instance, in one namespace entry.
ips=$(vpcctl instance list big -o json | json_get '" ".join(x["private_ip"] for x in d if x["name"] != "i1")')
out=$(vpcctl exec big/i1 -- sh -c 'n=0; for ip in '"$ips"'; do for t in 1 2 3; do ping -c1 -W1 -q $ip >/dev/null && { n=$((n+1)); break; }; [ $t = 3 ] && echo "no answer from $ip"; done; done; echo "$n answered"')
[ "$(tail -n1 <<<"$out")" = "99 answered" ] && ok "i1 pings all 99 other instances" || fail "$out"
expect_ok "destroy --all" vpcctl destroy --all
[ "$(count_ns "$NSP\\.")" -eq 0 ] && ok "destroy --all leaves no namespace" || fail "left: $(our_ns | head)"

# ---- 2. A recorded VPC survives a crash during an apply that grows it ---------
topo keep <<'JSON'
{"vpcs": [{"name": "keep", "cidr": "10.0.0.0/16",
  "subnets": [{"name": "a", "cidr": "10.0.0.0/20"}],
  "instances": [{"name": "k1", "subnet": "a", "private_ip": "10.0.0.10"},
                {"name": "k2", "subnet": "a", "private_ip": "10.0.0.11"},
                {"name": "k3", "subnet": "a", "private_ip": "10.0.0.12"}]}]}
JSON
expect_ok "apply VPC keep (3 instances)" vpcctl apply -f "$TMP/keep.json"
big_topo "$TMP/keep-grown.json" keep 100 k1=10.0.0.10 k2=10.0.0.11 k3=10.0.0.12

# A TCP stream k1 -> k2 that must survive everything below.
start_stream keep/k1 keep/k2 10.0.0.11 7000
stream_flows "before the crash"

snap=$(kernel_snapshot)
apply_and_crash "$TMP/keep-grown.json" "$NSP\\.keep\\.i\\.i" 100 keep i100 vpcctl apply -f "$TMP/keep.json"
ok "killed vpcd with $CAUGHT of 100 new instances of VPC keep built"
recorded keep k3 && ! recorded keep i1 && ok "the state file records k1-k3 and none of the new instances" ||
	fail "state file: $(cat "$TMP/state/state.json")"
stream_flows "while vpcd is dead"
start_vpcd
[ "$(count_ns "$NSP\\.keep\\.i\\.i")" -eq 0 ] && ok "restart removed the orphan instances" ||
	fail "orphans remain: $(our_ns | grep -c "\\.i\\.i")"
now=$(kernel_snapshot)
[ "$now" = "$snap" ] && ok "VPC keep is exactly as before (namespace inodes, links, addresses, routes)" ||
	fail "VPC keep changed: $(diff <(echo "$snap") <(echo "$now"))"
stream_flows "after the restart"
ping_ok keep/k1 10.0.0.12
ping_ok keep/k3 10.0.0.11
expect_ok "apply the grown file" vpcctl apply -f "$TMP/keep-grown.json"
[ "$(count_ns "$NSP\\.keep\\.i\\.")" -eq 103 ] && ok "the grown file converges: 103 instances" ||
	fail "$(count_ns "$NSP\\.keep\\.i\\.") instances"
ping_ok keep/k1 "$(ip_of keep i100)"
ping_ok keep/i100 10.0.0.11
expect_ok "back to 3 instances" vpcctl apply -f "$TMP/keep.json"
[ "$(count_ns "$NSP\\.keep\\.i\\.")" -eq 3 ] && ok "3 instances again" || fail "instances: $(count_ns "$NSP\\.keep\\.i\\.")"
stream_flows "after growing and shrinking"

# ---- 3. Drift repair -------------------------------------------------------------
R=$NSP.keep
K3=$NSP.keep.i.k3
k3_id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["alloc"]["vpcs"]["keep"]["instances"]["k3"]["id"])' \
	"$TMP/state/state.json")
port=vpc-i$k3_id
ino_k1=$(ns_inode "$NSP.keep.i.k1")
ino_k2=$(ns_inode "$NSP.keep.i.k2")
ino_r=$(ns_inode "$R")
others_intact() {
	[ "$(ns_inode "$NSP.keep.i.k1")" = "$ino_k1" ] && [ "$(ns_inode "$NSP.keep.i.k2")" = "$ino_k2" ] &&
		[ "$(ns_inode "$R")" = "$ino_r" ] && ok "$1: k1, k2 and the router were not rebuilt" ||
		fail "$1: another namespace was rebuilt"
}
k3_repaired() { # WHAT
	[ -e "/run/netns/$K3" ] || fail "$1: k3's namespace is missing"
	ip -n "$R" -o link show "$port" | grep "^$((1000 + k3_id)): $port@if2:.*state UP" >/dev/null ||
		fail "$1: port $port is not back: $(ip -n "$R" -o link show "$port" 2>&1)"
	ip -n "$R" route show 10.0.0.12 | grep "dev $port" >/dev/null || fail "$1: no route to 10.0.0.12 via $port"
	ok "$1: k3's namespace, port $port (ifindex $((1000 + k3_id))) and route are back"
	ping_ok keep/k1 10.0.0.12
	ping_ok keep/k3 10.0.0.10
	others_intact "$1"
	stream_flows "after $1"
}
# `ip netns del` only unmounts: the kernel destroys the namespace (and with it the
# veth pair) a little later. Wait for the port to go before checking the damage.
del_k3_ns() {
	ip netns del "$K3"
	for _ in $(seq 200); do
		ip -n "$R" link show "$port" >/dev/null 2>&1 || return 0
		sleep 0.05
	done
	fail "port $port still exists after deleting k3's namespace"
}
reconcile_ops() { # prints the operations of `vpcctl reconcile -o json`, one per line
	vpcctl reconcile -o json | json_get '"\n".join(o["op"] + " " + (o.get("instance") or o.get("namespace") or "") for o in d["operations"])'
}

# a. A port deleted by hand; `vpcctl reconcile` rebuilds k3 and only k3.
ip -n "$R" link del "$port"
ping_no keep/k1 10.0.0.12
ops=$(reconcile_ops)
grep -qx "instance-create k3" <<<"$ops" && ! grep -q "instance-create k[12]" <<<"$ops" &&
	! grep -q "netns-delete .*\.k[12]\$" <<<"$ops" && ok "port deleted: reconcile recreates k3 only" ||
	fail "reconcile operations: $ops"
k3_repaired "port deleted + reconcile"

# b. A namespace deleted by hand; a restart rebuilds it.
del_k3_ns
ping_no keep/k1 10.0.0.12
stop_vpcd
start_vpcd
k3_repaired "namespace deleted + restart"

# c. A namespace deleted by hand; `vpcctl reconcile` rebuilds it.
del_k3_ns
ping_no keep/k1 10.0.0.12
ops=$(reconcile_ops)
grep -qx "instance-create k3" <<<"$ops" && ! grep -q "instance-create k[12]" <<<"$ops" &&
	ok "namespace deleted: reconcile recreates k3 only" || fail "reconcile operations: $ops"
k3_repaired "namespace deleted + reconcile"

# d. A port deleted by hand; a restart rebuilds it.
ip -n "$R" link del "$port"
ping_no keep/k1 10.0.0.12
stop_vpcd
start_vpcd
k3_repaired "port deleted + restart"

# e. The router's route to k3 deleted by hand.
ip -n "$R" route del 10.0.0.12/32
ping_no keep/k1 10.0.0.12
expect_ok "reconcile" vpcctl reconcile
k3_repaired "route deleted + reconcile"

# f. The subnet's router address deleted by hand: nobody reaches 10.0.0.1.
ip -n "$R" addr del 10.0.0.1/32 dev lo
ping_no keep/k1 10.0.0.1
ops=$(reconcile_ops)
grep -qx "gateway-add " <<<"$ops" && ok "router address deleted: reconcile adds it back" || fail "operations: $ops"
ping_ok keep/k1 10.0.0.1
others_intact "router address deleted + reconcile"

# g. The instance's own configuration broken by hand: reconcile repairs it in place.
ino_k3=$(ns_inode "$K3")
ip -n "$K3" addr flush dev eth0
ping_no keep/k1 10.0.0.12
expect_ok "reconcile" vpcctl reconcile
ping_ok keep/k1 10.0.0.12
[ "$(ip -n "$K3" -4 -o addr show dev eth0 | awk '{print $4}')" = 10.0.0.12/20 ] &&
	ok "k3's eth0 has 10.0.0.12/20 again" || fail "k3's eth0: $(ip -n "$K3" -4 -o addr show dev eth0)"
# (VPC keep has one subnet: nothing to ping through the default route, so look.)
ip -n "$K3" route del default
expect_ok "reconcile" vpcctl reconcile
[[ $(ip -n "$K3" route show default) == "default via 10.0.0.1 dev eth0"* ]] &&
	ok "k3's default route via 10.0.0.1 is back" || fail "k3's routes: $(ip -n "$K3" route)"
[ "$(ns_inode "$K3")" = "$ino_k3" ] && ok "k3 was repaired in place, not rebuilt" || fail "k3 was rebuilt"
others_intact "instance configuration broken + reconcile"

# Nothing to repair: reconcile rebuilds nothing.
ops=$(reconcile_ops)
! grep -Eq "create|delete|add" <<<"$ops" && ok "reconcile without drift creates and deletes nothing" ||
	fail "operations: $ops"
stream_flows "at the end"
stream_gapless

# ---- 4. Leftovers of a crash at the worst moment -----------------------------------
# vpcd creates the file /run/netns/NAME, then unshares and bind-mounts the new
# namespace on it: SIGKILL in between leaves an empty file where a namespace should
# be. The next vpcd must clean that up like any orphan (and start).
try_start_vpcd() { # like start_vpcd, but returns 1 instead of failing the test
	"$VPCD_BIN" -p "$NSP" -s "$TMP/state" -r "$TMP/run" >>"$TMP/vpcd.log" 2>&1 &
	VPCD_PID=$!
	for _ in $(seq 100); do
		[ -S "$VPCD_SOCKET" ] && vpcctl status >/dev/null 2>&1 && return 0
		kill -0 "$VPCD_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill "$VPCD_PID" 2>/dev/null
	wait "$VPCD_PID" 2>/dev/null
	VPCD_PID=
	return 1
}
ghost_check() { # NAME WHAT: an empty file NAME in /run/netns, as a crash leaves it
	local ghost=/run/netns/$1
	stop_vpcd
	: >"$ghost"
	if ! try_start_vpcd; then
		local why
		why=$(tail -n 1 "$TMP/vpcd.log")
		rm -f "$ghost"
		start_vpcd
		fail "vpcd does not start with an empty $ghost ($2): $why"
	fi
	[ ! -e "$ghost" ] && ok "$2: vpcd starts and removes the empty $ghost" ||
		{ rm -f "$ghost"; fail "$2: $ghost remains"; }
	others_intact "after the $2 leftover"
	ping_ok keep/k1 10.0.0.12
}
ghost_check "$NSP.keep.i.half" "crash while creating an instance namespace"
ghost_check "$NSP.half" "crash while creating a router namespace"
