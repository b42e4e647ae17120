#!/bin/bash
# Network ACL data path benchmark. One run measures, side by side:
#   vpcd      a VPC built by a private vpcd (prefix bnacl): client subnet and server
#             subnet, one instance each, N inbound rules on the server subnet's NACL
#   no-program the same shape built by hand with `ip`: client, router (forwarding),
#             server namespaces, no filter at all
#   iptables  the hand-built shape with N rules in the router's FORWARD chain
# for N = 0, 100, 1,000 and 10,000, "the matching rule last in number order"
# (bench/nacl_rules.py): 64-byte UDP packets per second and TCP throughput with
# iperf3; then how long an entry added or removed with vpcctl takes to reach
# traffic (bench/rule_latency.py). Prints one table (bench/nacl_report.py).
#
# Settings (environment): SIZES, LAT_SIZES (either may be empty: skip that part),
# REPS (5), LAT_REPS (7), SECS (5), PREFIX (bnacl);
# RESULTS=FILE keeps the raw rows (bench/nacl_report.py table FILE prints them).
# Needs root, iperf3, iptables, python3, and a build (bash scripts/build.sh).
# Everything it starts it stops by PID; everything it creates it removes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/datapath.sh"

SIZES=${SIZES-"0 100 1000 10000"}
LAT_SIZES=${LAT_SIZES-"100 1000 10000"}
REPS=${REPS:-5}
LAT_REPS=${LAT_REPS:-7}
SECS=${SECS:-5}

# The private vpcd's prefix (namespaces bnacl.*, /sys/fs/bpf/vpcd-bnacl) and the
# hand-built namespaces' (bnaclx.{raw,ipt}.{cli,rtr,srv}); PREFIX=... for another.
PFX=${PREFIX:-bnacl}
RAW=${PFX}x
VPC=bench NACL=bench
CLI_IP=10.20.1.10 SRV_IP=10.20.2.10
PROBE_PORT=9000
RULES="python3 $BENCH_DIR/nacl_rules.py"
REPORT="python3 $BENCH_DIR/nacl_report.py"
LATENCY=$BENCH_DIR/rule_latency.py
VPCD_NS=3 # the router and two instances

for t in iperf3 iptables-restore python3 taskset flock; do
	command -v $t >/dev/null || die "$t is missing"
done
bench_init
RES=$TMP/results.tsv
: >"$RES"
$RULES check

# ---- rule sets ----

CUR_N=
apply_size() { # N: the vpcd topology with N inbound rules on the server subnet
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
	$RULES iptables "$1" "$TMP/ipt.rules" pcli
	ip netns exec "$(rtr_ns ipt)" iptables-restore <"$TMP/ipt.rules"
}

# check_counters N: the traffic went through the rule meant for it, and only that
# one, in both filters (vpcd's per-rule counters, iptables' rule counters).
check_counters() {
	local n=$1
	[ "$n" -gt 0 ] || return 0
	# (A mismatch is reported in the output, not fatal: the figures are still shown.)
	vpcctl nacl show "$VPC" "$NACL" -o json | python3 -c '
import json, sys
n = int(sys.argv[1])
rules = json.load(sys.stdin)["inbound"]
hit = [r for r in rules if r.get("packets")]
last = [r for r in rules if r["rule"] == 2 * n][0]
if [r["rule"] for r in hit] != [2 * n]:
    print("  N=%d vpcd: CHECK FAILED: expected only rule %d to count, got %s" % (
        n, 2 * n, [(r["rule"], r["packets"]) for r in hit][:5]))
else:
    print("  N=%d vpcd: only rule %d (the last) counted packets: %d" % (n, 2 * n, last["packets"]))
' "$n"
	ip netns exec "$(rtr_ns ipt)" iptables-save -c -t filter | python3 -c '
import re, sys
n = int(sys.argv[1])
rules = [l for l in sys.stdin if l.startswith("[") and " -A FORWARD " in l]
counts = [int(re.match(r"\[(\d+):", l).group(1)) for l in rules]
# rules[0] accepts what heads for the client; then the N rules, the accepting one last
body = counts[1:]
if len(body) != n or any(body[:-1]) or not body[-1]:
    print("  N=%d iptables: CHECK FAILED: expected only the last of %d rules to count, got "
          "%d rules, %d counting" % (n, n, len(body), sum(1 for c in body if c)))
else:
    print("  N=%d iptables: only the last of %d rules counted packets: %d" % (n, n, body[-1]))
' "$n"
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
	ip netns exec "$(cli_ns "$cfg")" ping -c 1 -W 2 -q "$SRV_IP" >/dev/null ||
		die "no connectivity in $cfg"
done

run_sizes "udp tcp" check_counters

# The NACL programs' own cost: the same VPC and traffic with the programs taken off
# the router's ports (conntrack and the security-group table stay), alternating
# with them on, at the largest N. `vpcctl reconcile` puts them back.
PROG_N=$(printf '%s\n' $SIZES | sort -n | tail -1)
if [ -n "$PROG_N" ]; then
	note "N=$PROG_N: the programs' own cost ($REPS repetitions)"
	apply_size "$PROG_N"
	for rep in $(seq "$REPS"); do
		for kind in udp tcp; do
			measure_$kind vpcd "$PROG_N" "$rep" vpcd-on
			n_off=$(ip netns exec "$PFX.$VPC" "$BUILD/bench/nacl_detach") ||
				die "could not take the programs off"
			[ "$n_off" -ge 4 ] || die "only $n_off programs were attached"
			measure_$kind vpcd "$PROG_N" "$rep" vpcd-off
			vpcctl reconcile >/dev/null
			[ "$(ip netns exec "$PFX.$VPC" "$BUILD/bench/nacl_detach")" -ge 4 ] ||
				die "reconcile did not put the programs back"
			vpcctl reconcile >/dev/null
		done
	done
fi

# Rule-change latency: a probe flow from the client to the server instance.
bench_bg ip netns exec "$(srv_ns vpcd)" python3 "$LATENCY" recv "$PROBE_PORT" "$TMP/probe.bin"
bench_bg ip netns exec "$(cli_ns vpcd)" python3 "$LATENCY" send "$SRV_IP" "$PROBE_PORT" 200
for n in $LAT_SIZES; do
	note "rule change latency with $n rules ($LAT_REPS repetitions)"
	apply_size "$n"
	python3 "$LATENCY" drive "$TMP/probe.bin" "$RES" "$n" "$LAT_REPS" \
		"$(printf %q "$VPCCTL_BIN") nacl entry add $VPC $NACL --inbound --rule $((2 * n - 1)) --protocol udp --ports $PROBE_PORT --cidr $CLI_IP/32 --action deny" \
		"$(printf %q "$VPCCTL_BIN") nacl entry remove $VPC $NACL --inbound --rule $((2 * n - 1))"
	# A whole NACL replaced: another N rules, all different, the last keeping the
	# client out; then the first NACL again.
	$RULES other "$n" "$TMP/other.json"
	python3 "$LATENCY" drive "$TMP/probe.bin" "$RES" "$n whole" "$LAT_REPS" \
		"$(printf %q "$VPCCTL_BIN") apply -f $TMP/other.json" \
		"$(printf %q "$VPCCTL_BIN") apply -f $TMP/topo.json"
	# The same two NACLs as entries text, swapped by `vpcctl nacl load`.
	vpcctl nacl export "$VPC" "$NACL" >"$TMP/topo.txt"
	vpcctl apply -f "$TMP/other.json" >/dev/null
	vpcctl nacl export "$VPC" "$NACL" >"$TMP/other.txt"
	vpcctl apply -f "$TMP/topo.json" >/dev/null
	python3 "$LATENCY" drive "$TMP/probe.bin" "$RES" "$n load" "$LAT_REPS" \
		"$(printf %q "$VPCCTL_BIN") nacl load $VPC $NACL -f $TMP/other.txt" \
		"$(printf %q "$VPCCTL_BIN") nacl load $VPC $NACL -f $TMP/topo.txt"
done

echo
host_header "NACL benchmark"
echo
$REPORT table "$RES"
echo
echo "Counters after the runs (the traffic matched the last rule, nothing else):"
printf '%s\n' "${CHECKS[@]}" | grep . || true
[ -z "${RESULTS:-}" ] || cp "$RES" "$RESULTS"
