#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Endpoint-mapper pinholes read in the kernel (options.rpc_mechanism =
# "kernel+log"), with NO userspace reader running: Samba's samba-dcerpcd on
# Exchange's address in the srv namespace, impacket's ept_map and bind from
# the CAG in the out namespace, through the host under test.
#
#   - the ruleset has the kernel's rules (one per TCP header length) before
#     the NFLOG copy, and the kernel accepts them;
#   - after one ept_map from the CAG the set holds CAG . Exchange . the
#     handed-out port, put there by the kernel itself;
#   - that port is reachable from the CAG right after the reply, not from
#     another client; after the timeout it is closed again;
#   - 20 ept_map + bind rounds: all bound; the share of first SYNs that got
#     through without a retransmission is printed (the NFLOG reader of
#     rpc-samba.sh loses that race for most of them).
. "$(dirname "$0")/topo.sh"
. "$(dirname "$0")/rpc-lib.sh"

rpc_start 'rpc_mechanism = "kernel+log";'
elems() { nsx hut nft list set inet postern rpc_1_v4 | tr -d '\n\t' | sed -n 's/.*elements = { \([^}]*\) }.*/\1/p'; }

# baseline, without a firewall (so the "error"s below are the firewall's); it
# also starts Samba's workers, which under TCG takes longer than a client waits
check "without a firewall: ept_map and bind from another client" bound \
        "$(epm "$NS_OUT" mapbind "$SRV10" srvsvc --from "$RND" --timeout 10 |
                tail -1 | cut -d' ' -f1)"
apply_policy "$TOPO_TMP/pinholes.conf"
rules=$(nsx hut nft list chain inet postern forward)
check "the kernel's rules: one per TCP header length and interface (2 x 4)" 8 \
        "$(grep -Ec 'tcp sport 135 tcp doff (5 .* @th,1248|8 .* @th,1344),16 \} accept' <<<"$rules")"
check "then the NFLOG copy for the other replies" 1 "$(grep -c 'tcp sport 135 log prefix "rpc_1_v4" group 18' <<<"$rules")"
check "no process in the host under test's namespace (no reader)" "" "$(ip netns pids "$NS_HUT")"

# ept_map and, at once, the bind (as a client does; a second process would
# start after a good part of a short timeout under load)
mapbind_once "through the firewall"
port=$PORT
check "the kernel added the pinhole CAG . Exchange . $port" "$CAG . $SRV10 . $port" "$(elems | sed 's/ \(timeout\|expires\).*//')"
check "bind to $port from another client" error "$(client "$RND" bind "$SRV10" "$port" srvsvc)"
sleep $((T + 1))
check "bind to $port from the CAG after the $T s timeout" error "$(client "$CAG" bind "$SRV10" "$port" srvsvc)"
check "the set is empty after the timeout" "" "$(elems)"

# 20 rounds, each ept_map then a bind at once: the bind's first SYN is sent
# about a millisecond after the reply; connect_ms >= 500 means it was dropped
# and retransmitted.
mapbind_rounds 20
check "kernel: 20 ept_map + bind rounds from the CAG, all bound" 20 "$BOUND"
check "kernel: every first SYN through without retransmission" 20 "$FIRST"
echo "figures: kernel: first SYN through without retransmission: $FIRST of $BOUND"

samba_stop
echo "== $N_OK ok, $N_FAIL failed, $((SECONDS - T_START)) s"
[ "$N_FAIL" = 0 ]
