#!/bin/bash
# Security group data path benchmark. One run measures, side by side:
#   vpcd      a VPC built by a private vpcd (prefix bsg): client subnet and server
#             subnet (and a third for the members of the groups rules refer to);
#             the server instance's group holds N ingress rules; default NACLs
#   no filter the same shape built by hand with `ip`: client, router (forwarding),
#             server namespaces, no filter at all (no conntrack either)
#   iptables  the hand-built shape with a stateful FORWARD chain: conntrack's
#             established/related accepted first, invalid dropped, then the same
#             N rules, policy DROP
# for N = 0, 100, 1,000 and 10,000, the rule admitting the client last
# (bench/sg_rules.py): 64-byte UDP packets per second and TCP throughput with
# iperf3, and new TCP connections per second (bench/conn_rate.c); the floor that
# any design of a program on the ports plus conntrack has for new connections
# (measure_conn_floor); then how long
# removing and adding back a rule with vpcctl takes to reach new flows, and that
# an established flow survives the removal (bench/rule_latency.py). Prints one
# table (bench/sg_report.py).
#
# Settings (environment): SIZES, LAT_SIZES (either may be empty: skip that part),
# REPS (5), LAT_REPS (7), SECS (5), PREFIX (bsg), SG_GROUP_EVERY (50: one filler
# rule in 50 names a group; 0: none, see sg_rules.py);
# RESULTS=FILE keeps the raw rows (bench/sg_report.py table FILE prints them).
# Needs root, iperf3, iptables, nft, python3, and a build (bash scripts/build.sh).
# Everything it starts it stops by PID; everything it creates it removes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/datapath.sh"

SIZES=${SIZES-"0 100 1000 10000"}
LAT_SIZES=${LAT_SIZES-"100 1000 10000"}
REPS=${REPS:-5}
LAT_REPS=${LAT_REPS:-7}
SECS=${SECS:-5}

# The private vpcd's prefix (namespaces bsg.*, /sys/fs/bpf/vpcd-bsg) and the
# hand-built namespaces' (bsgx.{raw,ipt}.{cli,rtr,srv}).
PFX=${PREFIX:-bsg}
RAW=${PFX}x
VPC=bench GROUP=bench
VPCD_NS=7 # the router and six instances
CLI_IP=10.20.1.10 SRV_IP=10.20.2.10 PROBE_IP=10.20.1.20
CONN_PORT=7001
PROBE_PORT=9000 EST_PORT=9001 # the probe rule admits both (sg_rules.py)
# The probe's datagrams are new flows, one source port after the other: a port
# comes back after 64,512 x 0.6 ms = 39 s, when conntrack has forgotten the flow
# it last carried (30 s; a tracked flow passes whatever the rules say).
PROBE_USEC=600 EST_USEC=1000
RULES="python3 $BENCH_DIR/sg_rules.py"
REPORT="python3 $BENCH_DIR/sg_report.py"
LATENCY=$BENCH_DIR/rule_latency.py
CONN=$BUILD/bench/conn_rate

for t in iperf3 iptables-restore iptables-save nft tc ss python3 taskset flock; do
	command -v $t >/dev/null || die "$t is missing"
done
[ -x "$CONN" ] || die "build first (bash scripts/build.sh): $CONN missing"
for n in $LAT_SIZES; do
	[ "$n" -ge 2 ] || die "LAT_SIZES: at least 2 rules (the probe's and the client's)"
done
bench_init
RES=$TMP/results.tsv
: >"$RES"
$RULES check

inst_ns() { echo "$PFX.$VPC.i.$1"; }

# ---- connections per second ----

start_conn_server() { # CFG
	bench_bg $PIN_SRV ip netns exec "$(srv_ns "$1")" "$CONN" server "$SRV_IP" $CONN_PORT
	wait_listen "$(srv_ns "$1")" $CONN_PORT
}

measure_conn() { # CFG N REP
	bench_fg $PIN_CLI ip netns exec "$(cli_ns "$1")" "$CONN" client "$SRV_IP" $CONN_PORT "$SECS" \
		>"$TMP/conn.out" || die "conn_rate failed from $(cli_ns "$1")"
	$REPORT conn "$1" "$2" "$3" "$TMP/conn.out" >>"$RES"
}

# The tool without the path: client and server in one namespace, over loopback.
measure_conn_loopback() { # REP
	local ns
	ns=$(cli_ns raw)
	bench_bg $PIN_SRV ip netns exec "$ns" "$CONN" server 127.0.0.1 $CONN_PORT
	wait_listen "$ns" $CONN_PORT
	bench_fg $PIN_CLI ip netns exec "$ns" "$CONN" client 127.0.0.1 $CONN_PORT "$SECS" \
		>"$TMP/conn.out" || die "conn_rate failed over loopback"
	$REPORT conn loop 0 "$1" "$TMP/conn.out" >>"$RES"
	bench_stop "$BG_LAST"
}

# The floor under any filter of this design for new connections: a program on
# both router ports, both ways, that passes everything (cls_bpf with the classic
# bytecode "return 0"; vpcd attaches with tcx, which costs no more), and a table
# holding only conntrack's two rules. On the hand-built path, in turns with the
# same path unfiltered. (Whatever it adds lives in the namespace: the cleanup
# takes it away with it.)
floor() { # on|off
	local r p
	r=$(rtr_ns raw)
	for p in pcli psrv; do
		if [ "$1" = on ]; then
			ip netns exec "$r" tc qdisc add dev $p clsact
			ip netns exec "$r" tc filter add dev $p ingress bpf da bytecode '1,6 0 0 0,'
			ip netns exec "$r" tc filter add dev $p egress bpf da bytecode '1,6 0 0 0,'
		else
			ip netns exec "$r" tc qdisc del dev $p clsact
		fi
	done
	if [ "$1" = on ]; then
		ip netns exec "$r" nft -f - <<'NFT'
table ip floor {
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state established,related accept
		ct state invalid drop
	}
}
NFT
	else
		ip netns exec "$r" nft delete table ip floor
	fi
}

measure_conn_floor() { # REP: rows "floor" and "floor-none" (the unfiltered path beside it)
	local cfg order="floor-none floor"
	if [ $(($1 % 2)) = 0 ]; then order="floor floor-none"; fi
	for cfg in $order; do
		if [ "$cfg" = floor ]; then floor on; fi
		bench_fg $PIN_CLI ip netns exec "$(cli_ns raw)" "$CONN" client "$SRV_IP" $CONN_PORT \
			"$SECS" >"$TMP/conn.out" || die "conn_rate failed from $(cli_ns raw) ($cfg)"
		$REPORT conn "$cfg" 0 "$1" "$TMP/conn.out" >>"$RES"
		if [ "$cfg" = floor ]; then floor off; fi
	done
}

# ---- rule sets ----

CUR_N=
apply_size() { # N: the vpcd topology with N ingress rules in the server's group
	local t0 t1 out
	[ "$1" = "$CUR_N" ] && return 0
	CUR_N=$1
	$RULES topo "$1" "$TMP/topo.json"
	t0=$(date +%s%N)
	out=$(vpcctl apply -f "$TMP/topo.json")
	t1=$(date +%s%N)
	printf 'apply\t%s\t%.1f\t%s\n' "$1" "$(((t1 - t0) / 1000))e-3" \
		"$(sed -n 's/.* in \([0-9.]*\) ms.*/\1/p' <<<"$out" | head -1)" >>"$RES"
}

load_iptables() { # N
	$RULES iptables "$1" "$TMP/ipt.rules"
	ip netns exec "$(rtr_ns ipt)" iptables-restore <"$TMP/ipt.rules"
}

# what_ran N: the objects each filter holds, and where the traffic matched.
# vpcd's nftables rules have no counters; its table is described instead.
what_ran() {
	local n=$1
	ip netns exec "$PFX.$VPC" nft -j list table ip vpcd | python3 -c '
import json, sys
n = int(sys.argv[1])
objs = json.load(sys.stdin)["nftables"]
rules = {}
for o in objs:
    if "rule" in o:
        rules.setdefault(o["rule"]["chain"], []).append(o["rule"])
sets = {o["set"]["name"]: len(o["set"].get("elem", [])) for o in objs if "set" in o}
# The server instance'"'"'s ingress chain: the longest i_ chain.
name, chain = max(((c, r) for c, r in rules.items() if c.startswith("i_")),
                  key=lambda x: len(x[1]))
kinds = {"a": "all", "p": "proto", "l": "l4", "c": "icmp"}
def lookups(r):
    t = json.dumps(r)
    return [s for s in sets if "\"@%s\"" % s in t]
cidr, gsets, groups = [], 0, 0
for r in chain[:-1]:
    l = lookups(r)
    if not any(s.startswith("m") for s in l):
        cidr += l
    elif len(l) > 1:
        gsets += 1
    else:
        groups += 1
desc = ", ".join("%s %d" % (kinds.get(s[0], s), sets[s]) for s in cidr)
print("  N=%d vpcd: the server'"'"'s ingress chain holds %d rules: %d set lookups (elements: %s),"
      " %d lookups of rules naming a group (member set, then rule set), %d rules naming a"
      " group one by one, the final drop" % (n, len(chain), len(cidr), desc or "-", gsets, groups))
' "$n"
	ip netns exec "$(rtr_ns ipt)" iptables-save -c -t filter | python3 -c '
import re, sys
n = max(int(sys.argv[1]), 1)
rules = [l for l in sys.stdin if l.startswith("[") and " -A FORWARD " in l]
counts = [int(re.match(r"\[(\d+):", l).group(1)) for l in rules]
# established/related, invalid, then the N rules, the accepting one last
body = counts[2:]
if len(body) != n or any(body[:-1]) or not body[-1]:
    print("  N=%d iptables: CHECK FAILED: expected only the last of %d rules to count, got "
          "%d rules, %d counting" % (n, n, len(body), sum(1 for c in body if c)))
else:
    print("  N=%d iptables: only the last of %d rules counted packets: %d (the first of each flow);"
          " established/related: %d, invalid (dropped): %d" % (n, n, body[-1], counts[0], counts[1]))
' "$n"
}

# ---- rule-change latency ----

# latency N KIND: KIND cidr: the probe instance c2's rule (a CIDR rule: vpcd
# rebuilds the set it is in); group: the client's rule (a group reference: vpcd
# rebuilds the chain). A new flow per probe datagram, and beside it an
# established, answered flow admitted by the same rule.
latency() {
	local n=$1 kind=$2 src opts pids=() vpcctl_q
	case $kind in cidr) src=c2 ;; group) src=c1 ;; esac
	opts=$($RULES toggle "$kind")
	vpcctl_q=$(printf %q "$VPCCTL_BIN")
	rm -f "$TMP/probe.bin" "$TMP/est.bin"
	bench_bg ip netns exec "$(inst_ns s1)" python3 "$LATENCY" recv $PROBE_PORT "$TMP/probe.bin"
	pids+=("$BG_LAST")
	bench_bg ip netns exec "$(inst_ns s1)" python3 "$LATENCY" recv $EST_PORT "$TMP/est.bin" echo
	pids+=("$BG_LAST")
	bench_bg ip netns exec "$(inst_ns $src)" python3 "$LATENCY" send "$SRV_IP" $PROBE_PORT $PROBE_USEC new
	pids+=("$BG_LAST")
	bench_bg ip netns exec "$(inst_ns $src)" python3 "$LATENCY" send "$SRV_IP" $EST_PORT $EST_USEC
	pids+=("$BG_LAST")
	python3 "$LATENCY" drive "$TMP/probe.bin" "$RES" "$n $kind" "$LAT_REPS" \
		"$vpcctl_q sg rule remove $VPC $GROUP $opts" "$vpcctl_q sg rule add $VPC $GROUP $opts" \
		"$TMP/est.bin"
	for p in "${pids[@]}"; do bench_stop "$p"; done
}

# ---- run ----

host_start

note "building: private vpcd (prefix $PFX), hand-built namespaces $RAW.*"
vpcd_start "$PFX"
apply_size 0
raw_build raw
raw_build ipt
for cfg in raw ipt vpcd; do
	start_iperf_server "$cfg"
	start_conn_server "$cfg"
	ip netns exec "$(cli_ns "$cfg")" ping -c 1 -W 2 -q "$SRV_IP" >/dev/null ||
		die "no connectivity in $cfg"
done

[ -z "$SIZES" ] || measure_conn_loopback 1
run_sizes "udp tcp conn" what_ran
[ -z "$SIZES" ] || measure_conn_loopback 2
if [ -n "$SIZES" ]; then
	for rep in $(seq "$REPS"); do
		note "the floor for new connections, repetition $rep/$REPS"
		measure_conn_floor "$rep"
	done
fi

for n in $LAT_SIZES; do
	apply_size "$n"
	for kind in cidr group; do
		note "rule change latency with $n rules, $kind rule ($LAT_REPS repetitions)"
		latency "$n" "$kind"
	done
done

echo
host_header "Security group benchmark"
echo "connections/s: bench/conn_rate, one connection at a time (connect, RST close), $SECS s per run"
echo "rules: bench/sg_rules.py, one filler rule in ${SG_GROUP_EVERY:-50} naming a group (0: none)"
echo
$REPORT table "$RES"
if [ -n "$SIZES" ]; then
	echo
	echo "The filters after the runs:"
	printf '%s\n' "${CHECKS[@]}"
fi
[ -z "${RESULTS:-}" ] || cp "$RES" "$RESULTS"
