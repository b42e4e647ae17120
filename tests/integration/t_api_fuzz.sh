#!/bin/bash
# vpcd's API under mutated requests (tests/integration/api_fuzz.py): requests as
# vpcctl sends them, for a small VPC, with values replaced, keys dropped or added,
# bytes cut or changed, entries texts and attached files mangled. vpcd answers
# every one with a result or a clear error; a refused request or a dry run
# changes nothing, neither the desired state nor the kernel; vpcd is still up at
# the end, its state still matches the kernel, and destroy leaves nothing.
# API_FUZZ_SECONDS (45) and API_FUZZ_SEED (random, printed) set the run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kstate.sh"
start_vpcd

topo base <<'JSON'
{"vpcs": [{"name": "lab", "cidr": "10.0.0.0/16",
  "subnets": [{"name": "front", "cidr": "10.0.1.0/24", "network_acl": "n1", "route_table": "rt"},
              {"name": "back", "cidr": "10.0.2.0/24"}],
  "route_tables": [{"name": "rt", "routes": [{"destination": "192.0.2.0/24", "target": "blackhole"}]}],
  "network_acls": [{"name": "n1",
    "inbound": [{"rule": 100, "protocol": "tcp", "ports": "80", "cidr": "0.0.0.0/0", "action": "allow"},
                {"rule": 110, "protocol": "all", "cidr": "10.0.0.0/16", "action": "allow"}],
    "outbound": [{"rule": 100, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"}]}],
  "security_groups": [{"name": "web", "ingress": [{"protocol": "tcp", "ports": "80", "cidr": "0.0.0.0/0"}]},
                      {"name": "db", "ingress": [{"protocol": "tcp", "ports": "5432", "source_group": "web"}],
                       "egress": []}],
  "instances": [{"name": "web1", "subnet": "front", "security_groups": ["web"]},
                {"name": "web2", "subnet": "front", "security_groups": ["web"]},
                {"name": "db1", "subnet": "back", "security_groups": ["db"]}]}]}
JSON

seed=${API_FUZZ_SEED:-$RANDOM}
log "seed $seed (API_FUZZ_SEED=$seed repeats this run)"
expect_ok "every mutated request answered; the refused and the dry runs changed nothing" \
	python3 "$ROOT/tests/integration/api_fuzz.py" "$VPCD_SOCKET" "$NSP" "$TMP/base.json" \
	"${API_FUZZ_SECONDS:-45}" "$seed"
log "$(cat "$TMP/out")"
kill -0 "$VPCD_PID" 2>/dev/null && ok "vpcd still runs" || fail "vpcd is gone"
changes=$(vpcctl reconcile -o json | json_get 'd["changes"]')
[ "$changes" = 0 ] && ok "the kernel matches the state vpcd holds" || fail "reconcile made $changes changes"
expect_ok "destroy everything" vpcctl destroy --all
[ -z "$(our_ns)" ] && ok "no namespace left" || fail "left: $(our_ns)"
log "$CHECKS checks passed"
