# Shared by the data path benchmarks (bench/nacl.sh, bench/sg.sh; sourced after
# lib.sh, not run): the hand-built client/router/server namespaces, iperf3 runs
# that append result rows (bench/benchlib.py), and notes on how busy the host was.
#
# The sourcing script sets: PFX and VPC (its vpcd's prefix and VPC: the instances
# are $PFX.$VPC.i.c1 and .s1), RAW (the hand-built namespaces' prefix), CLI_IP and
# SRV_IP (in 10.20.1.0/24 and 10.20.2.0/24), SECS, RES (the result rows) and
# REPORT (a report script that prints rows: bench/nacl_report.py or sg_report.py).

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

# ---- the hand-built topology: what vpcd builds, minus its filters ----

# sysctls NS KEY=VALUE...: through /proc/sys inside the namespace (per-namespace).
ns_sysctls() {
	local ns=$1
	shift
	ip netns exec "$ns" sh -c 'for kv; do echo "${kv#*=}" >"/proc/sys/${kv%%=*}"; done' - "$@"
}

# raw_build KIND: namespaces $RAW.KIND.{cli,rtr,srv}, set up as vpcd sets up a
# router and its instances (daemon/kernel.c): router forwarding with proxy ARP, the
# subnet gateways on its loopback, a /32 route per instance through its port
# (pcli, psrv); instances with their /24 and a default route via .1. Links are
# created inside the namespaces, so nothing appears in the host's.
raw_build() {
	local c s r cgw=${CLI_IP%.*}.1 sgw=${SRV_IP%.*}.1
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
	ip -n "$r" addr add "$cgw/32" dev lo
	ip -n "$r" addr add "$sgw/32" dev lo
	for p in pcli psrv; do
		ip -n "$r" link set "$p" up
		ip -n "$r" ntable change name arp_cache dev "$p" proxy_delay 0
	done
	ip -n "$r" route add "$CLI_IP/32" dev pcli scope link
	ip -n "$r" route add "$SRV_IP/32" dev psrv scope link
	for x in "$c:$CLI_IP:$cgw" "$s:$SRV_IP:$sgw"; do
		IFS=: read -r n ip gw <<<"$x"
		ip -n "$n" link set lo up
		ip -n "$n" link set eth0 up
		ip -n "$n" addr add "$ip/24" dev eth0
		ip -n "$n" route add default via "$gw"
	done
}

# ---- traffic ----

# wait_listen NS PORT: until something listens on tcp PORT in NS.
wait_listen() {
	for _ in $(seq 100); do
		ip netns exec "$1" ss -Hltn "sport = :$2" | grep . >/dev/null && return 0
		sleep 0.05
	done
	die "nothing listens on port $2 in $1"
}

start_iperf_server() { # CFG
	bench_bg $PIN_SRV ip netns exec "$(srv_ns "$1")" iperf3 -s -B "$SRV_IP"
	wait_listen "$(srv_ns "$1")" 5201
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
measure_udp() { # CFG N REP [LABEL: the row's name for CFG]
	local a b
	a=$(rx_packets "$1")
	iperf_client "$1" "$TMP/iperf.json" -u -b 0 -l 22 -w 4M
	b=$(rx_packets "$1")
	$REPORT udp "${4:-$1}" "$2" "$3" "$TMP/iperf.json" "$a" "$b" >>"$RES"
}

measure_tcp() { # CFG N REP [LABEL]
	iperf_client "$1" "$TMP/iperf.json"
	$REPORT tcp "${4:-$1}" "$2" "$3" "$TMP/iperf.json" >>"$RES"
}

# run_sizes "KIND..." CHECK: for each N of $SIZES, the script's apply_size and
# load_iptables N, then REPS repetitions of measure_KIND for every configuration,
# in another order each repetition; CHECK N prints what to report after N
# (collected in CHECKS).
run_sizes() {
	local kinds=$1 check=$2 n rep order kind cfg
	CHECKS=()
	for n in $SIZES; do
		note "N=$n: applying $n rules (vpcd, iptables)"
		apply_size "$n"
		load_iptables "$n"
		for rep in $(seq "$REPS"); do
			# No configuration always runs first.
			case $((rep % 3)) in
			1) order="raw vpcd ipt" ;;
			2) order="vpcd ipt raw" ;;
			0) order="ipt raw vpcd" ;;
			esac
			note "N=$n repetition $rep/$REPS: $kinds, $order"
			for kind in $kinds; do
				for cfg in $order; do "measure_$kind" "$cfg" "$n" "$rep"; done
			done
		done
		CHECKS+=("$("$check" "$n")")
	done
}

# ---- the host ----

# The host is shared (and virtual): note how busy it was around the run.
host_state() { # -> "load average, total and steal CPU ticks"
	local l
	read -r l _ </proc/loadavg
	awk -v l="$l" '/^cpu /{t=0; for (i=2;i<=NF;i++) t+=$i; print l, t, $9; exit}' /proc/stat
}

host_start() {
	read -r LOAD0 TICKS0 STEAL0 <<<"$(host_state)"
	OTHER_NS0=$( (ls /run/netns 2>/dev/null || true) | wc -l)
}

# host_header TITLE: the lines above the tables. VPCD_NS: how many namespaces our
# vpcd made (they are not "other" namespaces).
host_header() {
	local pin
	read -r LOAD1 TICKS1 STEAL1 <<<"$(host_state)"
	OTHER_NS1=$(($( (ls /run/netns 2>/dev/null || true) | wc -l) - ${#OWN_NS[@]} - VPCD_NS))
	echo "$1: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs," \
		"$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)"
	if [ -n "$PIN_CLI" ]; then pin="client on CPU 0, server on CPU 1 (taskset)"; else pin="not pinned (1 CPU)"; fi
	echo "iperf3: $SECS s per run, $REPS repetitions per cell (order rotated), $pin;" \
		"UDP: 64-byte frames (-l 22 -b 0 -w 4M)"
	echo "iptables: $(iptables -V)"
	echo "host: load average $LOAD0 at the start, $LOAD1 at the end; CPU steal during the run" \
		"$(awk -v s=$((STEAL1 - STEAL0)) -v t=$((TICKS1 - TICKS0)) 'BEGIN{printf "%.1f%%", t ? 100*s/t : 0}');" \
		"other namespaces on the host: $OTHER_NS0 at the start, $OTHER_NS1 at the end"
}
