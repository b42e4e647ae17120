#!/bin/bash
# Bad topology files are refused with the exact message a student needs, exit code
# 1, and nothing changes: not the kernel, not the state file, not what vpcd holds.
# The cases are data: tests/bad/NN-name.json with the expected standard error in
# tests/bad/NN-name.expected (file paths in messages are relative to tests/bad).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kstate.sh"
BAD=$ROOT/tests/bad
start_vpcd

# What vpcd holds already: the bad files edit or extend it.
topo shop <<'JSON'
{"vpcs": [{"name": "shop", "cidr": "10.0.0.0/16",
  "subnets": [{"name": "a", "cidr": "10.0.1.0/24"}, {"name": "b", "cidr": "10.0.2.0/24"}],
  "instances": [{"name": "a1", "subnet": "a", "private_ip": "10.0.1.10"}, {"name": "b1", "subnet": "b"}]}]}
JSON
expect_ok "apply a valid VPC" vpcctl apply -f "$TMP/shop.json"
ping_ok shop/a1 "$(ip_of shop b1)"

snap=$(kernel_snapshot)
sum=$(state_sum)
show=$(show_config)
[ "$(grep -c '^== ' <<<"$snap")" -eq 3 ] && ok "kernel snapshot covers 3 namespaces" || fail "snapshot: $snap"

failed=()
n_cases=0
cd "$BAD"
for f in [0-9]*.json; do
	name=${f%.json}
	n_cases=$((n_cases + 1))
	[ -f "$name.expected" ] || fail "$BAD/$name.expected is missing"
	set +e
	vpcctl apply -f "$f" >"$TMP/bad.out" 2>"$TMP/bad.err"
	rc=$?
	set -e
	problems=()
	[ $rc -eq 1 ] || problems+=("exit code $rc, want 1")
	cmp -s "$TMP/bad.err" "$name.expected" ||
		problems+=("standard error differs"$'\n'"    got:  $(sed '2,$s/^/          /' "$TMP/bad.err")"$'\n'"    want: $(cat "$name.expected")")
	[ -s "$TMP/bad.out" ] && problems+=("standard output not empty: $(cat "$TMP/bad.out")")
	[ "$(state_sum)" = "$sum" ] || problems+=("the state file changed")
	now=$(kernel_snapshot)
	[ "$now" = "$snap" ] || problems+=("the kernel changed: $(diff <(echo "$snap") <(echo "$now"))")
	[ "$(show_config)" = "$show" ] || problems+=("vpcd's view (show -o json) changed")
	if [ ${#problems[@]} -eq 0 ]; then
		ok "$name: $(cat "$name.expected")"
		continue
	fi
	failed+=("$name")
	printf '%s: FAIL: %s\n' "$TEST_NAME" "$name" >&2
	printf '    %s\n' "${problems[@]}" >&2
	# Judge the next cases on their own.
	snap=$now
	sum=$(state_sum)
	show=$(show_config)
done
cd - >/dev/null
[ "$n_cases" -ge 25 ] && ok "$n_cases bad files tried" || fail "only $n_cases bad files in $BAD"

# A file that cannot be read.
set +e
vpcctl apply -f "$TMP/no-such-file.json" 2>"$TMP/bad.err"
rc=$?
set -e
want="vpcctl: error: $TMP/no-such-file.json: unable to open $TMP/no-such-file.json: No such file or directory"
[ $rc -eq 1 ] && [ "$(cat "$TMP/bad.err")" = "$want" ] && ok "missing file: $want" ||
	fail "missing file: exit $rc, $(cat "$TMP/bad.err")"

# vpcd still holds the valid VPC, and it still works.
[ "$(vpcctl apply -o json -f "$TMP/shop.json" | json_get 'd["changes"]')" = 0 ] &&
	ok "the valid file still changes nothing" || fail "the valid file makes changes"
ping_ok shop/a1 "$(ip_of shop b1)"

[ ${#failed[@]} -eq 0 ] || fail "${#failed[@]} of $n_cases bad files not handled as expected: ${failed[*]}"
