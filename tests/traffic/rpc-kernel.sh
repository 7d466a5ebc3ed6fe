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

topo_require
command -v /usr/libexec/samba/samba-dcerpcd >/dev/null || skip "samba (samba-dcerpcd) not installed"
/usr/bin/python3 -c 'import impacket' 2>/dev/null || skip "python3-impacket not installed"
RPC=$POSTERN_SOURCE_ROOT/tests/rpc
topo_build

fam 4
# the pinhole timeout: 4 s, or longer where one impacket run takes more (TCG)
t0=$(date +%s%N)
/usr/bin/python3 "$RPC/epm-client.py" --help >/dev/null 2>&1
T=$(( ($(date +%s%N) - t0) / 1000000000 * 3 + 4 ))
cat > "$TOPO_TMP/kernel.conf" <<CONF
hosts = { exchange = "$SRV10"; cag = "$CAG"; };
options = { rpc_mechanism = "kernel+log"; };
forward = (
  { allow = "msrpc-epmap"; from = "cag"; to = "exchange";
    rpc = { interfaces = ["srvsvc", "lsarpc", "samr", "winreg"]; timeout = $T; max = 16; };
    comment = "RPC from the CAG"; }
);
CONF

ip netns exec "$NS_SRV" "$RPC/samba-epmap" "$TOPO_TMP/samba" "$SRV10" > "$TOPO_TMP/samba.log" 2>&1 &
TOPO_PIDS+=($!)
for _ in $(seq 1 100); do
        [ "$(nsx srv ss -Hltn 'sport = :135' | wc -l)" -gt 0 ] && break
        sleep 0.1
done
nsx srv ss -Hltn 'sport = :135' | grep -q . || { cat "$TOPO_TMP/samba.log"; die "samba-dcerpcd did not listen on 135"; }

N_OK=0 N_FAIL=0
check() { # check WHAT WANT GOT
        if [ "$2" = "$3" ]; then echo "ok   $1"; N_OK=$((N_OK + 1)); else
                echo "FAIL $1 (want: $2, got: $3)"; N_FAIL=$((N_FAIL + 1)); fi
}
client() { # client SOURCE ARGS...: the first word of epm-client.py's answer
        local src=$1
        shift
        nsx out /usr/bin/python3 "$RPC/epm-client.py" "$@" --from "$src" --timeout 1.5 2>&1 | head -1 | cut -d' ' -f1
}
elems() { nsx hut nft list set inet postern rpc_1_v4 | tr -d '\n\t' | sed -n 's/.*elements = { \([^}]*\) }.*/\1/p'; }

apply_policy "$TOPO_TMP/kernel.conf"
rules=$(nsx hut nft list chain inet postern forward)
check "the kernel's rules: one per TCP header length and interface (2 x 4)" 8 \
        "$(grep -Ec 'tcp sport 135 tcp doff (5 .* @th,1248|8 .* @th,1344),16 \} accept' <<<"$rules")"
check "then the NFLOG copy for the other replies" 1 "$(grep -c 'tcp sport 135 log prefix "rpc_1_v4" group 18' <<<"$rules")"
check "no process in the host under test's namespace (no reader)" "" "$(ip netns pids "$NS_HUT")"

out=$(nsx out /usr/bin/python3 "$RPC/epm-client.py" map "$SRV10" srvsvc --from "$CAG" --timeout 3 2>&1)
check "ept_map srvsvc from the CAG through the firewall" port "${out%% *}"
port=${out#port }
case $port in *[!0-9]*|'') die "no port from the endpoint mapper: $out" ;; esac
check "the kernel added the pinhole CAG . Exchange . $port" "$CAG . $SRV10 . $port" "$(elems | sed 's/ \(timeout\|expires\).*//')"
check "bind to $port from the CAG" bound "$(client "$CAG" bind "$SRV10" "$port" srvsvc)"
check "bind to $port from another client" error "$(client "$RND" bind "$SRV10" "$port" srvsvc)"
sleep $((T + 1))
check "bind to $port from the CAG after the $T s timeout" error "$(client "$CAG" bind "$SRV10" "$port" srvsvc)"
check "the set is empty after the timeout" "" "$(elems)"

# 20 rounds, each ept_map then a bind at once: the bind's first SYN is sent
# about a millisecond after the reply; connect_ms >= 500 means it was dropped
# and retransmitted.
bound=0 first=0 failed=0
for i in $(seq 1 20); do
        [ $failed -ge 3 ] && break
        ans=$(nsx out /usr/bin/python3 "$RPC/epm-client.py" mapbind "$SRV10" srvsvc --from "$CAG" --timeout 5 2>&1 |
                tr '\n' ' ')
        ans=${ans#port * }
        case $ans in "bound connect_ms="*)
                bound=$((bound + 1))
                ms=${ans#bound connect_ms=}
                [ "${ms%.*}" -lt 500 ] && first=$((first + 1)) ;;
        *) failed=$((failed + 1)); echo "round $i: $ans" ;;
        esac
done
check "kernel: 20 ept_map + bind rounds from the CAG, all bound" 20 "$bound"
check "kernel: every first SYN through without retransmission" 20 "$first"
echo "figures: kernel: first SYN through without retransmission: $first of $bound"

samba_stop() {
        local main=${TOPO_PIDS[0]} workers _
        workers=$(pgrep -P "$main")
        kill "$main" 2>/dev/null
        wait "$main" 2>/dev/null
        for _ in $(seq 1 100); do
                # shellcheck disable=SC2086
                kill -0 $workers 2>/dev/null || return 0
                sleep 0.1
        done
        # shellcheck disable=SC2086
        kill $workers 2>/dev/null
}
samba_stop
echo "== $N_OK ok, $N_FAIL failed, $((SECONDS - T_START)) s"
[ "$N_FAIL" = 0 ]
