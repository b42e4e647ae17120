#!/bin/bash
# Network ACLs with real traffic: the AWS public-subnet example port by port,
# statelessness, no filtering inside a subnet, a deny cutting a running transfer,
# re-association, the default NACL edited, whole NACLs loaded from text, a NACL
# large enough to be read and compiled in two halves, counters,
# and the source/destination check.
. "$(dirname "$0")/lib.sh"
start_vpcd -v # (debug: the log tells which way a change went)

# web: the public subnet of the AWS example. admin: the one network allowed to SSH.
topo shop <<'JSON'
{"vpcs": [{"name": "shop", "cidr": "10.0.0.0/16",
  "subnets": [
    {"name": "web",   "cidr": "10.0.1.0/24", "network_acl": "public"},
    {"name": "apps",  "cidr": "10.0.2.0/24"},
    {"name": "admin", "cidr": "10.0.9.0/24"}],
  "network_acls": [{"name": "public",
    "inbound": [
      {"rule": 100, "protocol": "tcp", "ports": "80",  "cidr": "0.0.0.0/0", "action": "allow"},
      {"rule": 110, "protocol": "tcp", "ports": "443", "cidr": "0.0.0.0/0", "action": "allow"},
      {"rule": 120, "protocol": "tcp", "ports": "22",  "cidr": "10.0.9.0/24", "action": "allow"},
      {"rule": 140, "protocol": "tcp", "ports": "1024-65535", "cidr": "0.0.0.0/0", "action": "allow"}],
    "outbound": [
      {"rule": 100, "protocol": "tcp", "ports": "80",  "cidr": "0.0.0.0/0", "action": "allow"},
      {"rule": 110, "protocol": "tcp", "ports": "443", "cidr": "0.0.0.0/0", "action": "allow"},
      {"rule": 120, "protocol": "tcp", "ports": "1024-65535", "cidr": "0.0.0.0/0", "action": "allow"}]},
    {"name": "closed"}],
  "security_groups": [{"name": "open", "ingress": [{"protocol": "all", "cidr": "10.0.0.0/16"}]}],
  "instances": [
    {"name": "web1",  "subnet": "web",   "private_ip": "10.0.1.10"},
    {"name": "web2",  "subnet": "web",   "private_ip": "10.0.1.11"},
    {"name": "app1",  "subnet": "apps",  "private_ip": "10.0.2.10"},
    {"name": "admin", "subnet": "admin", "private_ip": "10.0.9.10", "security_groups": ["default", "open"]}]}]}
JSON
expect_ok "apply the AWS public-subnet example" vpcctl apply -f "$TMP/shop.json"

for p in 80 443 22 25; do serve_tcp shop/web1 $p; done
serve_tcp shop/app1 80
serve_tcp shop/app1 25
serve_udp shop/web1 53

# Inbound, from outside the subnet, port by port.
tcp_ok shop/app1 10.0.1.10 80
tcp_ok shop/app1 10.0.1.10 443
tcp_no shop/app1 10.0.1.10 22      # SSH only from the admin network
tcp_ok shop/admin 10.0.1.10 22
tcp_no shop/app1 10.0.1.10 25      # no rule below 1024: final deny
udp_no shop/app1 10.0.1.10 53
ping_no shop/app1 10.0.1.10        # no ICMP rule
# Inside the subnet nothing is filtered.
tcp_ok shop/web2 10.0.1.10 22
tcp_ok shop/web2 10.0.1.10 25
udp_ok shop/web2 10.0.1.10 53
ping_ok shop/web2 10.0.1.10
# Outbound: web1 may open HTTP (replies come back on ephemeral ports, rule 140)...
tcp_ok shop/web1 10.0.2.10 80
# ... but not SMTP (25), which no outbound rule allows.
tcp_no shop/web1 10.0.2.10 25

# A topology file that changes NACL entries and nothing else goes the short way
# (straight to the subnet sync, as `nacl load` does): inbound 443 becomes 25.
python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))
for r in t["vpcs"][0]["network_acls"][0]["inbound"]:
    if r["rule"] == 110:
        r["ports"] = "25"
json.dump(t, open(sys.argv[2], "w"))' "$TMP/shop.json" "$TMP/shop25.json"
short() { grep -c "NACL entries of shop alone" "$TMP/vpcd.log" || true; }
applied_short() { # FILE WHAT: `apply -f FILE` makes one subnet-sync, the short way
	local before out
	before=$(short)
	out=$(vpcctl apply -f "$1") && [[ $out == "made 1 kernel operation (1 subnet-sync)"* ]] &&
		[ "$(short)" = $((before + 1)) ] && ok "$2: $out, the short way" ||
		fail "$2: $out ($(short) short changes, $before before)"
}
applied_short "$TMP/shop25.json" "entries changed by a file"
tcp_ok shop/app1 10.0.1.10 25
tcp_no shop/app1 10.0.1.10 443
expect_ok "the first file again" vpcctl apply -f "$TMP/shop.json"
tcp_ok shop/app1 10.0.1.10 443
tcp_no shop/app1 10.0.1.10 25

# A file whose NACL holds many entries: vpcd reads such a list apart from the
# rest of the file (vpc/topo.h), straight into rules. The same file with 100
# more entries that match none of this traffic; then with 443 turned into 25;
# then with rule 95 denying port 80 from the apps subnet.
python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))
acl = t["vpcs"][0]["network_acls"][0]
acl["inbound"] += [{"rule": 1000 + i, "protocol": ["tcp", "udp"][i % 2], "ports": "%d" % (2000 + i),
                    "cidr": "198.18.0.%d/32" % i, "action": "deny"} for i in range(100)]
json.dump(t, open(sys.argv[2], "w"), indent=2)
for r in acl["inbound"]:
    if r["rule"] == 110:
        r["ports"] = "25"
json.dump(t, open(sys.argv[3], "w"), indent=2)
acl["inbound"].append({"rule": 95, "protocol": "tcp", "ports": "80", "cidr": "10.0.2.0/24",
                       "action": "deny"})
json.dump(t, open(sys.argv[4], "w"))' "$TMP/shop.json" "$TMP/big.json" "$TMP/big25.json" "$TMP/big80.json"
apart() { grep -c "1 NACL entries lists apart" "$TMP/vpcd.log" || true; }
before=$(apart)
expect_ok "a NACL of 104 inbound entries" vpcctl apply -f "$TMP/big.json"
[ "$(apart)" = $((before + 1)) ] && ok "its list was read apart" || fail "not read apart ($(apart), $before before)"
tcp_ok shop/app1 10.0.1.10 443
tcp_no shop/app1 10.0.1.10 25
[ "$(vpcctl nacl export shop public | grep -c '^inbound')" = 104 ] &&
	ok "the state holds the 104 entries" || fail "nacl export: $(vpcctl nacl export shop public | grep -c '^inbound') inbound entries"
applied_short "$TMP/big25.json" "one of 104 entries changed by a file"
tcp_ok shop/app1 10.0.1.10 25
tcp_no shop/app1 10.0.1.10 443
out=$(vpcctl apply -f "$TMP/big25.json")
[ "$out" = "no changes: the kernel already matches" ] && ok "the same file again: $out" ||
	fail "the same file again: $out"
out=$(vpcctl apply --dry-run -f "$TMP/big80.json")
[[ $out == "would make 1 kernel operation (1 subnet-sync)"* ]] && ok "dry run: $out" || fail "dry run: $out"
tcp_ok shop/app1 10.0.1.10 80
expect_ok "rule 95 denies port 80 from apps" vpcctl apply -f "$TMP/big80.json"
tcp_no shop/app1 10.0.1.10 80
tcp_ok shop/admin 10.0.1.10 80
tcp_ok shop/app1 10.0.1.10 25
# Standard input, a file or a pipe, reaches vpcd as a file too, and its list is
# read apart.
vpcctl nacl export shop public >"$TMP/apart.txt"
before=$(apart)
vpcctl apply -f - <"$TMP/big25.json" >"$TMP/out" 2>&1 && ok "a file as standard input" ||
	fail "a file as standard input: $(cat "$TMP/out")"
tcp_ok shop/app1 10.0.1.10 80
cat "$TMP/big80.json" | vpcctl apply -f - >"$TMP/out" 2>&1 && ok "a pipe as standard input" ||
	fail "a pipe as standard input: $(cat "$TMP/out")"
[ "$(apart)" = $((before + 2)) ] && ok "both were read apart" || fail "read apart: $(apart), $before before"
vpcctl nacl export shop public | diff -q - "$TMP/apart.txt" >/dev/null &&
	ok "through a pipe, the same entries as from the file" || fail "the entries differ through a pipe"
tcp_no shop/app1 10.0.1.10 80
# In a request (how vpcctl sends it to a vpcd without apply_file) jansson reads
# the document whole: the same entries.
vpcctl apply -f "$TMP/big25.json" >/dev/null
before=$(apart)
out=$({ printf '{"op":"apply","prune":false,"dry_run":false,"topology":'
	cat "$TMP/big80.json"
	printf '}\n'; } | socat -t 5 - UNIX-CONNECT:"$VPCD_SOCKET")
[[ $out == *'"changes":1'* ]] && [ "$(apart)" = "$before" ] && ok "the file in a request, read whole" ||
	fail "the file in a request: $out (lists read apart: $(apart), $before before)"
vpcctl nacl export shop public | diff -q - "$TMP/apart.txt" >/dev/null &&
	ok "read apart or whole, the same entries" || fail "the entries differ read whole"
tcp_no shop/app1 10.0.1.10 80
# A list read apart in one VPC, while the entries of another VPC change in the
# document: both reach the kernel. (lab's NACL "big" had no inbound entries,
# which its list read apart looks like in the document.)
topo lab <<'JSON'
{"vpcs": [{"name": "lab", "cidr": "10.50.0.0/16",
  "subnets": [{"name": "a", "cidr": "10.50.1.0/24", "network_acl": "big"},
              {"name": "b", "cidr": "10.50.2.0/24"}],
  "network_acls": [{"name": "big", "inbound": [],
    "outbound": [{"rule": 100, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"}]}],
  "instances": [{"name": "la", "subnet": "a", "private_ip": "10.50.1.10"},
                {"name": "lb", "subnet": "b", "private_ip": "10.50.2.10"}]}]}
JSON
expect_ok "a second VPC, its NACL with no inbound entries" vpcctl apply -f "$TMP/lab.json"
serve_tcp lab/la 80
tcp_no lab/lb 10.50.1.10 80
python3 -c '
import json, sys
shop, lab = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
acl = lab["vpcs"][0]["network_acls"][0]
acl["inbound"] = [{"rule": 1000 + i, "protocol": "udp", "ports": "%d" % (2000 + i),
                   "cidr": "198.18.0.%d/32" % i, "action": "deny"} for i in range(100)]
acl["inbound"].append({"rule": 100, "protocol": "tcp", "ports": "80", "cidr": "10.50.2.0/24",
                       "action": "allow"})
shop["vpcs"] = lab["vpcs"] + shop["vpcs"]  # the order of the state (lab applied last)
json.dump(shop, open(sys.argv[3], "w"))' "$TMP/shop25.json" "$TMP/lab.json" "$TMP/both.json"
expect_ok "shop 443 -> 25, and lab's NACL read apart, in one file" vpcctl apply -f "$TMP/both.json"
tcp_ok lab/lb 10.50.1.10 80
tcp_ok shop/app1 10.0.1.10 25
tcp_no shop/app1 10.0.1.10 443
expect_ok "destroy lab" vpcctl destroy lab
expect_ok "the first file again" vpcctl apply -f "$TMP/shop.json"
tcp_ok shop/app1 10.0.1.10 80
tcp_ok shop/app1 10.0.1.10 443
tcp_no shop/app1 10.0.1.10 25

# A NACL large enough for vpcd's helper thread (vpcd(8)): 4,004 inbound entries,
# a 0.5 MB file and a 0.2 MB text, each read in two halves and compiled in two.
# The entries that decide this traffic sit in both halves: rule 99 (first in the
# list) denies port 80 from apps, rule 4995 (last) allows port 25 from apps.
python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))
acl = t["vpcs"][0]["network_acls"][0]
acl["inbound"] = [{"rule": 99, "protocol": "tcp", "ports": "80", "cidr": "10.0.2.0/24",
                   "action": "deny"}] + acl["inbound"] + [
    {"rule": 500 + i, "protocol": ["tcp", "udp"][i % 2], "ports": "%d" % (2000 + i),
     "cidr": "198.18.%d.%d/32" % (i // 256, i % 256), "action": "deny"} for i in range(3998)] + [
    {"rule": 4995, "protocol": "tcp", "ports": "25", "cidr": "10.0.2.0/24", "action": "allow"}]
json.dump(t, open(sys.argv[2], "w"), indent=2)' "$TMP/shop.json" "$TMP/huge.json"
expect_ok "a NACL of 4,004 inbound entries ($(($(stat -c %s "$TMP/huge.json") / 1024)) KB)" \
	vpcctl apply -f "$TMP/huge.json"
tcp_no shop/app1 10.0.1.10 80  # rule 99
tcp_ok shop/admin 10.0.1.10 80 # rule 100
tcp_ok shop/app1 10.0.1.10 443 # rule 110
tcp_ok shop/app1 10.0.1.10 25  # rule 4995
tcp_no shop/admin 10.0.1.10 25 # the final deny
vpcctl nacl export shop public >"$TMP/huge.txt"
[ "$(grep -c '^inbound' "$TMP/huge.txt")" = 4004 ] && ok "the state holds the 4,004 entries" ||
	fail "nacl export: $(grep -c '^inbound' "$TMP/huge.txt") inbound entries"
# The same NACL as text, rule 4995 now a deny and rule 99 gone, by `nacl load`.
grep -v '^inbound	99	' "$TMP/huge.txt" | sed 's/^\(inbound	4995	.*\)allow$/\1deny/' >"$TMP/huge2.txt"
expect_ok "the text of 4,003 entries ($(($(stat -c %s "$TMP/huge2.txt") / 1024)) KB) loaded" \
	vpcctl nacl load shop public -f "$TMP/huge2.txt"
tcp_ok shop/app1 10.0.1.10 80
tcp_no shop/app1 10.0.1.10 25
vpcctl nacl export shop public | grep -v '^#' >"$TMP/huge2.back"
grep -v '^#' "$TMP/huge2.txt" | diff -q - "$TMP/huge2.back" >/dev/null &&
	ok "exported again, the entries loaded" || fail "the entries differ after nacl load"
# Rule numbers both halves have, and a fault in the second half: refused as
# without the helper, naming the line.
{ cat "$TMP/huge2.txt"; echo "inbound 100 tcp 8080 0.0.0.0/0 allow"; } >"$TMP/dup.txt"
n=$(wc -l <"$TMP/dup.txt")
out=$(vpcctl nacl load shop public -f "$TMP/dup.txt" 2>&1) && fail "a rule number twice was loaded" ||
	{ [[ $out == *"line $n.rule: rule number 100 appears twice in inbound"* ]] &&
		ok "a rule number twice, far apart: $out" || fail "a rule number twice: $out"; }
sed 's/^\(inbound	4000	.*\)deny$/\1dney/' "$TMP/huge2.txt" >"$TMP/bad2.txt"
n=$(grep -n '^inbound	4000	' "$TMP/bad2.txt" | cut -d: -f1)
out=$(vpcctl nacl load shop public -f "$TMP/bad2.txt" 2>&1) && fail "a bad action was loaded" ||
	{ [[ $out == *"line $n.action"* ]] && ok "a fault late in the text: $out" ||
		fail "a fault late in the text: $out"; }
tcp_ok shop/app1 10.0.1.10 80 # nothing changed
expect_ok "the first file again" vpcctl apply -f "$TMP/shop.json"
tcp_ok shop/app1 10.0.1.10 80
tcp_no shop/app1 10.0.1.10 25

# Counters: the final deny counted the SSH attempts from app1.
deny=$(vpcctl nacl show shop public -o json | python3 -c '
import json, sys
n = json.load(sys.stdin)
print(n["inbound"][-1]["packets"])')
[ "$deny" -gt 0 ] && ok "inbound final deny counted $deny packets" || fail "deny counter $deny"
ssh_allow=$(vpcctl nacl show shop public -o json | python3 -c '
import json, sys
print([r for r in json.load(sys.stdin)["inbound"] if r["rule"] == 120][0]["packets"])')
[ "$ssh_allow" -gt 0 ] && ok "rule 120 counted $ssh_allow packets" || fail "rule 120 counter $ssh_allow"

# The hook: a classic tc clsact filter by default; restarted with --hook tcx, vpcd
# moves every port's programs to tcx at the next reconcile, and the NACL decides
# as before (the final deny keeps counting); then back.
port=$(ip -n "$NSP.shop" -br link | awk '$1 ~ /^vpc-i/ {sub(/@.*/, "", $1); print $1; exit}')
tc_filters() { ip netns exec "$NSP.shop" tc filter show dev "$port" ingress | grep -c port_in || true; }
[ "$(tc_filters)" = 1 ] && ok "$port: the program sits in a tc clsact filter" || fail "$port: no tc filter"
stop_vpcd
start_vpcd --hook tcx
expect_ok "reconcile with --hook tcx" vpcctl reconcile
[ "$(tc_filters)" = 0 ] && ok "$port: the tc filter is gone" || fail "$port: tc filter still there"
tcp_ok shop/app1 10.0.1.10 80
tcp_no shop/app1 10.0.1.10 22
deny2=$(vpcctl nacl show shop public -o json | python3 -c '
import json, sys
print(json.load(sys.stdin)["inbound"][-1]["packets"])')
[ "$deny2" -gt "$deny" ] && ok "at tcx, the final deny counts on ($deny -> $deny2)" || fail "deny counter $deny -> $deny2"
stop_vpcd
start_vpcd
expect_ok "reconcile with the default hook" vpcctl reconcile
[ "$(tc_filters)" = 1 ] && ok "$port: back in a tc filter" || fail "$port: not back in tc"
# A program taken off by hand is drift: reconcile puts it back and says so.
ip netns exec "$NSP.shop" tc filter del dev "$port" ingress
[ "$(tc_filters)" = 0 ] || fail "could not take the filter off $port"
out=$(vpcctl reconcile -o json)
n=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["counts"].get("nacl-program-attach", 0))' "$out")
[ "$n" = 1 ] && [ "$(tc_filters)" = 1 ] && ok "reconcile re-attached the program taken off $port (1 repair)" \
	|| fail "reconcile after the filter went: $out; filters $(tc_filters)"
tcp_ok shop/app1 10.0.1.10 80
tcp_no shop/app1 10.0.1.10 22

# Statelessness: without the outbound ephemeral rule the SYN gets in but the
# SYN-ACK cannot leave, so the connection fails although inbound 80 is allowed.
expect_ok "remove outbound rule 120" vpcctl nacl entry remove shop public --outbound --rule 120
before=$(vpcctl nacl show shop public -o json | python3 -c '
import json, sys
print([r for r in json.load(sys.stdin)["inbound"] if r["rule"] == 100][0]["packets"])')
tcp_no shop/app1 10.0.1.10 80
after=$(vpcctl nacl show shop public -o json | python3 -c '
import json, sys
print([r for r in json.load(sys.stdin)["inbound"] if r["rule"] == 100][0]["packets"])')
[ "$after" -gt "$before" ] && ok "the SYN was allowed in (rule 100: $before -> $after)" \
	|| fail "rule 100 did not count the SYN"
expect_ok "put the ephemeral rule back" vpcctl nacl entry add shop public --outbound --rule 120 \
	--protocol tcp --ports 1024-65535 --cidr 0.0.0.0/0 --action allow
tcp_ok shop/app1 10.0.1.10 80

# A deny added during a running transfer stops it (no connection tracking).
bg vpcctl exec shop/web1 -- socat -u TCP-LISTEN:8443,reuseaddr OPEN:"$TMP/recv",creat,append
wait_listen shop/web1 8443 tcp
bg vpcctl exec shop/app1 -- sh -c 'i=0; while i=$((i+1)); do echo "line $i"; sleep 0.05; done | socat -u - TCP:10.0.1.10:8443'
sleep 1
s1=$(stat -c %s "$TMP/recv")
[ "$s1" -gt 0 ] && ok "transfer running ($s1 bytes)" || fail "transfer did not start"
expect_ok "deny 8443 from apps during the transfer" vpcctl nacl entry add shop public --inbound \
	--rule 90 --protocol tcp --ports 8443 --cidr 10.0.2.0/24 --action deny
sleep 0.5
s2=$(stat -c %s "$TMP/recv")
sleep 1.5
s3=$(stat -c %s "$TMP/recv")
[ "$s3" -eq "$s2" ] && ok "transfer stopped by the deny ($s2 -> $s3 bytes)" \
	|| fail "transfer went on: $s2 -> $s3 bytes"
expect_ok "remove the deny" vpcctl nacl entry remove shop public --inbound --rule 90
# The inbound rules changed twice; rule 120's count went along with them.
ssh_now=$(vpcctl nacl show shop public -o json | python3 -c '
import json, sys
print([r for r in json.load(sys.stdin)["inbound"] if r["rule"] == 120][0]["packets"])')
[ "$ssh_now" -ge "$ssh_allow" ] && ok "rule 120 kept its count over changes ($ssh_allow -> $ssh_now)" \
	|| fail "rule 120 count reset by a change: $ssh_allow -> $ssh_now"

# A one-entry change is a patch on a full table (one map update, however many
# rules); after a quiet second vpcd rebuilds patches as full tables, which must
# judge exactly as the patches did.
patches() {
	bpftool map dump pinned "$PINS/shop/tables" -j | python3 -c '
import json, sys
t = [e.get("formatted", e) for e in json.load(sys.stdin)]
print(sum(1 for e in t if e["value"]["base"] != e["key"]))'
}
expect_ok "allow SMTP from apps" vpcctl nacl entry add shop public --inbound --rule 95 \
	--protocol tcp --ports 25 --cidr 10.0.2.0/24 --action allow
[ "$(patches)" -gt 0 ] && ok "the change is a patch" || fail "no patch after a one-entry change"
tcp_ok shop/app1 10.0.1.10 25
sleep 1.5
[ "$(patches)" -eq 0 ] && ok "patches rebuilt as full tables when idle" \
	|| fail "patches left after an idle second: $(patches)"
tcp_ok shop/app1 10.0.1.10 25
tcp_no shop/app1 10.0.1.10 22
expect_ok "remove the SMTP rule" vpcctl nacl entry remove shop public --inbound --rule 95
tcp_no shop/app1 10.0.1.10 25

# Re-association switches behaviour at once.
tcp_ok shop/web1 10.0.2.10 80
expect_ok "associate apps with the closed NACL" vpcctl nacl associate shop apps closed
tcp_no shop/web1 10.0.2.10 80
ping_no shop/admin 10.0.2.10
expect_ok "associate apps with the default NACL" vpcctl nacl associate shop apps default
tcp_ok shop/web1 10.0.2.10 80
ping_ok shop/admin 10.0.2.10
expect_fail "associating an unknown NACL is refused" vpcctl nacl associate shop apps nope

# The default NACL (apps and admin use it) is edited like any other, but stays.
expect_ok "deny ICMP in the default NACL" vpcctl nacl entry add shop default --inbound --rule 50 \
	--protocol icmp --cidr 0.0.0.0/0 --action deny
ping_no shop/admin 10.0.2.10
tcp_ok shop/web1 10.0.2.10 80
expect_ok "remove it" vpcctl nacl entry remove shop default --inbound --rule 50
ping_ok shop/admin 10.0.2.10
expect_fail "the default NACL cannot be deleted" vpcctl nacl delete shop default

# A whole NACL in one step: `nacl load` reads entries as text, the form
# `nacl export` prints. HTTP out and SMTP in, then the exported NACL back.
vpcctl nacl export shop public >"$TMP/public.txt" || fail "nacl export failed"
[ "$(grep -c '^inbound' "$TMP/public.txt")" = 4 ] && [ "$(grep -c '^outbound' "$TMP/public.txt")" = 3 ] &&
	ok "export wrote 4 inbound and 3 outbound entries" || fail "export: $(cat "$TMP/public.txt")"
cat >"$TMP/swap.txt" <<'EOF'
# direction rule protocol ports|icmp cidr action
inbound  100 tcp 80         0.0.0.0/0   deny
inbound  105 tcp 25         10.0.2.0/24 allow   # SMTP from apps
inbound  110 tcp 443        0.0.0.0/0   allow
inbound  120 tcp 22         10.0.9.0/24 allow
inbound  140 tcp 1024-65535 0.0.0.0/0   allow
outbound 120 tcp 1024-65535 0.0.0.0/0   allow
EOF
out=$(vpcctl nacl load shop public -f "$TMP/swap.txt" --dry-run) && [[ $out == "would make 1 kernel operation"* ]] &&
	ok "load --dry-run: $out" || fail "load --dry-run: $out"
tcp_ok shop/app1 10.0.1.10 80 # a dry run changes nothing
tcp_no shop/app1 10.0.1.10 25
vpcctl nacl export shop public | diff -q - "$TMP/public.txt" >/dev/null &&
	ok "after the dry run the NACL is as it was" || fail "the dry run changed the NACL"
expect_ok "load a whole NACL: HTTP out, SMTP in" vpcctl nacl load shop public -f "$TMP/swap.txt"
tcp_no shop/app1 10.0.1.10 80
tcp_ok shop/app1 10.0.1.10 25
tcp_ok shop/app1 10.0.1.10 443
tcp_no shop/app1 10.0.1.10 22
tcp_no shop/web1 10.0.2.10 80 # no outbound 80 any more
# One bad line refuses the whole file, names the line and changes nothing: a
# regular file goes to vpcd open (attached to the request), anything else as
# text after it; both ways.
printf '\ninbound 100 tcp 80 0.0.0.0/0 allow\ninbound 110 tcp 80-70 0.0.0.0/0 allow\n' >"$TMP/bad.txt"
for how in file pipe; do
	if [ $how = file ]; then
		out=$(vpcctl nacl load shop public -f "$TMP/bad.txt" 2>&1)
	else
		out=$(cat "$TMP/bad.txt" | vpcctl nacl load shop public -f - 2>&1)
	fi && fail "a file with a bad line was loaded ($how)" || case "$out" in
	*"line 3.ports"*) ok "bad line refused ($how): $out" ;;
	*) fail "bad line ($how): $out" ;;
	esac
done
# The file comes open with a request of its own (nacl_load_file); vpcd refuses
# one without a file, or with text after it.
for req in '{"op":"nacl_load_file","vpc":"shop","nacl":"public"}' \
	'{"op":"nacl_load_file","vpc":"shop","nacl":"public"}
inbound 100 tcp 80 0.0.0.0/0 allow'; do
	out=$(printf '%s\n' "$req" | socat -t 5 - UNIX-CONNECT:"$VPCD_SOCKET")
	case "$out" in
	*'"path":"file"'*"no regular file came with the request"* | \
		*"nacl_load_file takes its entries from the file"*) ok "vpcd refuses: $out" ;;
	*) fail "nacl_load_file without a file, or with text too: $out" ;;
	esac
done
head -c 9000000 /dev/zero >"$TMP/big.txt"
out=$(vpcctl nacl load shop public -f "$TMP/big.txt" 2>&1) && fail "a 9 MB file was loaded" ||
	case "$out" in
	*"file: over 8 MB"*) ok "a file over 8 MB is refused: $out" ;;
	*) fail "a 9 MB file: $out" ;;
	esac
rm -f "$TMP/big.txt"
tcp_no shop/app1 10.0.1.10 80
tcp_ok shop/app1 10.0.1.10 25
cat "$TMP/public.txt" | vpcctl nacl load shop public -f - >/dev/null &&
	ok "load the exported NACL back, from a pipe" || fail "loading from a pipe failed"
vpcctl nacl export shop public | diff -q - "$TMP/public.txt" >/dev/null &&
	ok "export, load, export: the same entries" || fail "the NACL changed over export and load"
tcp_ok shop/app1 10.0.1.10 80
tcp_no shop/app1 10.0.1.10 25
tcp_ok shop/web1 10.0.2.10 80

# Source/destination check: a spoofed source address is dropped at the port, and
# passes once the check is off (the receiver logs who it heard from; its group
# admits the whole VPC, so the group is not what decides here).
bg vpcctl exec shop/admin -- socat -u UDP-RECVFROM:7000,reuseaddr,fork SYSTEM:'echo $SOCAT_PEERADDR >>'"$TMP/peers"
wait_listen shop/admin 7000 udp
vpcctl exec shop/app1 -- ip addr add 10.0.2.99/24 dev eth0
# Each round sends the spoofed datagram, then a genuine one as a marker, and waits
# for the marker (the receiver forks per datagram, slow on a busy machine); the
# spoofed one, sent first, has had its chance by then, and a bit more. Up to three
# rounds, until the spoofed one arrives: a datagram lost on a busy machine does not
# decide the check either way (a dropped one stays out of all three).
send_spoofed() {
	: >"$TMP/peers"
	for _ in 1 2 3; do
		echo x | vpcctl exec shop/app1 -- socat -u - UDP-SENDTO:10.0.9.10:7000,bind=10.0.2.99 2>/dev/null
		echo x | vpcctl exec shop/app1 -- socat -u - UDP-SENDTO:10.0.9.10:7000,bind=10.0.2.10 2>/dev/null
		for _ in $(seq 100); do
			grep -q '^10.0.2.10$' "$TMP/peers" && break
			sleep 0.1
		done
		sleep 0.5
		if grep -q '^10.0.2.99$' "$TMP/peers"; then
			break
		fi
	done
}
send_spoofed
grep -q '^10.0.2.10$' "$TMP/peers" && ok "genuine source delivered" || fail "genuine packet lost"
grep -q '^10.0.2.99$' "$TMP/peers" && fail "spoofed source delivered with the check on" \
	|| ok "spoofed source dropped"
expect_ok "turn the check off" vpcctl instance set shop app1 --source-dest-check off
send_spoofed
grep -q '^10.0.2.99$' "$TMP/peers" && ok "spoofed source passes with the check off" \
	|| fail "spoofed packet lost with the check off"
expect_ok "turn the check on" vpcctl instance set shop app1 --source-dest-check on
send_spoofed
grep -q '^10.0.2.10$' "$TMP/peers" || fail "genuine packet lost"
grep -q '^10.0.2.99$' "$TMP/peers" && fail "spoofed source delivered again" || ok "check on again"
# A spoofed MAC is dropped too.
vpcctl exec shop/app1 -- ip link set eth0 address 0a:58:de:ad:be:ef
ping_no shop/app1 10.0.9.10
expect_ok "turn the check off" vpcctl instance set shop app1 --source-dest-check off
ping_ok shop/app1 10.0.9.10

# Pins made for another version of the program (the seq map's second word says
# which) are not used (last here: the counters start again from zero): a restarted vpcd loads the program afresh, rebuilds the
# tables and moves the ports over, and the NACL judges as before.
abi() { bpftool map lookup pinned "$PINS/shop/seq" key 1 0 0 0 -j | python3 -c '
import json, sys
e = json.load(sys.stdin)
v = e.get("formatted", e)["value"]
print(v if isinstance(v, int) else int.from_bytes(bytes(int(b, 16) for b in v), "little"))'; }
good_abi=$(abi)
prog_before=$(bpftool prog show pinned "$PINS/shop/port_in" -j | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
liberal() { ip netns exec "$NSP.shop" cat /proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal; }
stop_vpcd
bpftool map update pinned "$PINS/shop/seq" key 1 0 0 0 value 0xee 0 0 0
[ "$(abi)" = 238 ] || fail "could not mark the pins as another version"
# A router made by a vpcd before the shortcut lacks the conntrack setting it needs;
# the reconcile at start re-asserts the router's settings.
ip netns exec "$NSP.shop" sh -c 'echo 0 >/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal'
start_vpcd
[ "$(abi)" = "$good_abi" ] && ok "pins of another version were replaced (version $good_abi)" \
	|| fail "seq map says version $(abi) after the restart, want $good_abi"
[ "$(liberal)" = 1 ] && ok "the router got the shortcut's conntrack setting back" \
	|| fail "nf_conntrack_tcp_be_liberal is $(liberal) after the restart"
prog_after=$(bpftool prog show pinned "$PINS/shop/port_in" -j | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
attached=$(ip netns exec "$NSP.shop" tc filter show dev "$port" ingress | grep -o 'id [0-9]*' | head -1)
[ "$prog_after" != "$prog_before" ] && [ "$attached" = "id $prog_after" ] &&
	ok "$port runs the new program ($prog_before -> $prog_after)" ||
	fail "program $prog_before -> $prog_after, $port runs '$attached'"
tcp_ok shop/app1 10.0.1.10 80
tcp_no shop/app1 10.0.1.10 22
