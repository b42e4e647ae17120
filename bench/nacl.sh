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
# REPS (5), LAT_REPS (7), SECS (5);
# RESULTS=FILE keeps the raw rows (bench/nacl_report.py table FILE prints them).
# Needs root, iperf3, iptables, python3, and a build (bash scripts/build.sh).
# Everything it starts it stops by PID; everything it creates it removes.
. "$(dirname "$0")/lib.sh"

SIZES=${SIZES-"0 100 1000 10000"}
LAT_SIZES=${LAT_SIZES-"100 1000 10000"}
REPS=${REPS:-5}
LAT_REPS=${LAT_REPS:-7}
SECS=${SECS:-5}

PFX=bnacl   # the private vpcd's prefix: namespaces bnacl.*, /sys/fs/bpf/vpcd-bnacl
RAW=bnaclx  # the hand-built namespaces: bnaclx.{raw,ipt}.{cli,rtr,srv}
VPC=bench NACL=bench
CLI_IP=10.20.1.10 SRV_IP=10.20.2.10
PROBE_PORT=9000
RULES="python3 $BENCH_DIR/nacl_rules.py"
REPORT="python3 $BENCH_DIR/nacl_report.py"
LATENCY=$BENCH_DIR/rule_latency.py

for t in iperf3 iptables-restore python3 taskset flock; do
	command -v $t >/dev/null || die "$t is missing"
done
bench_init
RES=$TMP/results.tsv
: >"$RES"
$RULES check

# iperf3's client and server on different CPUs. The forwarding work of a packet
# (veth, router, filter, veth) runs in softirq on the sending CPU, so the client's
# CPU is the one the path's cost shows on.
if [ "$(nproc)" -ge 2 ]; then
	PIN_CLI="taskset -c 0" PIN_SRV="taskset -c 1"
else
	PIN_CLI="" PIN_SRV=""
fi

cli_ns() { case $1 in vpcd) echo "$PFX.$VPC.i.c1" ;; *) echo "$RAW.$1.cli" ;; esac; }
srv_ns() { case $1 in vpcd) echo "$PFX.$VPC.i.s1" ;; *) echo "$RAW.$1.srv" ;; esac; }
rtr_ns() { echo "$RAW.$1.rtr"; }

# ---- the hand-built topology: what vpcd builds, minus the NACL program ----

# sysctls NS KEY=VALUE...: through /proc/sys inside the namespace (per-namespace).
ns_sysctls() {
	local ns=$1
	shift
	ip netns exec "$ns" sh -c 'for kv; do echo "${kv#*=}" >"/proc/sys/${kv%%=*}"; done' - "$@"
}

# raw_build KIND: namespaces $RAW.KIND.{cli,rtr,srv}, set up as vpcd sets up a
# router and its instances (daemon/kernel.c): router forwarding with proxy ARP, the
# subnet gateways on its loopback, a /32 route per instance through its port;
# instances with their /24 and a default route via .1. Links are created inside
# the namespaces, so nothing appears in the host's.
raw_build() {
	local c s r
	c=$(cli_ns "$1") s=$(srv_ns "$1") r=$(rtr_ns "$1")
	bench_netns_add "$r"
	bench_netns_add "$c"
	bench_netns_add "$s"
	ns_sysctls "$r" net/ipv4/conf/all/forwarding=1 net/ipv4/conf/default/forwarding=1 \
		net/ipv4/conf/default/proxy_arp=1 net/ipv4/conf/all/arp_ignore=0 \
		net/ipv4/conf/default/arp_ignore=0 net/ipv4/conf/all/rp_filter=0 \
		net/ipv4/conf/default/rp_filter=0 net/ipv4/conf/all/send_redirects=0 \
		net/ipv4/conf/default/send_redirects=0 net/ipv6/conf/all/disable_ipv6=1 \
		net/ipv6/conf/default/disable_ipv6=1
	for n in "$c" "$s"; do
		ns_sysctls "$n" net/ipv6/conf/all/disable_ipv6=1 net/ipv6/conf/default/disable_ipv6=1 \
			net/ipv4/conf/all/forwarding=0
	done
	ip -n "$c" link add eth0 type veth peer name pcli netns "$r"
	ip -n "$s" link add eth0 type veth peer name psrv netns "$r"
	ip -n "$r" link set lo up
	ip -n "$r" addr add 10.20.1.1/32 dev lo
	ip -n "$r" addr add 10.20.2.1/32 dev lo
	for p in pcli psrv; do
		ip -n "$r" link set "$p" up
		ip -n "$r" ntable change name arp_cache dev "$p" proxy_delay 0
	done
	ip -n "$r" route add "$CLI_IP/32" dev pcli scope link
	ip -n "$r" route add "$SRV_IP/32" dev psrv scope link
	for x in "$c:$CLI_IP:10.20.1.1" "$s:$SRV_IP:10.20.2.1"; do
		IFS=: read -r n ip gw <<<"$x"
		ip -n "$n" link set lo up
		ip -n "$n" link set eth0 up
		ip -n "$n" addr add "$ip/24" dev eth0
		ip -n "$n" route add default via "$gw"
	done
}

# ---- traffic ----

start_iperf_server() { # CFG
	bench_bg $PIN_SRV ip netns exec "$(srv_ns "$1")" iperf3 -s -B "$SRV_IP"
	for _ in $(seq 100); do
		ip netns exec "$(srv_ns "$1")" ss -Hltn "sport = :5201" | grep -q . && return 0
		sleep 0.05
	done
	die "iperf3 server did not start in $(srv_ns "$1")"
}

rx_packets() { ip netns exec "$(srv_ns "$1")" cat /sys/class/net/eth0/statistics/rx_packets; }

# iperf_client CFG OUT ARGS...: one iperf3 run from the client instance; a second
# try if the server was still busy with the previous test.
iperf_client() {
	local cfg=$1 out=$2
	shift 2
	for try in 1 2 3; do
		bench_fg $PIN_CLI ip netns exec "$(cli_ns "$cfg")" \
			iperf3 -c "$SRV_IP" -t "$SECS" -i 0.5 -J "$@" >"$out" 2>>"$TMP/bg.log" && return 0
		sleep 1
	done
	cat "$out" >&2
	die "iperf3 failed from $(cli_ns "$cfg")"
}

# 64-byte frames: 14 Ethernet + 20 IPv4 + 8 UDP + 22 bytes of iperf3 payload.
# -b 0: as fast as the sender can; -w 4M: a receive buffer (within the host's
# net.core.rmem_max) deep enough that iperf3's receiver does not drop by itself.
measure_udp() { # CFG N REP
	local a b
	a=$(rx_packets "$1")
	iperf_client "$1" "$TMP/iperf.json" -u -b 0 -l 22 -w 4M
	b=$(rx_packets "$1")
	$REPORT udp "$1" "$2" "$3" "$TMP/iperf.json" "$a" "$b" >>"$RES"
}

measure_tcp() { # CFG N REP
	iperf_client "$1" "$TMP/iperf.json"
	$REPORT tcp "$1" "$2" "$3" "$TMP/iperf.json" >>"$RES"
}

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

# The host is shared (and virtual): note how busy it was around the run.
host_state() { # -> "load average, total and steal CPU ticks"
	local l
	read -r l _ </proc/loadavg
	awk -v l="$l" '/^cpu /{t=0; for (i=2;i<=NF;i++) t+=$i; print l, t, $9; exit}' /proc/stat
}
read -r LOAD0 TICKS0 STEAL0 <<<"$(host_state)"
OTHER_NS0=$(ls /run/netns 2>/dev/null | wc -l)

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

CHECKS=()
for n in $SIZES; do
	note "N=$n: applying $n rules (vpcd, iptables)"
	apply_size "$n"
	load_iptables "$n"
	for rep in $(seq "$REPS"); do
		# A different order each repetition: no configuration always runs first.
		case $((rep % 3)) in
		1) order="raw vpcd ipt" ;;
		2) order="vpcd ipt raw" ;;
		0) order="ipt raw vpcd" ;;
		esac
		note "N=$n repetition $rep/$REPS: UDP and TCP, $order"
		for cfg in $order; do measure_udp "$cfg" "$n" "$rep"; done
		for cfg in $order; do measure_tcp "$cfg" "$n" "$rep"; done
	done
	CHECKS+=("$(check_counters "$n")")
done

# Rule-change latency: a probe flow from the client to the server instance.
bench_bg ip netns exec "$(srv_ns vpcd)" python3 "$LATENCY" recv "$PROBE_PORT" "$TMP/probe.bin"
bench_bg ip netns exec "$(cli_ns vpcd)" python3 "$LATENCY" send "$SRV_IP" "$PROBE_PORT" 200
for n in $LAT_SIZES; do
	note "rule change latency with $n rules ($LAT_REPS repetitions)"
	apply_size "$n"
	python3 "$LATENCY" drive "$TMP/probe.bin" "$RES" "$n" "$LAT_REPS" \
		"$(printf %q "$VPCCTL_BIN") nacl entry add $VPC $NACL --inbound --rule $((2 * n - 1)) --protocol udp --ports $PROBE_PORT --cidr $CLI_IP/32 --action deny" \
		"$(printf %q "$VPCCTL_BIN") nacl entry remove $VPC $NACL --inbound --rule $((2 * n - 1))"
done

read -r LOAD1 TICKS1 STEAL1 <<<"$(host_state)"
OTHER_NS1=$(($(ls /run/netns 2>/dev/null | wc -l) - ${#OWN_NS[@]} - 3))

echo
echo "NACL benchmark: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs," \
	"$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)"
if [ -n "$PIN_CLI" ]; then pin="client on CPU 0, server on CPU 1 (taskset)"; else pin="not pinned (1 CPU)"; fi
echo "iperf3: $SECS s per run, $REPS repetitions per cell (order rotated), $pin;" \
	"UDP: 64-byte frames (-l 22 -b 0 -w 4M)"
echo "iptables: $(iptables -V)"
echo "host: load average $LOAD0 at the start, $LOAD1 at the end; CPU steal during the run" \
	"$(awk -v s=$((STEAL1 - STEAL0)) -v t=$((TICKS1 - TICKS0)) 'BEGIN{printf "%.1f%%", t ? 100*s/t : 0}');" \
	"other namespaces on the host: $OTHER_NS0 at the start, $OTHER_NS1 at the end"
echo
$REPORT table "$RES"
echo
echo "Counters after the runs (the traffic matched the last rule, nothing else):"
printf '%s\n' "${CHECKS[@]}" | grep . || true
[ -z "${RESULTS:-}" ] || cp "$RES" "$RESULTS"
