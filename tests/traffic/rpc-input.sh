#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Endpoint-mapper pinholes for a rule in input: the host under test runs the
# endpoint mapper itself (Samba's samba-dcerpcd in the hut, on eth2's
# 198.18.2.1), the policy `input = ( { allow = "msrpc-epmap"; from = "cag";
# rpc = { ... }; } )` (no `to`: any of the host's addresses), impacket's
# ept_map and bind from the CAG in the out namespace.  The host's replies
# leave on the output hook: postern's output chain (policy accept) holds the
# reply rules and nothing else.  For each mechanism this kernel has:
#
#   - NFLOG (options.rpc_mechanism "log"), tests/rpc/rpc-reader.c running
#     standalone in the hut as in rpc-samba.sh;
#   - the kernel's own reading ("kernel+log"), no reader running, as in
#     rpc-kernel.sh;
#
# the output chain has the reply rules (and input the pinhole accept); an
# ept_map + bind from the CAG works; the set holds CAG . host . port; the
# same port from another client is refused; after the timeout it is closed
# again; 20 ept_map + bind rounds, all bound; figures: first SYNs through
# without retransmission (and, for NFLOG, the reader's latencies).
. "$(dirname "$0")/topo.sh"
. "$(dirname "$0")/rpc-lib.sh"

rpc_start 'rpc_mechanism = "log";' input
pinholes_conf "$TOPO_TMP/kernel.conf" 'rpc_mechanism = "kernel+log";' input
elems() { nsx hut nft list set inet postern rpc_1_v4 | tr -d '\n\t' | sed -n 's/.*elements = { \([^}]*\) }.*/\1/p'; }
# readers: the rpc-reader processes in the hut (Samba runs there too)
readers() {
        local p n=0
        for p in $(ip netns pids "$NS_HUT"); do
                [ "$(cat "/proc/$p/comm" 2>/dev/null)" = rpc-reader ] && n=$((n + 1))
        done
        echo "$n"
}

# mechanism NAME CONF: the checks of one mechanism, its policy CONF applied on
# a fresh set and (NFLOG) its reader running: one ept_map + bind and its
# pinhole (not drift: the table read back equals CONF's), the other client,
# the timeout, then 20 rounds: BOUND, FIRST
mechanism() {
        local name=$1 conf=$2 port
        mapbind_once "$name"
        port=$PORT
        check "$name: the pinhole CAG . host . $port" "$CAG . $RPC_SERVER . $port" \
                "$(elems | sed 's/ \(timeout\|expires\).*//')"
        nsx hut "$POSTERNCTL" diff --catalog "$POSTERN_CATALOG" "$conf" > "$TOPO_TMP/diff" 2>&1
        check "$name: posternctl diff: the output chain as compiled, a pinhole is not drift" "0 " \
                "$? $(grep -v '^conntrack:' "$TOPO_TMP/diff")"
        check "$name: bind to $port from another client" error "$(client "$RND" bind "$RPC_SERVER" "$port" srvsvc)"
        sleep $((T + 1))
        check "$name: bind to $port from the CAG after the $T s timeout" error \
                "$(client "$CAG" bind "$RPC_SERVER" "$port" srvsvc)"
        check "$name: the set is empty after the timeout" "" "$(elems)"
        mapbind_rounds 20
        check "$name: 20 ept_map + bind rounds from the CAG, all bound" 20 "$BOUND"
}

# baseline, without a firewall (so the "error"s below are the firewall's); it
# also starts Samba's workers, which under TCG takes longer than a client waits
check "without a firewall: ept_map and bind from another client" bound \
        "$(epm "$NS_OUT" mapbind "$RPC_SERVER" srvsvc --from "$RND" --timeout 10 | tail -1 | cut -d' ' -f1)"

# NFLOG: the copy in output, to the reader
apply_policy "$TOPO_TMP/pinholes.conf"
output=$(nsx hut nft list chain inet postern output)
check "log: the output chain: hook output, priority filter, policy accept" 1 \
        "$(grep -c 'type filter hook output priority filter; policy accept;' <<<"$output")"
check "log: the output chain's one rule, the reply copy to the CAG" \
        "ip daddr $CAG tcp sport 135 log prefix \"rpc_1_v4\" group 18" \
        "$(sed -n 's/^\t\t//p' <<<"$output" | grep -v '^type ')"
check "log: input accepts the pinholes" 1 \
        "$(nsx hut nft list chain inet postern input | grep -Ec 'ip saddr \. ip daddr \. tcp dport @rpc_1_v4 counter packets [0-9]+ bytes [0-9]+ accept')"
out=$(epm "$NS_OUT" map "$RPC_SERVER" srvsvc --from "$CAG" --timeout 3)
check "log, no reader: ept_map from the CAG (the output chain drops nothing)" port "${out%% *}"
port=${out#port }
check "log, no reader: no pinhole for $port" error "$(client "$CAG" bind "$RPC_SERVER" "$port" srvsvc)"
apply_policy "$TOPO_TMP/pinholes.conf"  # a fresh set
reader_start
mechanism log "$TOPO_TMP/pinholes.conf"
log_bound=$BOUND log_first=$FIRST
[ "$BOUND" = 20 ] || cat "$TOPO_TMP/reader.out"
reader_stop
echo "figures: input, NFLOG: first SYN through without retransmission: $log_first of $log_bound; reply → element (us): $(latencies)"
echo "figures: input, NFLOG: $(tail -1 "$TOPO_TMP/reader.out")"

# kernel+log: the kernel's rules in output, no reader
apply_policy "$TOPO_TMP/kernel.conf"
output=$(nsx hut nft list chain inet postern output)
check "kernel: the kernel's rules in output: one per TCP header length and interface (2 x 4)" 8 \
        "$(grep -Ec "ip daddr $CAG tcp sport 135 tcp doff (5 .* @th,1248|8 .* @th,1344),16 \} accept" <<<"$output")"
check "kernel: then the NFLOG copy for the other replies" 1 \
        "$(grep -c "ip daddr $CAG tcp sport 135 log prefix \"rpc_1_v4\" group 18" <<<"$output")"
check "kernel: no reader in the host under test" 0 "$(readers)"
mechanism kernel "$TOPO_TMP/kernel.conf"
check "kernel: every first SYN through without retransmission" 20 "$FIRST"
echo "figures: input, kernel: first SYN through without retransmission: $FIRST of $BOUND"

samba_stop
echo "== $N_OK ok, $N_FAIL failed, $((SECONDS - T_START)) s"
[ "$N_FAIL" = 0 ]
