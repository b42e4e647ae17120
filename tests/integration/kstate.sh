# Helpers shared by the tests that compare kernel state before and after something:
# sourced after lib.sh.

# Our namespaces, sorted, one per line.
our_ns() { ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NSP\\." | sort || true; }

# Everything a test can see of our part of the kernel: every namespace with its
# inode (a rebuilt namespace gets a new one), its links (ifindex, name, MAC), its
# addresses and its routes in every table. The name `ip` prints for a link's peer
# namespace is left out: `ip` finds it by asking every namespace in /run/netns, and
# other users' namespaces coming and going make that answer vary (the peer's ifindex
# stays in the output).
kernel_snapshot() {
	local ns
	for ns in $(our_ns); do
		echo "== $ns inode $(ns_inode "$ns")"
		ip -n "$ns" -o link 2>/dev/null | sed -E 's/ link-netns(id)? [^ ]+//'
		ip -n "$ns" -o addr
		ip -n "$ns" route show table all
	done
}

# Runs a command inside a namespace without asking vpcd (which may be down).
in_ns() { # NAMESPACE CMD...
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}

# The state file's checksum (empty when there is none yet).
state_sum() { sha256sum "$TMP/state/state.json" 2>/dev/null | cut -d' ' -f1; }

# A JSON field of stdin: json_get 'd["changes"]'.
json_get() { python3 -c 'import json, sys; d = json.load(sys.stdin); print('"$1"')'; }
