#!/bin/bash
# Security groups with real traffic: the default group, statefulness, "egress": [],
# group references that follow membership, unions, rule removal that spares
# tracked flows (TCP, and one-way UDP), the shortcut for tracked flows, the table
# existing before the first packet, and a NACL overriding a group.
. "$(dirname "$0")/lib.sh"
start_vpcd

# The table exists as soon as the VPC does, before any instance.
expect_ok "create an empty VPC" vpcctl vpc create shop --cidr 10.0.0.0/16
out=$(ip netns exec "$NSP.shop" nft list chain ip vpcd forward)
[[ $out == *"ct state established,related accept"* ]] && ok "security-group table ready before any instance" \
	|| fail "no table in the new VPC: $out"

topo shop <<'JSON'
{"vpcs": [{"name": "shop", "cidr": "10.0.0.0/16",
  "subnets": [{"name": "a", "cidr": "10.0.1.0/24"}, {"name": "b", "cidr": "10.0.2.0/24"}],
  "security_groups": [
    {"name": "web", "ingress": [{"protocol": "tcp", "ports": "80", "cidr": "0.0.0.0/0"},
                                {"protocol": "tcp", "ports": "22", "source_group": "bastion"},
                                {"protocol": "tcp", "ports": "2200-2299", "source_group": "bastion"},
                                {"protocol": "icmp", "icmp_type": 8, "source_group": "bastion"}]},
    {"name": "bastion", "ingress": [{"protocol": "tcp", "ports": "22", "cidr": "0.0.0.0/0"}]},
    {"name": "db", "ingress": [{"protocol": "tcp", "ports": "5432", "source_group": "web"}],
     "egress": []},
    {"name": "icmp", "ingress": [{"protocol": "icmp", "icmp_type": 8, "cidr": "10.0.0.0/16"}]}],
  "instances": [
    {"name": "web1", "subnet": "a", "security_groups": ["web"], "private_ip": "10.0.1.10"},
    {"name": "bast", "subnet": "a", "security_groups": ["bastion"], "private_ip": "10.0.1.20"},
    {"name": "db1",  "subnet": "b", "security_groups": ["db"], "private_ip": "10.0.2.10"},
    {"name": "app1", "subnet": "b", "private_ip": "10.0.2.20"},
    {"name": "app2", "subnet": "a", "private_ip": "10.0.1.30"},
    {"name": "both", "subnet": "b", "security_groups": ["bastion", "icmp"], "private_ip": "10.0.2.30"}]}]}
JSON
expect_ok "apply groups" vpcctl apply -f "$TMP/shop.json"

serve_tcp shop/web1 80
serve_tcp shop/web1 22
serve_tcp shop/web1 8080
serve_tcp shop/web1 2250
serve_tcp shop/web1 2300
serve_tcp shop/db1 5432
serve_tcp shop/app1 7
serve_tcp shop/both 22
serve_tcp shop/both 80

# The default group: members reach each other (any protocol), others do not.
ping_ok shop/app2 10.0.2.20
tcp_ok shop/app2 10.0.2.20 7
tcp_no shop/bast 10.0.2.20 7
ping_no shop/bast 10.0.2.20

# Inbound rules, and statefulness: web1 answers on 80 although its group has no
# rule for the reply; 8080 has no rule.
tcp_ok shop/app1 10.0.1.10 80
tcp_no shop/app1 10.0.1.10 8080
# A group reference: 22 on web1 only from members of bastion. Three rules name
# bastion: they are one member-set lookup and a set of (protocol, port) and one
# of ICMP types, instead of a rule each.
tcp_ok shop/bast 10.0.1.10 22
tcp_no shop/app1 10.0.1.10 22
tcp_ok shop/bast 10.0.1.10 2250
tcp_no shop/app1 10.0.1.10 2250
tcp_no shop/bast 10.0.1.10 2300
ping_ok shop/bast 10.0.1.10
ping_no shop/app1 10.0.1.10
out=$(ip netns exec "$NSP.shop" nft list ruleset)
grep -q 'ip saddr @m_[0-9]*_bastion_[0-9a-f]* ip saddr \. meta l4proto \. th dport @' <<<"$out" &&
	ok "the rules naming bastion are set lookups" || fail "no set lookup after the bastion member set"

# "egress": [] : db1 opens nothing, yet answers what its ingress allows.
tcp_no shop/db1 10.0.2.20 7
tcp_ok shop/web1 10.0.2.10 5432   # from a member of web
tcp_no shop/app1 10.0.2.10 5432   # not a member

# Membership changes move access: app1 joins web, gets 5432; leaves, loses it.
expect_ok "app1 joins web" vpcctl instance groups shop app1 default,web
tcp_ok shop/app1 10.0.2.10 5432
expect_ok "app1 leaves web" vpcctl instance groups shop app1 default
tcp_no shop/app1 10.0.2.10 5432

# A union: "both" is in bastion (22 from anywhere) and icmp (echo from the VPC).
tcp_ok shop/app1 10.0.2.30 22
ping_ok shop/app1 10.0.2.30
tcp_no shop/app1 10.0.2.30 80     # neither group allows 80
vpcctl show shop -o json | python3 -c '
import json, sys
v = json.load(sys.stdin)["vpcs"][0]
b = [i for i in v["instances"] if i["name"] == "both"][0]
groups = sorted({r["group"] for r in b["effective_rules"]["ingress"]})
assert groups == ["bastion", "icmp"], groups' && ok "show lists both groups' rules as effective" \
	|| fail "effective rules"

# Removing the rule that admitted a running transfer does not stop it; a new
# connection is refused.
bg vpcctl exec shop/web1 -- socat -u TCP-LISTEN:81,reuseaddr OPEN:"$TMP/recv",creat,append
wait_listen shop/web1 81 tcp
expect_ok "allow 81 from app1" vpcctl sg rule add shop web --ingress --protocol tcp --ports 81 --cidr 10.0.2.20/32
bg vpcctl exec shop/app1 -- sh -c 'i=0; while i=$((i+1)); do echo "line $i"; sleep 0.05; done | socat -u - TCP:10.0.1.10:81'
sleep 1
expect_ok "remove the rule" vpcctl sg rule remove shop web --ingress --protocol tcp --ports 81 --cidr 10.0.2.20/32
s1=$(stat -c %s "$TMP/recv")
sleep 1.5
s2=$(stat -c %s "$TMP/recv")
[ "$s2" -gt "$s1" ] && ok "the established transfer goes on ($s1 -> $s2 bytes)" \
	|| fail "the transfer stopped: $s1 -> $s2"
out=$(vpcctl exec shop/app1 -- socat -T 1 - TCP:10.0.1.10:81,connect-timeout=1 </dev/null 2>&1 || true)
[[ $out == *"timed out"* ]] && ok "a new connection to 81 is refused" || fail "new connection: $out"

# A flow is tracked from its first accepted packet, answered or not (as in a
# VPC): a one-way UDP stream admitted by a rule goes on after the rule is removed,
# while a datagram of a new flow (another source port) is refused.
bg vpcctl exec shop/web1 -- socat -u UDP-RECV:83,reuseaddr OPEN:"$TMP/udp83",creat,append
wait_listen shop/web1 83 udp
expect_ok "allow udp 83 from app1" vpcctl sg rule add shop web --ingress --protocol udp --ports 83 --cidr 10.0.2.20/32
bg vpcctl exec shop/app1 -- sh -c 'i=0; while i=$((i+1)); do echo "dgram $i"; sleep 0.05; done | socat -u - UDP:10.0.1.10:83,sourceport=4083'
for _ in $(seq 40); do [ -s "$TMP/udp83" ] && break; sleep 0.05; done
expect_ok "remove the udp rule" vpcctl sg rule remove shop web --ingress --protocol udp --ports 83 --cidr 10.0.2.20/32
s1=$(wc -l <"$TMP/udp83")
sleep 1
s2=$(wc -l <"$TMP/udp83")
[ "$s2" -gt $((s1 + 5)) ] && ok "the tracked one-way UDP flow goes on ($s1 -> $s2 datagrams)" \
	|| fail "the tracked UDP flow stopped: $s1 -> $s2"
echo "new-flow" | vpcctl exec shop/app1 -- socat -u - UDP:10.0.1.10:83,sourceport=4084
sleep 0.5
grep new-flow "$TMP/udp83" >/dev/null && fail "a new UDP flow got through without a rule" \
	|| ok "a new UDP flow to 83 is refused"

# The NACL program forwards the packets of tracked flows between ports itself: the
# router's IP stack (ForwDatagrams) sees a 20 MB TCP transfer's handshake and
# close, not its segments, and the transfer ends complete and closed through
# conntrack (no segment of its end judged by a window conntrack did not follow).
expect_ok "allow 84 from app1" vpcctl sg rule add shop web --ingress --protocol tcp --ports 84 --cidr 10.0.2.20/32
head -c 20000000 /dev/urandom >"$TMP/src84"
f1=$(forwarded "$NSP.shop")
send_file shop/app1 shop/web1 10.0.1.10 84 "$TMP/src84" &&
	ok "a 20 MB transfer through the shortcut arrives whole and closes" ||
	fail "the 20 MB transfer: $(stat -c %s "$TMP/got.84") bytes arrived, or the close did not"
f2=$(forwarded "$NSP.shop")
[ $((f2 - f1)) -lt 200 ] && ok "the router's stack forwarded $((f2 - f1)) of its packets (the rest: the shortcut)" \
	|| fail "the router's stack forwarded $((f2 - f1)) packets of the transfer"
ping_ok shop/app1 10.0.2.30

# A NACL still decides at the subnet edge: the group allows SSH to "both" from
# anywhere; a NACL on subnet b denying 22 blocks it, AWS's own example.
expect_ok "NACL denying SSH into subnet b" vpcctl nacl create shop nossh
expect_ok "deny 22" vpcctl nacl entry add shop nossh --inbound --rule 100 --protocol tcp --ports 22 \
	--cidr 0.0.0.0/0 --action deny
expect_ok "allow the rest in" vpcctl nacl entry add shop nossh --inbound --rule 200 --protocol all \
	--cidr 0.0.0.0/0 --action allow
expect_ok "allow all out" vpcctl nacl entry add shop nossh --outbound --rule 100 --protocol all \
	--cidr 0.0.0.0/0 --action allow
expect_ok "associate" vpcctl nacl associate shop b nossh
tcp_no shop/bast 10.0.2.30 22
ping_ok shop/bast 10.0.2.30       # the NACL lets the rest through; the group allows echo
expect_ok "back to the default NACL" vpcctl nacl associate shop b default
tcp_ok shop/bast 10.0.2.30 22

# An idempotent apply changes nothing in the table.
expect_ok "apply again" vpcctl apply -f "$TMP/shop.json"
n=$(vpcctl apply -f "$TMP/shop.json" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["changes"])')
[ "$n" = 0 ] && ok "re-applying changes nothing" || fail "re-apply made $n changes"

# Drift inside the table, not only of its objects' names: rules flushed by hand
# open everything (8080 has no rule) until `vpcctl reconcile` puts them back.
ip netns exec "$NSP.shop" nft flush chain ip vpcd forward
tcp_ok shop/app1 10.0.1.10 8080
web_in=$(ip netns exec "$NSP.shop" nft list map ip vpcd in_dispatch | grep -o 'i_[0-9a-f]*' | head -1)
expect_ok "reconcile repairs the base chain" vpcctl reconcile
tcp_no shop/app1 10.0.1.10 8080
tcp_ok shop/app1 10.0.1.10 80
ip netns exec "$NSP.shop" nft flush chain ip vpcd "$web_in"
n=$(vpcctl reconcile -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["changes"])')
[ "$n" -ge 1 ] && ok "a flushed instance chain is drift ($n repair)" || fail "flushed chain not seen"
tcp_ok shop/app1 10.0.1.10 80
tcp_no shop/app1 10.0.1.10 8080

# A large group: 300 rules naming 150 groups, two each, are 300 nftables rules
# (a group named by fewer than three rules gets a rule per reference), so reading
# the table back takes more than one 32 KB message. Every change after it (each
# one reads the kernel first) must still work, and the rules must still decide.
python3 - "$TMP/shop.json" "$TMP/big.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
v = d["vpcs"][0]
v["security_groups"] += [{"name": "r%d" % g} for g in range(149)]
v["security_groups"].append({"name": "many", "ingress": [
    {"protocol": "tcp", "ports": str(20000 + i),
     "source_group": "bastion" if i >= 298 else "r%d" % (i // 2)} for i in range(300)]})
for i in v["instances"]:
    if i["name"] == "app1":
        i["security_groups"] = ["default", "many"]
json.dump(d, open(sys.argv[2], "w"))
PY
expect_ok "apply a group of 300 group-naming rules" vpcctl apply -f "$TMP/big.json"
serve_tcp shop/app1 20299
tcp_ok shop/bast 10.0.2.20 20299
tcp_no shop/web1 10.0.2.20 20299
expect_ok "a change after it" vpcctl sg rule remove shop many --ingress --protocol tcp --ports 20299 \
	--group bastion
tcp_no shop/bast 10.0.2.20 20299
expect_ok "reconcile after it" vpcctl reconcile
expect_ok "back to the first file" vpcctl apply -f "$TMP/shop.json"
tcp_ok shop/app1 10.0.1.10 80
