# Shared by every integration test (t_*.sh): a private vpcd, traffic helpers, and a
# cleanup that always runs and fails the test if anything was left behind.
# Needs root. Traffic only ever flows between namespaces the test creates.
set -euo pipefail

ROOT=${VPC_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${VPC_BUILD_DIR:-$ROOT/build}
VPCD_BIN=$BUILD/vpcd
VPCCTL_BIN=$BUILD/vpcctl
TEST_NAME=$(basename "$0" .sh)
TMP=$(mktemp -d "/tmp/vpctest.$TEST_NAME.XXXXXX")
export VPCD_SOCKET=$TMP/run/vpcd.sock
# VPC_TEST_PREFIX runs the daemon with --prefix, so that several test runs (or a
# test run and a real vpcd) can share a host.
NSP=${VPC_TEST_PREFIX:-vpc}
if [ "$NSP" = vpc ]; then
	LOCK=/run/vpcd.lock
	PINS=/sys/fs/bpf/vpcd
else
	LOCK=/run/vpcd.$NSP.lock
	PINS=/sys/fs/bpf/vpcd-$NSP
fi
VPCD_PID=
BG_PIDS=()
CHECKS=0

log() { printf '%s: %s\n' "$TEST_NAME" "$*"; }
fail() {
	printf '%s: FAIL: %s\n' "$TEST_NAME" "$*" >&2
	exit 1
}
ok() {
	CHECKS=$((CHECKS + 1))
	printf '%s: ok: %s\n' "$TEST_NAME" "$*"
}

[ "$(id -u)" -eq 0 ] || fail "integration tests need root"
[ -x "$VPCD_BIN" ] && [ -x "$VPCCTL_BIN" ] || fail "build first: $VPCD_BIN missing"
# Never fight a real vpcd, nor delete namespaces we did not make.
if ! flock -n "$LOCK" true 2>/dev/null; then
	fail "a vpcd with prefix $NSP is running; stop it (or set VPC_TEST_PREFIX)"
fi
if ip netns list | grep "^$NSP\\." >/dev/null; then
	fail "$NSP.* namespaces exist already; destroy them before running the tests"
fi

vpcctl() { "$VPCCTL_BIN" "$@"; }

# `ip -n NS ...` and `ip netns exec NS ...` unshare the mount namespace and remount
# / and /sys, which fails where / is no mount point (a chroot, a container); nsenter
# changes only the network namespace, which is all the tests want.
ip() {
	if [ "${1:-}" = -n ]; then
		local ns=$2
		shift 2
		nsenter --net="/run/netns/$ns" ip "$@"
	elif [ "${1:-}" = netns ] && [ "${2:-}" = exec ]; then
		local ns=$3
		shift 3
		nsenter --net="/run/netns/$ns" "$@"
	else
		command ip "$@"
	fi
}

# VPCD_NETNS: run vpcd inside that network namespace (nsenter keeps /sys and the
# mounts as they are, unlike ip netns exec), so that what vpcd calls "the host"
# is a namespace the test made.
start_vpcd() {
	local wrap=()
	[ -n "${VPCD_NETNS:-}" ] && wrap=(nsenter "--net=/run/netns/$VPCD_NETNS" --)
	"${wrap[@]}" "$VPCD_BIN" -p "$NSP" -s "$TMP/state" -r "$TMP/run" "$@" >>"$TMP/vpcd.log" 2>&1 &
	VPCD_PID=$!
	for _ in $(seq 100); do
		[ -S "$VPCD_SOCKET" ] && vpcctl status >/dev/null 2>&1 && return 0
		kill -0 "$VPCD_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$TMP/vpcd.log" >&2
	fail "vpcd did not start"
}

stop_vpcd() {
	[ -n "$VPCD_PID" ] || return 0
	kill "$VPCD_PID" 2>/dev/null || true
	wait "$VPCD_PID" 2>/dev/null || true
	VPCD_PID=
}

# Starts a background command and remembers its PID for cleanup. `vpcctl exec`
# replaces itself with the command, so the PID is the command's own.
bg() {
	[ "$1" = vpcctl ] && set -- "$VPCCTL_BIN" "${@:2}"
	"$@" </dev/null >>"$TMP/bg.log" 2>&1 &
	BG_PIDS+=($!)
}

leftovers() {
	ip netns list | awk '{print $1}' | grep "^$NSP\\." || true
}

# Extra cleanup steps of a test, run by cleanup() before the leftover checks.
AT_EXIT=()
at_exit() { AT_EXIT+=("$*"); }

cleanup() {
	local rc=$?
	set +e
	# A pipeline's parts are children of the shell we started: they go first,
	# while they are still its children.
	for p in "${BG_PIDS[@]}"; do kill $(ps -o pid= --ppid "$p" 2>/dev/null) "$p" 2>/dev/null; done
	for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	if [ -z "$VPCD_PID" ] || ! kill -0 "$VPCD_PID" 2>/dev/null; then
		VPCD_PID=
		start_vpcd 2>/dev/null
	fi
	vpcctl destroy --all >/dev/null 2>&1
	stop_vpcd
	for c in "${AT_EXIT[@]}"; do eval "$c"; done
	local left
	left=$(leftovers)
	if [ -n "$left" ]; then
		echo "$TEST_NAME: FAIL: left behind: $left" >&2
		for n in $left; do ip netns delete "$n" 2>/dev/null; done
		rc=1
	fi
	if [ -e "$PINS" ]; then
		echo "$TEST_NAME: FAIL: BPF pins left behind: $(ls -R "$PINS")" >&2
		rm -rf "$PINS"
		rc=1
	fi
	if [ $rc -ne 0 ]; then
		echo "--- vpcd log ---" >&2
		tail -n 40 "$TMP/vpcd.log" >&2
	fi
	rm -rf "$TMP"
	[ $rc -eq 0 ] && echo "$TEST_NAME: PASS ($CHECKS checks)"
	exit $rc
}
trap cleanup EXIT

# ---- expectations ----

# expect_ok DESCRIPTION CMD...: the command must succeed.
expect_ok() {
	local what=$1
	shift
	if "$@" >"$TMP/out" 2>&1; then ok "$what"; else
		cat "$TMP/out" >&2
		fail "$what"
	fi
}

# expect_fail DESCRIPTION CMD...: the command must fail.
expect_fail() {
	local what=$1
	shift
	if "$@" >"$TMP/out" 2>&1; then
		cat "$TMP/out" >&2
		fail "$what (it succeeded)"
	else ok "$what"; fi
}

# ---- traffic ----

# ping_ok / ping_no FROM DST: FROM is VPC/INSTANCE or "internet".
# ping_ok allows three one-second tries: on a host busy creating and destroying
# hundreds of namespaces (other users' benchmarks), the first ping to a just-built
# instance was seen to go unanswered. A late answer is noted on standard error.
ping_ok() {
	local try
	for try in 1 2 3; do
		if vpcctl exec "$1" -- ping -c 1 -W 1 -q "$2" >"$TMP/out" 2>&1; then
			[ $try -eq 1 ] || echo "$TEST_NAME: note: ping $1 -> $2 answered on try $try" >&2
			ok "ping $1 -> $2"
			return 0
		fi
	done
	cat "$TMP/out" >&2
	fail "ping $1 -> $2"
}
# What must not pass gets two seconds to show that it does not.
ping_no() { expect_fail "no ping $1 -> $2" vpcctl exec "$1" -- ping -c 1 -w 2 -q "$2"; }

# A TCP (or UDP) server in an instance that answers every connection with its name.
# socat gives up on a connection 0.5 s after one side's EOF unless told otherwise
# (-t); on a loaded machine the answer can take longer than that, so both sides
# wait up to 3 s (they still finish as soon as both sides are done). -U: the
# server only sends; a byte from the client written to an echo that has already
# exited would end the server's socat (EPIPE) before it passes the answer on.
serve_tcp() { # WHERE PORT
	bg vpcctl exec "$1" -- socat -U -t 3 -T 5 TCP-LISTEN:"$2",reuseaddr,fork SYSTEM:"echo hello-from-$2"
	wait_listen "$1" "$2" tcp
}
serve_udp() { # WHERE PORT
	bg vpcctl exec "$1" -- socat -U -t 3 -T 5 UDP-LISTEN:"$2",reuseaddr,fork SYSTEM:"echo hello-from-$2"
	wait_listen "$1" "$2" udp
}
wait_listen() {
	local flag=-tln
	[ "$3" = udp ] && flag=-uln
	for _ in $(seq 100); do
		vpcctl exec "$1" -- ss -H "$flag" "sport = :$2" 2>/dev/null | grep . >/dev/null && return 0
		sleep 0.05
	done
	fail "nothing listens on $1 port $2"
}
tcp_talk() { # FROM DST PORT: prints the server's answer
	vpcctl exec "$1" -- socat -t 3 -T 3 - TCP:"$2":"$3",connect-timeout=2 </dev/null 2>/dev/null
}
udp_talk() { # UDP has no EOF: a missing answer costs the full -t
	echo ping | vpcctl exec "$1" -- socat -t 2 -T 2 - UDP:"$2":"$3" 2>/dev/null
}
tcp_ok() {
	for _ in 1 2 3; do
		[ "$(tcp_talk "$@")" = "hello-from-$3" ] && { ok "tcp $1 -> $2:$3"; return 0; }
	done
	fail "tcp $1 -> $2:$3"
}
tcp_no() {
	if [ -z "$(tcp_talk "$@")" ]; then ok "no tcp $1 -> $2:$3"; else fail "tcp $1 -> $2:$3 got through"; fi
}
udp_ok() {
	for _ in 1 2 3; do
		[ "$(udp_talk "$@")" = "hello-from-$3" ] && { ok "udp $1 -> $2:$3"; return 0; }
	done
	fail "udp $1 -> $2:$3"
}
udp_no() {
	if [ -z "$(udp_talk "$@")" ]; then ok "no udp $1 -> $2:$3"; else fail "udp $1 -> $2:$3 got through"; fi
}

# Packets the IP stack of namespace NS has forwarded (Ip: ForwDatagrams).
forwarded() { ip netns exec "$1" awk '/^Ip:/ && n++ {print $7}' /proc/net/snmp; }

# send_file FROM TO IP PORT FILE: FILE over one TCP connection from instance FROM
# to TO at IP:PORT. True when the receiver saw the connection close (it exits on
# the FIN) and wrote FILE whole, to $TMP/got.PORT.
send_file() {
	local got=$TMP/got.$4 pid st=
	bg vpcctl exec "$2" -- socat -u TCP-LISTEN:"$4",reuseaddr OPEN:"$got",creat,trunc
	pid=${BG_PIDS[-1]}
	wait_listen "$2" "$4" tcp
	vpcctl exec "$1" -- timeout 20 socat -u OPEN:"$5" TCP:"$3":"$4" || return 1
	for _ in $(seq 50); do
		st=$(ps -o stat= -p "$pid" 2>/dev/null || true)
		[ -z "$st" ] || [[ $st == Z* ]] && break
		sleep 0.1
	done
	{ [ -z "$st" ] || [[ $st == Z* ]]; } && cmp -s "$5" "$got"
}

# A long-lived TCP connection FROM -> TO (VPC/INSTANCE, at IP:PORT): a line every
# 0.1 s, appended to $LOG by a server that takes exactly one connection, so lines
# that arrive later came through the connection opened now.
start_stream() { # FROM TO IP PORT
	LOG=$TMP/stream.log
	STREAM="$1 -> $2"
	bg vpcctl exec "$2" -- socat -u TCP-LISTEN:"$4",reuseaddr OPEN:"$LOG",creat,append
	server_pid=${BG_PIDS[-1]}
	wait_listen "$2" "$4" tcp
	cat >"$TMP/client.py" <<'PY'
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
i = 0
while True:
    s.sendall(b"line %d\n" % i)
    i += 1
    time.sleep(0.1)
PY
	bg vpcctl exec "$1" -- python3 "$TMP/client.py" "$3" "$4"
	client_pid=${BG_PIDS[-1]}
}
lines() { { wc -l <"$LOG"; } 2>/dev/null || echo 0; }
stream_flows() { # WHEN: a few more lines arrive, and the client lives
	local n
	n=$(lines)
	for _ in $(seq 100); do
		if [ "$(lines)" -gt $((n + 5)) ] && kill -0 "$client_pid" 2>/dev/null; then
			ok "the $STREAM stream flows $1 ($(lines) lines)"
			return 0
		fi
		sleep 0.1
	done
	fail "the $STREAM stream stopped $1 (at $(lines) lines)"
}
stream_gapless() { # every line arrived once, in order: one connection, nothing lost
	python3 - "$LOG" <<'PY' && ok "the stream's lines are line 0..N without a gap" || fail "lines lost or repeated"
import sys
ls = open(sys.argv[1]).read().splitlines()
sys.exit(ls != ["line %d" % i for i in range(len(ls))])
PY
}

# Address of an instance, from `vpcctl show -o json`.
ip_of() { # VPC INSTANCE
	vpcctl show "$1" -o json | python3 -c '
import json, sys
v = json.load(sys.stdin)["vpcs"][0]
print([i for i in v["instances"] if i["name"] == sys.argv[1]][0]["private_ip"])' "$2"
}

# `vpcctl show -o json` without the live NACL counters (which move with any traffic).
show_config() {
	vpcctl show "$@" -o json | python3 -c '
import json, sys
def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if k not in ("packets", "bytes")}
    if isinstance(x, list):
        return [strip(v) for v in x]
    return x
print(json.dumps(strip(json.load(sys.stdin)), sort_keys=True))'
}

# Inode of a namespace: changes when the namespace is rebuilt.
ns_inode() { stat -L -c %i "/run/netns/$1"; }

# Writes a topology file from a heredoc: topo NAME <<EOF ... EOF
topo() { cat >"$TMP/$1.json"; }
