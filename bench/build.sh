#!/bin/bash
# Build + teardown benchmark (ARCHITECTURE.md, section 6): one VPC of N instances
# built and torn down by
#   raw    build/bench/netlink_baseline, direct netlink from one C process (the floor)
#   vpcd   a private vpcd: `vpcctl apply -f` then `vpcctl destroy`, wall clock
#   shell  one `ip` subprocess per step, as the shell "vpcctl" projects do
#   full   netlink_baseline -f: raw plus what vpcd builds on top (sysctls, routes,
#          proxy_delay), to tell extra objects from per-object overhead
# Each measurement is repeated (3 times by default) and the median reported.
#
# usage: bench/build.sh [--runs R] [--shell-max M | --shell-all | --no-shell] [N ...]
#   N defaults to 50 200 1000; the shell baseline runs for N <= 200 unless told.
#
# Needs root. It only ever creates, and only ever deletes, namespaces named
# nlb.* (raw), shb.* (shell) and bench.* (its vpcd runs with --prefix bench), refuses
# to start if any exist already, and removes them all on exit, Ctrl-C included.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${VPC_BUILD_DIR:-$ROOT/build}
BASELINE=$BUILD/bench/netlink_baseline
VPCD_BIN=$BUILD/vpcd
VPCCTL_BIN=$BUILD/vpcctl

RAW_P=nlb.           # netlink_baseline namespaces: nlb.r, nlb.i<k>
SH_P=shb.            # shell baseline: shb.r, shb.i<k>
VPCD_P=bench         # vpcd --prefix: bench.b, bench.b.i.i<k>
VPC=b
OURS="^(nlb|shb|bench)\\."
VPCD_LOCK=/run/vpcd.$VPCD_P.lock

RUNS=3
SHELL_MAX=200
SIZES=()
while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=$2; shift 2 ;;
	--shell-max) SHELL_MAX=$2; shift 2 ;;
	--shell-all) SHELL_MAX=1000000; shift ;;
	--no-shell) SHELL_MAX=0; shift ;;
	-h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "build.sh: unknown option $1" >&2; exit 2 ;;
	*) SIZES+=("$1"); shift ;;
	esac
done
[ ${#SIZES[@]} -gt 0 ] || SIZES=(50 200 1000)
for n in "${SIZES[@]}" "$RUNS"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] && [ "$n" -le 4000 ] || { echo "build.sh: bad number $n" >&2; exit 2; }
done

die() { echo "build.sh: $*" >&2; exit 1; }
note() { printf '%s\n' "$*" >&2; }

[ "$(id -u)" -eq 0 ] || die "needs root (it creates network namespaces)"
for b in "$BASELINE" "$VPCD_BIN" "$VPCCTL_BIN"; do
	[ -x "$b" ] || die "$b missing; run scripts/build.sh first"
done
# One benchmark at a time (the lock is on this file: nothing to clean up).
exec 9<"$0"
flock -n 9 || die "another bench/build.sh is running"

# Our names in /run/netns, what `ip netns list` shows. Read directly: `ip netns list`
# asks the kernel for an id per namespace and prints an error for any namespace that
# someone else is creating or deleting at that moment.
ours() { ls -1 /run/netns 2>/dev/null | grep -E "$OURS" || true; }
left=$(ours)
[ -z "$left" ] || die "$(echo "$left" | wc -l) namespaces with the benchmark's prefixes exist
already (from a killed run?): $(echo $left | cut -c1-120)...
Remove them with: ls /run/netns | grep -E '$OURS' | xargs -rn1 ip netns delete"
LOCK_WAS_THERE=0
[ -e "$VPCD_LOCK" ] && LOCK_WAS_THERE=1
if ! flock -n "$VPCD_LOCK" true 2>/dev/null; then die "a vpcd with prefix $VPCD_P is running"; fi

TMP=$(mktemp -d /tmp/vpcbench.XXXXXX)
export VPCD_SOCKET=$TMP/run/vpcd.sock
VPCD_PID=
CHILD=

cleanup() {
	local rc=$?
	set +e
	trap - INT TERM HUP
	if [ -n "$CHILD" ]; then
		kill "$CHILD" 2>/dev/null
		wait "$CHILD" 2>/dev/null
	fi
	if [ -n "$VPCD_PID" ] && kill -0 "$VPCD_PID" 2>/dev/null; then
		"$VPCCTL_BIN" destroy --all >/dev/null 2>&1
		kill "$VPCD_PID"
		wait "$VPCD_PID" 2>/dev/null
	fi
	# Last resort, for whatever an interrupted step left: only our prefixes.
	local n i
	for i in 1 2 3; do
		for n in $(ours); do ip netns delete "$n" 2>/dev/null; done
		[ -n "$(ours)" ] || break
		sleep 0.2 # an `ip` of an interrupted shell run may still be finishing
	done
	[ -z "$(ours)" ] || { echo "build.sh: could not remove: $(ours)" >&2; rc=1; }
	[ $LOCK_WAS_THERE = 1 ] || ! flock -n "$VPCD_LOCK" true 2>/dev/null || rm -f "$VPCD_LOCK"
	[ $rc -ne 1 ] || [ ! -s "$TMP/vpcd.log" ] || { echo "--- vpcd log ---" >&2; tail -n 20 "$TMP/vpcd.log" >&2; }
	rm -rf "$TMP"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Runs a command in the background and waits, so a signal is handled at once and the
# cleanup knows the PID to stop.
run() {
	"$@" &
	CHILD=$!
	local rc=0
	wait "$CHILD" || rc=$?
	CHILD=
	return $rc
}

now_us() { echo "${EPOCHREALTIME/./}"; }
ms_since() { awk -v a="$1" -v b="$(now_us)" 'BEGIN {printf "%.1f", (b - a) / 1000}'; }

# Namespace teardown finishes in the kernel (cleanup_net, a workqueue) after the
# names are gone; a run that starts before it is done competes with it. Wait until
# the names are gone and no worker has been busy on the netns queue for 0.5 s (at
# most 30 s: other users of the machine may keep that queue busy).
settle() {
	local quiet=0 i
	for i in $(seq 300); do
		if [ -z "$(ours)" ] && ! grep -qs '+netns' /proc/[0-9]*/comm; then
			quiet=$((quiet + 1))
			[ $quiet -ge 5 ] && break
		else
			quiet=0
		fi
		sleep 0.1
	done
	# The last half second doubles as a look at what others make the CPUs do.
	local before after
	before=$(cpu_jiffies)
	sleep 0.5
	after=$(cpu_jiffies)
	LOADS+=("$(awk -v a="$before" -v b="$after" 'BEGIN {
		split(a, x, " "); split(b, y, " "); busy = y[1] - x[1]; all = busy + y[2] - x[2]
		printf "%d", all ? 100 * busy / all : 0 }')")
}
# "busy idle" jiffies of all CPUs, from /proc/stat.
cpu_jiffies() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6; exit}' /proc/stat; }
LOADS=()

# Where each run's numbers go: RES[method,N] = "build teardown; build teardown; ..."
declare -A RES

record() { RES[$1,$2]+="$3 $4;"; }

# ---- the raw netlink baseline ----
bench_raw() { # N [-f]
	local out
	run "$BASELINE" ${2:-} "$1" "$RAW_P" >"$TMP/raw.out" || die "netlink_baseline failed"
	out=$(cat "$TMP/raw.out")
	[[ $out =~ build_ms=([0-9.]+)\ teardown_ms=([0-9.]+) ]] || die "netlink_baseline said: $out"
	record "$([ -n "${2:-}" ] && echo full || echo raw)" "$1" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
}

# ---- vpcd ----
# In its own session, so that a Ctrl-C reaches the script, not vpcd: the cleanup
# still needs it to destroy what it built. (Not a group leader: setsid does not fork.)
start_vpcd() {
	setsid "$VPCD_BIN" -p "$VPCD_P" -s "$TMP/state" -r "$TMP/run" >>"$TMP/vpcd.log" 2>&1 </dev/null &
	VPCD_PID=$!
	for _ in $(seq 100); do
		if [ -S "$VPCD_SOCKET" ] && "$VPCCTL_BIN" status >/dev/null 2>&1; then
			[ "$(cat "$VPCD_LOCK")" = "$VPCD_PID" ] || die "vpcd is not pid $VPCD_PID"
			return 0
		fi
		kill -0 "$VPCD_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$TMP/vpcd.log" >&2
	die "vpcd did not start"
}

# One VPC, 4 subnets (/20), N instances dealt round-robin; vpcd allocates addresses
# in file order, so instance k gets the address netlink_baseline gives it.
topology() { # N FILE
	local k
	{
		printf '{"vpcs": [{"name": "%s", "cidr": "10.0.0.0/16", "subnets": [' "$VPC"
		printf '{"name": "s0", "cidr": "10.0.0.0/20"}, {"name": "s1", "cidr": "10.0.16.0/20"}, '
		printf '{"name": "s2", "cidr": "10.0.32.0/20"}, {"name": "s3", "cidr": "10.0.48.0/20"}],\n'
		printf '  "instances": ['
		for ((k = 0; k < $1; k++)); do
			[ $k -eq 0 ] || printf ',\n'
			printf '{"name": "i%d", "subnet": "s%d"}' $k $((k % 4))
		done
		printf ']}]}\n'
	} >"$2"
}

bench_vpcd() { # N
	local t0 b d
	topology "$1" "$TMP/topo.json"
	t0=$(now_us)
	run "$VPCCTL_BIN" apply -f "$TMP/topo.json" >"$TMP/vpcd.out" 2>&1 || { cat "$TMP/vpcd.out" >&2; die "vpcctl apply failed"; }
	b=$(ms_since "$t0")
	[ "$(ours | grep -c "^$VPCD_P\\.")" -eq $(($1 + 1)) ] || die "vpcd did not build $1 instances"
	t0=$(now_us)
	run "$VPCCTL_BIN" destroy "$VPC" >"$TMP/vpcd.out" 2>&1 || { cat "$TMP/vpcd.out" >&2; die "vpcctl destroy failed"; }
	d=$(ms_since "$t0")
	record vpcd "$1" "$b" "$d"
}

# ---- one `ip` per step ----
# `run ... || die` turns errexit off inside, so every step checks for itself; exit
# leaves the background subshell that `run` started.
step() { "$@" || { echo "build.sh: failed: $*" >&2; exit 1; }; }

shell_build() { # N
	local r=${SH_P}r k i h
	step ip netns add "$r"
	step ip -n "$r" link set lo up
	for ((k = 0; k < $1; k++)); do
		i=${SH_P}i$k h=$((4 + k / 4))
		step ip netns add "$i"
		step ip -n "$r" link add "p$k" type veth peer name eth0 netns "$i"
		step ip -n "$i" addr add "10.0.$((16 * (k % 4) + h / 256)).$((h % 256))/20" dev eth0
		step ip -n "$i" link set eth0 up
		step ip -n "$i" link set lo up
		step ip -n "$r" link set "p$k" up
	done
}

shell_teardown() { # N
	local k
	for ((k = $1 - 1; k >= 0; k--)); do step ip netns delete "${SH_P}i$k"; done
	step ip netns delete "${SH_P}r"
}

bench_shell() { # N
	local t0 b d
	t0=$(now_us)
	run shell_build "$1" || die "shell baseline failed"
	b=$(ms_since "$t0")
	t0=$(now_us)
	run shell_teardown "$1" || die "shell baseline teardown failed"
	d=$(ms_since "$t0")
	record shell "$1" "$b" "$d"
}

# "METHOD B/T ms" of the latest run, for the progress lines.
last() {
	local v=${RES[$1,$2]:-}
	[ -n "$v" ] || return 0
	v=${v%;}
	v=${v##*;}
	echo "$1 ${v/ //} ms"
}

# ---- the runs ----
start_vpcd
note "build benchmark: N = ${SIZES[*]}, $RUNS runs each, $(nproc) CPUs, kernel $(uname -r)"
for n in "${SIZES[@]}"; do
	for ((r = 1; r <= RUNS; r++)); do
		settle; bench_raw "$n"
		settle; bench_vpcd "$n"
		settle; bench_raw "$n" -f
		if [ "$n" -le "$SHELL_MAX" ]; then settle; bench_shell "$n"; fi
		note "  N=$n run $r/$RUNS: $(last raw "$n")  $(last vpcd "$n")  $(last full "$n")  $(last shell "$n")"
	done
done
settle

# ---- the table ----
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR] = $1} END {
	if (!NR) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# med METHOD N FIELD: FIELD 1 build, 2 teardown, 3 build+teardown; median over runs.
med() {
	local v=${RES[$1,$2]:-}
	[ -n "$v" ] || { echo -; return; }
	echo "$v" | tr ';' '\n' | grep . | awk -v f="$3" '{print f == 3 ? $1 + $2 : $f}' | median
}
per() { [ "$1" = - ] && echo - || awk -v t="$1" -v n="$2" 'BEGIN {printf "%.2f", t / n}'; }

echo
printf '%-6s | %-22s | %-15s | %-9s | %-18s | %-20s\n' N "raw netlink ms/inst" "vpcd ms/inst" \
	"vpcd/raw" "shell ip ms/inst" "raw+extras ms/inst"
printf -- '-------+------------------------+-----------------+-----------+--------------------+---------------------\n'
verdict=
for n in "${SIZES[@]}"; do
	raw=$(med raw "$n" 3) vpcd=$(med vpcd "$n" 3)
	ratio=$(awk -v a="$vpcd" -v b="$raw" 'BEGIN {printf "%.2fx", a / b}')
	met=$(awk -v a="$vpcd" -v b="$raw" 'BEGIN {print a <= 2 * b ? "met" : "NOT met"}')
	verdict+="${verdict:+, }N=$n $met ($ratio)"
	printf '%-6s | %-22s | %-15s | %-9s | %-18s | %-20s\n' "$n" "$(per "$raw" "$n")" \
		"$(per "$vpcd" "$n")" "$ratio" "$(per "$(med shell "$n" 3)" "$n")" \
		"$(per "$(med full "$n" 3)" "$n")"
done
echo "(build + teardown, median of $RUNS runs; raw+extras = raw netlink plus vpcd's sysctls, routes, proxy_delay)"
echo "target (ARCHITECTURE.md section 6, stated for N=200): vpcd within 2x of raw netlink: $verdict"
echo
echo "absolute times, ms (median build / median teardown):"
printf '%-6s | %-19s | %-19s | %-19s | %-19s\n' N "raw netlink" vpcd "shell ip" "raw+extras"
for n in "${SIZES[@]}"; do
	row=()
	for m in raw vpcd shell full; do
		row+=("$(med $m "$n" 1) / $(med $m "$n" 2)")
	done
	printf '%-6s | %-19s | %-19s | %-19s | %-19s\n' "$n" "${row[@]}"
done
echo
load_med=$(printf '%s\n' "${LOADS[@]}" | median)
load_max=$(printf '%s\n' "${LOADS[@]}" | sort -n | tail -1)
echo "CPU busy with other work while this script idled between runs: median ${load_med}%, max ${load_max}%"
if awk -v l="$load_med" 'BEGIN {exit !(l > 10)}'; then
	echo "(the machine was not quiet: expect noise; compare columns of this run only, or rerun)"
fi
