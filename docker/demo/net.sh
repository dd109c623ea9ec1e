# docker/demo/net.sh - the network: one namespace per node on the bridge hr-br0 (MODE netns), and
# the one iptables rule that keeps a Docker engine from cutting it.
# Sourced by docker/demo.sh (bash, set -euo pipefail), which sets the layout variables first.

# ---- network ---------------------------------------------------------------------------------

# A Docker engine on the same host sets the iptables FORWARD policy to DROP (and loads
# br_netfilter, so bridged frames go through FORWARD too): the nodes on hr-br0 would lose each
# other (replication, agents). The demo allows its own bridge's traffic with one rule of its
# own, tagged with a comment, inserted at `up` and removed at `stop`; nothing else is touched.
FW_RULE=(FORWARD -i $BRIDGE -o $BRIDGE -m comment --comment haprole-demo-$BRIDGE -j ACCEPT)
fw_allow() {
	command -v iptables >/dev/null 2>&1 || return 0
	iptables -w 5 -C "${FW_RULE[@]}" 2>/dev/null || iptables -w 5 -I "${FW_RULE[@]}" ||
		say "warning: could not add the iptables rule for $BRIDGE (a Docker engine would cut the demo)"
}
fw_remove() {
	command -v iptables >/dev/null 2>&1 || return 0
	local i
	for ((i = 0; i < 10; i++)); do # our rule only, however many times it was added
		iptables -w 5 -C "${FW_RULE[@]}" 2>/dev/null || break
		iptables -w 5 -D "${FW_RULE[@]}" 2>/dev/null || break
	done
}

net_up() {
	[ "$MODE" = netns ] || return 0
	fw_allow
	ip link show $BRIDGE >/dev/null 2>&1 || {
		ip link add $BRIDGE type bridge
		ip addr add $BR_ADDR/24 dev $BRIDGE
	}
	ip link set $BRIDGE up
	local n
	for n in $ALL_NODES; do
		ip netns list | grep -qw "hr-$n" || ip netns add "hr-$n"
		if ! ip link show "hr-$n-h" >/dev/null 2>&1; then
			ip link add "hr-$n-h" type veth peer name eth0 netns "hr-$n"
			ip link set "hr-$n-h" master $BRIDGE up
			ip -n "hr-$n" addr add "${ADDR[$n]}/24" dev eth0
		fi
		ip -n "hr-$n" link set lo up
		ip -n "hr-$n" link set eth0 up
		ip -n "hr-$n" route replace default via $BR_ADDR
	done
}

net_down() {
	local n p
	for n in $ALL_NODES; do
		if ip netns list | grep -qw "hr-$n"; then
			# Anything still inside one of OUR namespaces was started by this demo.
			for p in $(ip netns pids "hr-$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null || :; done
			ip netns del "hr-$n" 2>/dev/null || :
		fi
		ip link del "hr-$n-h" 2>/dev/null || :
	done
	ip link del $BRIDGE 2>/dev/null || :
	fw_remove
}
