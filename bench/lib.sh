# Shared by the benchmarks in bench/ (sourced, not run): a temporary directory,
# background processes and namespaces that are stopped and removed by PID and by
# the exact names this run created, and a private vpcd under its own prefix.
# The cleanup runs on every exit, error and Ctrl-C. Needs root.
#
# Nothing here looks at objects by pattern: another vpcd, test run or benchmark
# may be working on this host at the same time.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=${VPC_SOURCE_DIR:-$(cd "$BENCH_DIR/.." && pwd)}
BUILD=${VPC_BUILD_DIR:-$ROOT/build}
VPCD_BIN=$BUILD/vpcd
VPCCTL_BIN=$BUILD/vpcctl
BENCH_NAME=$(basename "$0" .sh)

TMP=
BG_PIDS=()    # background processes still to stop
OWN_NS=()     # namespaces this run created with `ip netns add`
VPCD_PID=
VPCD_PREFIX=
VPCD_LOCK_NEW=0 # vpcd's lock file did not exist before: remove it afterwards
CLEANUP_HOOKS=()

note() { printf '%s: %s\n' "$BENCH_NAME" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$BENCH_NAME" "$*" >&2
	exit 1
}

bench_init() {
	[ "$(id -u)" -eq 0 ] || die "needs root (namespaces, BPF, iptables)"
	[ -x "$VPCD_BIN" ] && [ -x "$VPCCTL_BIN" ] || die "build first (bash scripts/build.sh): $VPCD_BIN missing"
	TMP=$(mktemp -d "/tmp/bench-$BENCH_NAME.XXXXXX")
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}

# ---- processes ----

# bench_bg CMD...: starts CMD in the background, output to $TMP/bg.log; its PID is
# in BG_LAST and remembered for the cleanup. `ip netns exec` and `taskset` exec
# the command, so the PID is the command's own.
bench_bg() {
	"$@" </dev/null >>"$TMP/bg.log" 2>&1 &
	BG_LAST=$!
	BG_PIDS+=("$BG_LAST")
}

# bench_stop PID: stops one process we started and forgets it.
bench_stop() {
	local p=$1 i
	kill "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	for i in "${!BG_PIDS[@]}"; do
		[ "${BG_PIDS[$i]}" = "$p" ] && unset 'BG_PIDS[i]'
	done
	return 0
}

# bench_fg CMD...: runs CMD to completion as a background job, so that Ctrl-C
# reaches the trap at once and the cleanup can stop it by PID.
bench_fg() {
	local rc=0
	"$@" &
	BG_PIDS+=($!)
	wait $! || rc=$?
	bench_stop $!
	return $rc
}

# ---- namespaces ----

# bench_netns_add NAME: creates a namespace that the cleanup deletes. Refuses a
# name that exists: it would be someone else's.
bench_netns_add() {
	[ -e "/run/netns/$1" ] && die "namespace $1 exists already: not ours, not touching it"
	ip netns add "$1"
	OWN_NS+=("$1")
}

# ---- a private vpcd ----

vpcctl() { "$VPCCTL_BIN" "$@"; }

# vpcd_start PREFIX: a vpcd whose namespaces, lock and BPF pins carry PREFIX, with
# its state and socket in $TMP. Refuses to start if that prefix is in use.
vpcd_start() {
	local lock=/run/vpcd.$1.lock new=0
	[ -e "$lock" ] || new=1
	# (flock would create a missing lock file: a missing one is free anyway.)
	if [ $new = 0 ] && ! flock -n "$lock" true 2>/dev/null; then
		die "a vpcd with prefix $1 is running already"
	fi
	if ls /run/netns 2>/dev/null | grep "^$1\\." >/dev/null; then
		die "namespaces $1.* exist already; not ours, not touching them"
	fi
	[ -e "/sys/fs/bpf/vpcd-$1" ] && die "/sys/fs/bpf/vpcd-$1 exists already"
	# Only now is the prefix ours: the cleanup tears down what carries it.
	VPCD_PREFIX=$1
	VPCD_LOCK_NEW=$new
	export VPCD_SOCKET=$TMP/run/vpcd.sock
	"$VPCD_BIN" -p "$1" -s "$TMP/state" -r "$TMP/run" >>"$TMP/vpcd.log" 2>&1 &
	VPCD_PID=$!
	for _ in $(seq 200); do
		[ -S "$VPCD_SOCKET" ] && vpcctl status >/dev/null 2>&1 && return 0
		kill -0 "$VPCD_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$TMP/vpcd.log" >&2
	die "vpcd did not start"
}

vpcd_stop() {
	[ -n "$VPCD_PID" ] || return 0
	kill "$VPCD_PID" 2>/dev/null || true
	wait "$VPCD_PID" 2>/dev/null || true
	VPCD_PID=
}

# ---- cleanup ----

bench_cleanup() {
	local rc=$? p h n
	set +e
	trap '' INT TERM HUP # finish cleaning up even if Ctrl-C is pressed again
	for h in "${CLEANUP_HOOKS[@]}"; do "$h"; done
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	BG_PIDS=()
	if [ -n "$VPCD_PREFIX" ]; then
		# vpcd died? Start it again under the same prefix just to tear down.
		if [ -z "$VPCD_PID" ] || ! kill -0 "$VPCD_PID" 2>/dev/null; then
			VPCD_PID=
			"$VPCD_BIN" -p "$VPCD_PREFIX" -s "$TMP/state" -r "$TMP/run" >>"$TMP/vpcd.log" 2>&1 &
			VPCD_PID=$!
			for _ in $(seq 100); do
				vpcctl status >/dev/null 2>&1 && break
				sleep 0.05
			done
		fi
		vpcctl destroy --all >/dev/null 2>&1 || note "vpcctl destroy --all failed (see below)"
		vpcd_stop
		# At start no $VPCD_PREFIX.* namespace existed and no vpcd held the prefix:
		# whatever carries it now was made by our vpcd.
		local left
		left=$(ls /run/netns 2>/dev/null | grep "^$VPCD_PREFIX\\." || true)
		if [ -n "$left" ]; then
			note "PRODUCT BUG: vpcctl destroy --all left namespaces: $left"
			for n in $left; do ip netns delete "$n"; done
			rc=1
		fi
		if [ -e "/sys/fs/bpf/vpcd-$VPCD_PREFIX" ]; then
			note "PRODUCT BUG: BPF pins left: $(ls -R "/sys/fs/bpf/vpcd-$VPCD_PREFIX" | tr '\n' ' ')"
			rm -rf "/sys/fs/bpf/vpcd-$VPCD_PREFIX"
			rc=1
		fi
		[ "$VPCD_LOCK_NEW" = 1 ] && rm -f "/run/vpcd.$VPCD_PREFIX.lock"
	fi
	for n in "${OWN_NS[@]}"; do ip netns delete "$n" 2>/dev/null; done
	if [ $rc -ne 0 ] && [ -s "$TMP/vpcd.log" ]; then
		note "--- last lines of the vpcd log ---"
		tail -n 20 "$TMP/vpcd.log" >&2
	fi
	if [ $rc -ne 0 ] && [ -s "$TMP/bg.log" ]; then
		note "--- last lines of the background processes' output ---"
		tail -n 20 "$TMP/bg.log" >&2
	fi
	[ -n "$TMP" ] && rm -rf "$TMP"
	exit $rc
}
