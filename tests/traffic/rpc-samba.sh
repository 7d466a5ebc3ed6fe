#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Endpoint-mapper pinholes with the real things: Samba's samba-dcerpcd
# (endpoint mapper on 135, RPC services on dynamic ports from 49152) on
# Exchange's address in the srv namespace, impacket's ept_map and bind from
# the CAG in the out namespace, through the host under test with a pinhole
# policy (timeout 4 s or, on a slow machine, longer; at most 16 pinholes).
#
#   - the endpoint mapper answers the CAG through the firewall;
#   - its handed-out port is closed until a pinhole exists (no reply reader
#     runs in this part, `posternctl apply` has no daemon: POSTERN_RPC_READER=1
#     expects the port open right after the reply instead, for a run with a
#     reader; tests/daemon/rpc.sh is the same with posternd running it);
#   - with the pinhole client . server . port in the set (added here by
#     `nft add element` where the reader would add it), that port is
#     reachable from the CAG, not from another client, and no other high
#     port is; after the timeout it is closed again;
#   - with the reader (lib/rpc-reader.c), every handed-out port opens for
#     the CAG by itself;
#   - the set never holds more than its bound (a flood of 24 additions);
#   - posternctl diff does not count pinholes as drift.
#
# POSTERN_RPC_MECH=queue, or a second argument "queue" (meson test
# rpc-samba-queue), tests the NFQUEUE
# mechanism instead: options.rpc_mechanism = "queue", the replies held in
# queue 18 (`queue flags bypass to 18`); without a reader the endpoint
# mapper still answers (bypass) but its port stays closed; with
# lib/rpc-reader.c on the queue (rpc-reader --queue 18) 20 ept_map + bind
# rounds, every first SYN through (the reply is released only once its
# pinhole exists); figures: reply → element latency, first SYNs through.
# Needs the kernel's nft_queue (Debian's 6.1 and 6.12 in the VM suite; 6.18
# here has none: skip).  POSTERN_RPC_QUEUE_XT=1 runs it on such a kernel
# with a stand-in: the NFLOG policy (its copies go unread) and an xtables
# NFQUEUE rule in mangle FORWARD doing what the nft rule would.
. "$(dirname "$0")/topo.sh"
MECH=${2:-${POSTERN_RPC_MECH:-log}}
if [ "$MECH" = queue ] && [ "${POSTERN_RPC_QUEUE_XT:-0}" != 1 ]; then
        "$POSTERN_SOURCE_ROOT/tests/have-nft-queue.sh"
        case $? in
        0) ;;
        77) skip "cannot probe nft_queue (needs root and nft)" ;;
        *) skip "no nft_queue in this kernel (CONFIG_NFT_QUEUE): the VM suite runs this on 6.1 and 6.12" ;;
        esac
fi
. "$(dirname "$0")/rpc-lib.sh"

# the NFLOG mechanism by name: "auto" would have the kernel read the replies itself
rpc_start 'rpc_mechanism = "log";'

if [ "$MECH" = queue ]; then
        # without a firewall first, with time to spare: samba-dcerpcd starts
        # its endpoint mapper and the service's worker on their first
        # connections, which under TCG (6.12) outlasts the 3 s below
        check "without a firewall: ept_map and bind from the CAG" bound \
                "$(epm "$NS_OUT" mapbind "$SRV10" srvsvc --from "$CAG" --timeout 60 |
                        tail -1 | cut -d' ' -f1)"
        if [ "${POSTERN_RPC_QUEUE_XT:-0}" = 1 ]; then
                apply_policy "$TOPO_TMP/pinholes.conf"
                x nsx hut iptables-legacy -t mangle -A FORWARD -p tcp -s "$SRV10" -d "$CAG" --sport 135 \
                        -m conntrack --ctdir REPLY -j NFQUEUE --queue-num 18 --queue-bypass
        else
                pinholes_conf "$TOPO_TMP/queue.conf" 'rpc_mechanism = "queue";'
                apply_policy "$TOPO_TMP/queue.conf"
                nsx hut nft list chain inet postern forward |
                        grep -q "ct direction reply ip saddr $SRV10 ip daddr $CAG tcp sport 135 queue flags bypass to 18" ||
                        { nsx hut nft list chain inet postern forward; die "no reply rule to queue 18 in forward"; }
        fi
        out=$(epm "$NS_OUT" map "$SRV10" srvsvc --from "$CAG" --timeout 3)
        check "queue, no reader: the reply passes (bypass)" port "${out%% *}"
        port=${out#port }
        case $port in *[!0-9]*|'') die "no port from the endpoint mapper: $out" ;; esac
        check "queue, no reader: no pinhole for $port" error "$(client "$CAG" bind "$SRV10" "$port" srvsvc)"
        # samba-dcerpcd starts the service's worker on its first connection,
        # which under TCG takes longer than a round's timeout: start it with a
        # pinhole added by hand, then a fresh set (the policy again)
        x nsx hut nft add element inet postern rpc_1_v4 "{ $CAG . $SRV10 . $port }"
        out=$(epm "$NS_OUT" bind "$SRV10" "$port" srvsvc --from "$CAG" --timeout 60)
        check "queue: bind to $port with a pinhole added by hand" bound "${out%% *}"
        apply_policy "$TOPO_TMP/$([ "${POSTERN_RPC_QUEUE_XT:-0}" = 1 ] && echo pinholes || echo queue).conf"
        reader_start --queue 18
        mapbind_rounds 20
        bound=$BOUND first=$FIRST
        check "NFQUEUE reader: 20 ept_map + bind rounds from the CAG, all bound" 20 "$bound"
        check "NFQUEUE reader: every first SYN through (the reply waits for its pinhole)" 20 "$first"
        [ "$bound" = 20 ] && [ "$first" = 20 ] || cat "$TOPO_TMP/reader.out"
        check "NFQUEUE reader: the other client still has no pinhole" error "$(client "$RND" bind "$SRV10" "$port" srvsvc)"
        reader_stop
        tail -1 "$TOPO_TMP/reader.out" | grep -q ' verdicts=' || cat "$TOPO_TMP/reader.out"
        rd=$(tail -1 "$TOPO_TMP/reader.out")
        pk=${rd#packets=} vd=${rd#* verdicts=}
        check "NFQUEUE reader: a verdict for every reply it read" "${pk%% *}" "$vd"
        out=$(epm "$NS_OUT" map "$SRV10" srvsvc --from "$CAG" --timeout 3)
        check "queue, reader gone: the reply passes again (bypass)" port "${out%% *}"
        echo "figures: NFQUEUE: first SYN through without retransmission: $first of $bound; reply → element (us): $(latencies)"
        echo "figures: NFQUEUE: $rd"
        samba_stop
        echo "== $N_OK ok, $N_FAIL failed, $((SECONDS - T_START)) s"
        [ "$N_FAIL" = 0 ]
        exit
fi

# baseline: without a firewall the other client gets through (so its "error" below is the firewall's)
check "without a firewall: ept_map and bind from another client" bound \
        "$(epm "$NS_OUT" mapbind "$SRV10" srvsvc --from "$RND" --timeout 3 | tail -1 | cut -d' ' -f1)"
apply_policy "$TOPO_TMP/pinholes.conf"

out=$(epm "$NS_OUT" map "$SRV10" srvsvc --from "$CAG" --timeout 3)
check "ept_map srvsvc from the CAG through the firewall" port "${out%% *}"
port=${out#port }
case $port in *[!0-9]*|'') die "no port from the endpoint mapper: $out" ;; esac
# another port samba-dcerpcd listens on
other=$(samba_other_port "$NS_SRV" "$port")

if [ "${POSTERN_RPC_READER:-0}" = 1 ]; then
        check "bind to $port from the CAG right after the reply" bound "$(client "$CAG" bind "$SRV10" "$port" srvsvc)"
else
        check "bind to $port from the CAG: no pinhole without the reply reader" error \
                "$(client "$CAG" bind "$SRV10" "$port" srvsvc)"
        x nsx hut nft add element inet postern rpc_1_v4 "{ $CAG . $SRV10 . $port }"
fi
check "bind to $port from the CAG with its pinhole" bound "$(client "$CAG" bind "$SRV10" "$port" srvsvc)"
nsx hut "$POSTERNCTL" diff --catalog "$POSTERN_CATALOG" "$TOPO_TMP/pinholes.conf" > "$TOPO_TMP/diff" 2>&1
check "posternctl diff: a pinhole is not drift" "0 " "$? $(grep -v '^conntrack:' "$TOPO_TMP/diff")"
check "bind to $port from another client" error "$(client "$RND" bind "$SRV10" "$port" srvsvc)"
[ -n "$other" ] && check "bind to Samba's other port $other from the CAG" error \
        "$(client "$CAG" bind "$SRV10" "$other" lsarpc)"
sleep $((T + 1))
check "bind to $port from the CAG after the $T s timeout" error "$(client "$CAG" bind "$SRV10" "$port" srvsvc)"


# The NFLOG mechanism: lib/rpc-reader.c (tests/rpc/rpc-reader.c runs it as
# posternd will) fills the set from the copies of the replies that the
# compiled ruleset sends to NFLOG group 18.  A fresh set, then 20
# ept_map + bind rounds from the CAG: every bind gets through (the SYN is
# retransmitted when it beats the element); the share of first SYNs that
# made it and the reader's latencies are printed.
apply_policy "$TOPO_TMP/pinholes.conf"
nsx hut nft list chain inet postern forward | grep -q 'tcp sport 135 log prefix "rpc_1_v4" group 18' ||
        die "no reply copies to NFLOG group 18 in the forward chain"
reader_start
mapbind_rounds 20
bound=$BOUND first=$FIRST
check "NFLOG reader: 20 ept_map + bind rounds from the CAG, all bound" 20 "$bound"
[ "$bound" = 20 ] || cat "$TOPO_TMP/reader.out"
check "NFLOG reader: the other client still has no pinhole" error "$(client "$RND" bind "$SRV10" "$port" srvsvc)"
reader_stop
echo "figures: NFLOG: first SYN through without retransmission: $first of $bound; reply → element (us): $(latencies)"
echo "figures: NFLOG: $(tail -1 "$TOPO_TMP/reader.out")"

# The bound, with a timeout long enough that nothing expires during the
# flood (under TCG one nft process takes about half a second).
sed "s/timeout = $T;/timeout = 600;/" "$TOPO_TMP/pinholes.conf" > "$TOPO_TMP/flood.conf"
apply_policy "$TOPO_TMP/flood.conf"
added=0
for i in $(seq 1 24); do
        nsx hut nft add element inet postern rpc_1_v4 "{ 198.18.3.$((100 + i)) . $SRV10 . 50000 }" 2>/dev/null &&
                added=$((added + 1))
done
check "24 additions to a set of size 16: additions accepted" 16 "$added"
held=$(nsx hut nft list set inet postern rpc_1_v4 | grep -o '198\.18\.3\.1[0-9][0-9]' | wc -l)
check "24 additions to a set of size 16: elements held" 16 "$held"

samba_stop
echo "== $N_OK ok, $N_FAIL failed, $((SECONDS - T_START)) s"
[ "$N_FAIL" = 0 ]
