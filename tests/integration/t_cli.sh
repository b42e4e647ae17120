#!/bin/bash
# vpcctl: imperative verbs really change the kernel (ping proves it), -o json prints
# JSON, every verb has --help, usage errors exit 2, daemon errors exit 1 with
# "vpcctl: error: ...", and a missing vpcd is explained (exit 3).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kstate.sh"

# run CMD...: sets RC, OUT (stdout) and ERR (stderr) without stopping the test.
run() {
	set +e
	"$@" >"$TMP/run.out" 2>"$TMP/run.err"
	RC=$?
	set -e
	OUT=$(cat "$TMP/run.out")
	ERR=$(cat "$TMP/run.err")
}
is_json() { python3 -c 'import json, sys; json.loads(sys.stdin.read())' 2>/dev/null; }

# ---- without a daemon ----------------------------------------------------------
VERBS=("apply" "destroy" "show" "exec" "reconcile" "status" "vpc create" "vpc delete" "vpc list"
	"vpc set" "subnet create" "subnet delete" "subnet list" "instance create" "instance delete"
	"instance list" "instance set" "instance groups" "sg create" "sg delete" "sg list" "sg show"
	"sg rule add" "sg rule remove" "route-table create" "route-table delete" "route-table list"
	"route-table show" "route-table associate" "route add" "route replace" "route remove"
	"nat-gateway create" "nat-gateway delete" "nat-gateway list" "eip allocate" "eip release"
	"eip associate" "eip disassociate" "eip list" "peering create" "peering delete" "peering list"
	"nacl create" "nacl delete" "nacl list" "nacl show" "nacl entry add" "nacl entry replace"
	"nacl entry remove" "nacl associate" "nacl load" "nacl export")
for flag in --help -h help; do
	run vpcctl $flag
	[ $RC -eq 0 ] && [[ $OUT == "usage: vpcctl "* ]] && ok "vpcctl $flag: exit 0, usage" || fail "vpcctl $flag: exit $RC: $OUT$ERR"
done
main_usage=$OUT
for v in "${VERBS[@]}"; do
	# shellcheck disable=SC2086
	run vpcctl $v --help
	[ $RC -eq 0 ] && [[ $OUT == "usage: vpcctl $v"* ]] && [ -z "$ERR" ] ||
		fail "vpcctl $v --help: exit $RC: $OUT$ERR"
	grep -q "^  $v " <<<"$main_usage" || fail "vpcctl --help does not list \"$v\""
done
ok "all ${#VERBS[@]} verbs: --help exits 0 with their usage (no vpcd needed), and vpcctl --help lists them"
n_listed=$(sed -n '/Verbs:/,/global options:/p' <<<"$main_usage" | grep -c '^  [a-z]')
[ "$n_listed" -eq ${#VERBS[@]} ] && ok "vpcctl --help lists exactly these $n_listed verbs" ||
	fail "vpcctl --help lists $n_listed verbs, the test knows ${#VERBS[@]}: update VERBS"
run vpcctl -V
[ $RC -eq 0 ] && [[ $OUT == "vpcctl "* ]] && ok "vpcctl -V: $OUT" || fail "vpcctl -V: exit $RC"

usage_error() { # DESCRIPTION EXPECTED-STDERR-FIRST-LINE CMD...
	local what=$1 want=$2
	shift 2
	run "$@"
	[ $RC -eq 2 ] && [ "$(head -n1 <<<"$ERR")" = "$want" ] && [ -z "$OUT" ] &&
		ok "$what: exit 2, $want" || fail "$what: exit $RC, stdout '$OUT', stderr '$ERR'"
}
usage_error "unknown verb" 'vpcctl: unknown verb "frobnicate"; see vpcctl --help' vpcctl frobnicate
usage_error "unknown verb of a known noun" 'vpcctl: unknown verb "vpc frobnicate"; vpc verbs: create, delete, list, set' vpcctl vpc frobnicate
usage_error "unknown global option" "vpcctl: unknown option --bogus" vpcctl --bogus
usage_error "unknown verb option" "vpcctl apply: unknown option --bogus" vpcctl apply --bogus -f x.json
usage_error "unknown instance create option" "vpcctl instance create: unknown option --ipp" \
	vpcctl instance create lab i1 --subnet a --ipp 10.0.1.9
usage_error "bad -o" "vpcctl: -o takes json or table" vpcctl -o yaml show
usage_error "missing arguments" "vpcctl subnet create: missing arguments" vpcctl subnet create lab
usage_error "too many arguments" 'vpcctl show: unexpected argument "b"' vpcctl show a b
usage_error "missing --cidr" "vpcctl vpc create: --cidr is required" vpcctl vpc create x
usage_error "option without its value" "vpcctl instance create: --ip needs a value" vpcctl instance create lab i1 --ip
usage_error "apply without a file" "vpcctl apply: -f FILE is required (- for standard input)" vpcctl apply
usage_error "nacl load without a file" "vpcctl nacl load: -f FILE is required (- for standard input)" \
	vpcctl nacl load lab web
usage_error "exec without a command" "vpcctl exec: no command given (vpcctl exec lab/i1 -- COMMAND)" vpcctl exec lab/i1 --
usage_error "no verb" "usage: vpcctl [-s SOCKET] [-o json] VERB [ARGS...]" vpcctl

# No vpcd: say so, say how to start it, exit 3. The socket does not exist yet.
for cmd in "status" "show" "vpc list" "destroy --all" "exec lab/i1 -- true"; do
	# shellcheck disable=SC2086
	run vpcctl $cmd
	[ $RC -eq 3 ] && grep -q "^vpcctl: vpcd is not running ($VPCD_SOCKET: No such file or directory)" <<<"$ERR" &&
		grep -q "^Start it as root with:  vpcd --daemon" <<<"$ERR" ||
		fail "vpcctl $cmd without vpcd: exit $RC: $ERR"
done
ok "without vpcd: exit 3, \"$(head -n1 <<<"$ERR")\" and how to start it"
run env VPCD_SOCKET="$TMP/elsewhere.sock" "$VPCCTL_BIN" status
[ $RC -eq 3 ] && grep -q "($TMP/elsewhere.sock: " <<<"$ERR" && ok "VPCD_SOCKET is honoured and named" || fail "exit $RC: $ERR"
topo one <<'JSON'
{"vpcs": [{"name": "one", "cidr": "10.9.0.0/16"}]}
JSON
run vpcctl apply -f "$TMP/one.json"
[ $RC -eq 3 ] && ok "apply without vpcd: exit 3" || fail "apply without vpcd: exit $RC: $ERR"

# ---- imperative verbs against a running vpcd -------------------------------------
start_vpcd
run vpcctl -s /nonexistent/vpcd.sock status
[ $RC -eq 3 ] && grep -q "(/nonexistent/vpcd.sock: " <<<"$ERR" && ok "-s SOCKET overrides VPCD_SOCKET" || fail "-s: exit $RC: $ERR"

R=$NSP.lab
expect_ok "vpc create lab --cidr 10.0.0.0/16" vpcctl vpc create lab --cidr 10.0.0.0/16
[ -e "/run/netns/$R" ] && ok "the router namespace $R exists" || fail "no $R"
[ "$(vpcctl vpc list | awk 'NR > 1 {print $1, $2}')" = "lab 10.0.0.0/16" ] && ok "vpc list shows lab 10.0.0.0/16" ||
	fail "vpc list: $(vpcctl vpc list)"

expect_ok "subnet create lab a" vpcctl subnet create lab a --cidr 10.0.1.0/24
expect_ok "subnet create lab b" vpcctl subnet create lab b --cidr 10.0.2.0/24
# (The output is read whole first: `ip | grep -q` fails under pipefail when grep
# stops reading before ip is done writing.)
addrs=$(ip -n "$R" -o addr show dev lo)
grep -q ' 10.0.1.1/32 ' <<<"$addrs" && grep -q ' 10.0.2.1/32 ' <<<"$addrs" &&
	ok "the router holds 10.0.1.1 and 10.0.2.1" || fail "router addresses: $addrs"
[ "$(vpcctl subnet list lab -o json | json_get '[(s["name"], s["cidr"]) for s in d]')" = \
	"[('a', '10.0.1.0/24'), ('b', '10.0.2.0/24')]" ] && ok "subnet list -o json: a and b" || fail "subnet list: $(vpcctl subnet list lab -o json)"

expect_ok "instance create lab i1 --subnet a" vpcctl instance create lab i1 --subnet a
expect_ok "instance create lab i2 --subnet b --ip 10.0.2.50" vpcctl instance create lab i2 --subnet b --ip 10.0.2.50
expect_ok "instance create lab i3 --subnet a" vpcctl instance create lab i3 --subnet a
[ -e "/run/netns/$R.i.i1" ] && [ -e "/run/netns/$R.i.i2" ] && ok "instance namespaces exist" || fail "no instance namespaces"
[ "$(vpcctl instance list lab -o json | json_get '[(i["name"], i["subnet"], i["private_ip"]) for i in d]')" = \
	"[('i1', 'a', '10.0.1.4'), ('i2', 'b', '10.0.2.50'), ('i3', 'a', '10.0.1.5')]" ] &&
	ok "instance list -o json: i1 10.0.1.4, i2 10.0.2.50, i3 10.0.1.5" || fail "instance list: $(vpcctl instance list lab -o json)"
vpcctl instance list lab | grep -Eq '^i2 +b +10\.0\.2\.50 ' && ok "instance list (table) shows i2" || fail "table: $(vpcctl instance list lab)"
ping_ok lab/i1 10.0.2.50
ping_ok lab/i2 10.0.1.4
ping_ok lab/i1 10.0.1.5

# -o json on every read verb, wherever -o sits.
for cmd in "show" "show lab" "vpc list" "subnet list lab" "instance list lab" "status" "reconcile"; do
	# shellcheck disable=SC2086
	vpcctl $cmd -o json | is_json || fail "vpcctl $cmd -o json is not JSON"
	# shellcheck disable=SC2086
	vpcctl -o json $cmd | is_json || fail "vpcctl -o json $cmd is not JSON"
	# shellcheck disable=SC2086
	vpcctl $cmd | is_json && fail "vpcctl $cmd prints JSON without -o json"
done
ok "show, vpc/subnet/instance list, status, reconcile: -o json prints JSON (before or after the verb), tables otherwise"
[ "$(vpcctl show lab -o json | json_get '[v["name"] for v in d["vpcs"]]')" = "['lab']" ] && ok "show lab -o json names lab" || fail "show lab"
[ "$(vpcctl status -o json | json_get '(d["vpcs"], d["instances"], d["prefix"])')" = "(1, 3, '$NSP')" ] &&
	ok "status -o json: 1 VPC, 3 instances, prefix $NSP" || fail "status: $(vpcctl status -o json)"
out=$(vpcctl instance create lab i9 --subnet b -o json)
is_json <<<"$out" && [ "$(json_get 'd["counts"]["instance-create"]' <<<"$out")" = 1 ] &&
	ok "a write verb with -o json prints its change as JSON" || fail "instance create -o json: $out"
expect_ok "instance delete lab i9" vpcctl instance delete lab i9

# Daemon errors: exit 1, one line "vpcctl: error: ...", nothing changes.
snap=$(kernel_snapshot)
sum=$(state_sum)
refused() { # DESCRIPTION EXPECTED-STDERR CMD...
	local what=$1 want=$2
	shift 2
	run "$@"
	[ $RC -eq 1 ] && [ "$ERR" = "$want" ] && [ -z "$OUT" ] || fail "$what: exit $RC, stderr '$ERR', want '$want'"
	[ "$(kernel_snapshot)" = "$snap" ] && [ "$(state_sum)" = "$sum" ] || fail "$what changed something"
	ok "$what: exit 1, $want"
}
refused "duplicate VPC" 'vpcctl: error: VPC "lab" already exists in the topology' vpcctl vpc create lab --cidr 10.0.0.0/16
refused "VPC too large" 'vpcctl: error: vpcs[1].cidr: VPC CIDR 10.0.0.0/8 is too large: the prefix must be between /16 and /28' \
	vpcctl vpc create big --cidr 10.0.0.0/8
refused "subnet outside the VPC" 'vpcctl: error: vpcs[0].subnets[2].cidr: subnet 10.9.0.0/24 is not inside VPC lab (10.0.0.0/16)' \
	vpcctl subnet create lab c --cidr 10.9.0.0/24
refused "subnet in an unknown VPC" 'vpcctl: error: no VPC "nope" in the topology' vpcctl subnet create nope c --cidr 10.0.9.0/24
refused "duplicate instance" 'vpcctl: error: instance "i1" already exists in VPC lab' vpcctl instance create lab i1 --subnet a
refused "reserved --ip" 'vpcctl: error: vpcs[0].instances[3].private_ip: 10.0.1.1 is reserved in subnet a (10.0.1.0/24): the first four addresses and the last one belong to the VPC' \
	vpcctl instance create lab i4 --subnet a --ip 10.0.1.1
refused "--ip in use" 'vpcctl: error: vpcs[0].instances[3].private_ip: 10.0.2.50 is already used by instance i2' \
	vpcctl instance create lab i4 --subnet b --ip 10.0.2.50
refused "unknown subnet" 'vpcctl: error: vpcs[0].instances[3].subnet: no subnet named "zz" in VPC lab' \
	vpcctl instance create lab i4 --subnet zz
refused "delete an unknown instance" 'vpcctl: error: no instance "zz" in VPC lab' vpcctl instance delete lab zz
refused "delete an unknown subnet" 'vpcctl: error: no subnet "zz" in VPC lab' vpcctl subnet delete lab zz
refused "delete an unknown VPC" 'vpcctl: error: no VPC named "zz"' vpcctl vpc delete zz
refused "show an unknown VPC" 'vpcctl: error: no VPC named "zz"' vpcctl show zz
refused "list an unknown VPC's instances" 'vpcctl: error: no VPC named "zz"' vpcctl instance list zz
refused "exec into an unknown instance" 'vpcctl: error: no instance named "zz" in VPC lab' vpcctl exec lab/zz -- true
refused "a rule in an unknown group" 'vpcctl: error: no security group named "zz" in VPC lab' \
	vpcctl sg rule add lab zz --ingress --protocol tcp --ports 22 --cidr 0.0.0.0/0
refused "a rule in an unknown VPC's group" 'vpcctl: error: no VPC named "zz"' \
	vpcctl sg rule add zz default --ingress --protocol tcp --ports 22 --cidr 0.0.0.0/0
refused "removing a rule the group does not have" \
	'vpcctl: error: security group default has no such ingress rule (see `vpcctl sg show lab default`)' \
	vpcctl sg rule remove lab default --ingress --protocol tcp --ports 22 --cidr 0.0.0.0/0
# Deleting a subnet that still has instances is refused, naming them.
run vpcctl subnet delete lab a
[ $RC -eq 1 ] && [[ $ERR == "vpcctl: error: subnet a still has "*"; delete them first" ]] &&
	[ "$(wc -l <<<"$ERR")" -eq 1 ] &&
	ok "subnet delete lab a with instances in it: exit 1, $ERR" || fail "subnet delete lab a: exit $RC, $ERR"
[ "$(kernel_snapshot)" = "$snap" ] && [ "$(state_sum)" = "$sum" ] && ok "... and nothing changed" || fail "subnet delete changed something"

# Rules of implicit groups: the default group (never written) gets a rule and
# keeps its own; a group without "egress" loses its implicit allow-all.
sg_dir() { # VPC GROUP DIRECTION: the rules as JSON, one line
	vpcctl sg show "$1" "$2" -o json | python3 -c '
import json, sys
print(json.dumps(json.load(sys.stdin)[sys.argv[1]], sort_keys=True))' "$3"
}
before=$(sg_dir lab default ingress)
expect_ok "sg rule add lab default --ingress tcp 22" \
	vpcctl sg rule add lab default --ingress --protocol tcp --ports 22 --cidr 198.51.100.0/24
after=$(sg_dir lab default ingress)
python3 - "$before" "$after" <<'PY' && ok "the default group has the new rule and its own" || fail "default group rules: $before -> $after"
import json, sys
b, a = json.loads(sys.argv[1]), json.loads(sys.argv[2])
new = {"protocol": "tcp", "ports": "22", "cidr": "198.51.100.0/24"}
sys.exit(0 if a == b + [new] else 1)
PY
run vpcctl sg rule add lab default --ingress --protocol tcp --ports 22 --cidr 198.51.100.0/24
[ $RC -eq 1 ] && [ "$ERR" = "vpcctl: error: security group default has this ingress rule already" ] &&
	ok "the same rule again: exit 1, $ERR" || fail "the same rule again: exit $RC, '$ERR'"
expect_ok "sg rule remove lab default --ingress tcp 22" \
	vpcctl sg rule remove lab default --ingress --protocol tcp --ports 22 --cidr 198.51.100.0/24
[ "$(sg_dir lab default ingress)" = "$before" ] && ok "... and it is gone again" || fail "default ingress: $(sg_dir lab default ingress)"
expect_ok "sg create lab open" vpcctl sg create lab open
[ "$(sg_dir lab open egress)" = '[{"cidr": "0.0.0.0/0", "protocol": "all"}]' ] &&
	ok "a new group allows all egress" || fail "new group egress: $(sg_dir lab open egress)"
expect_ok "sg rule remove lab open --egress all" vpcctl sg rule remove lab open --egress --protocol all --cidr 0.0.0.0/0
[ "$(sg_dir lab open egress)" = '[]' ] && ok "... and then none" || fail "egress after remove: $(sg_dir lab open egress)"
expect_ok "sg delete lab open" vpcctl sg delete lab open

# Deleting really deletes.
expect_ok "instance delete lab i2" vpcctl instance delete lab i2
[ ! -e "/run/netns/$R.i.i2" ] && ok "i2's namespace is gone" || fail "i2's namespace remains"
ping_no lab/i1 10.0.2.50
ping_ok lab/i1 10.0.2.1
expect_ok "subnet delete lab b" vpcctl subnet delete lab b
ip -n "$R" -o addr show dev lo | grep ' 10.0.2.1/32 ' >/dev/null && fail "the router still holds 10.0.2.1"
ok "the router no longer holds 10.0.2.1"
ping_no lab/i1 10.0.2.1
[ "$(vpcctl subnet list lab -o json | json_get '[s["name"] for s in d]')" = "['a']" ] && ok "subnet list: only a" || fail "subnet list"
# An instance created again after a delete gets a working namespace.
expect_ok "instance create lab i2 --subnet a --ip 10.0.1.50" vpcctl instance create lab i2 --subnet a --ip 10.0.1.50
ping_ok lab/i1 10.0.1.50
expect_ok "instance delete lab i1" vpcctl instance delete lab i1
expect_ok "instance delete lab i2" vpcctl instance delete lab i2
expect_ok "instance delete lab i3" vpcctl instance delete lab i3
expect_ok "subnet delete lab a (now empty)" vpcctl subnet delete lab a
[ "$(our_ns)" = "$R" ] && ok "only the router namespace is left" || fail "namespaces: $(our_ns)"
expect_ok "vpc delete lab" vpcctl vpc delete lab
[ -z "$(our_ns)" ] && ok "vpc delete lab leaves no namespace" || fail "left: $(our_ns)"
[ "$(vpcctl vpc list -o json)" = "[]" ] && ok "vpc list -o json: []" || fail "vpc list: $(vpcctl vpc list -o json)"
