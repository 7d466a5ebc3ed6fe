# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by rpc-samba.sh, rpc-kernel.sh and rpc-input.sh (after topo.sh):
# Samba's endpoint mapper on Exchange's address in the srv namespace (or, for
# a rule in input, in the host under test itself), impacket in out, the
# shared Samba/impacket helpers of tests/rpc/samba.sh.
#
#   rpc_start OPTIONS [CHAIN]
#                       IPv4 topology, T = the pinhole timeout (rpc_timeout),
#                       $TOPO_TMP/pinholes.conf (pinholes_conf), samba-dcerpcd
#                       listening on RPC_SERVER: CHAIN forward (the default)
#                       Exchange's address in srv, input the hut's own eth2
#                       address ($HUT_SRV) in the hut
#   pinholes_conf FILE OPTIONS [CHAIN]
#                       the policy: in CHAIN, the CAG to the endpoint mapper
#                       with rpc, timeout T, at most 16 (forward: to Exchange;
#                       input: no `to`, any of the host's addresses); OPTIONS:
#                       its options group, may be empty
#   check WHAT WANT GOT one result line, counted in N_OK / N_FAIL
#   client SRC ARGS...  the first word of epm-client.py's answer from SRC
#   mapbind_once WHAT   one ept_map srvsvc + bind at once from the CAG to
#                       RPC_SERVER, both checked (WHAT names them); PORT = the port
#   mapbind_rounds N    N ept_map + bind rounds from the CAG to RPC_SERVER: BOUND,
#                       FIRST (first SYN through: connect_ms < 500, no retransmission)
#   reader_start ARGS...  tests/rpc/rpc-reader.c in the hut for rpc_1_v4 (srvsvc
#                       and lsarpc) until it is ready; reader_stop; latencies:
#                       its reply → element latencies (us)
# and samba_stop (tests/rpc/samba.sh) before the test ends.
. "$(dirname "${BASH_SOURCE[0]}")/../rpc/samba.sh"
topo_require
samba_require
N_OK=0 N_FAIL=0

pinholes_conf() {
        local opts="" chain=${3:-forward} hosts to
        [ -n "$2" ] && opts="options = { $2 };"
        if [ "$chain" = input ]; then
                hosts="cag = \"$CAG\";" to=""
        else
                hosts="exchange = \"$SRV10\"; cag = \"$CAG\";" to=" to = \"exchange\";"
        fi
        cat > "$1" <<CONF
hosts = { $hosts };
$opts
$chain = (
  { allow = "msrpc-epmap"; from = "cag";$to
    rpc = { interfaces = ["srvsvc", "lsarpc", "samr", "winreg"]; timeout = $T; max = 16; };
    comment = "RPC from the CAG"; }
);
CONF
}

rpc_start() {
        RPC_CHAIN=${2:-forward}
        topo_build
        fam 4
        T=$(rpc_timeout)
        pinholes_conf "$TOPO_TMP/pinholes.conf" "$1" "$RPC_CHAIN"
        if [ "$RPC_CHAIN" = input ]; then
                RPC_SERVER=$HUT_SRV
                samba_start "$NS_HUT" "$TOPO_TMP/samba" "$RPC_SERVER"
        else
                RPC_SERVER=$SRV10
                samba_start "$NS_SRV" "$TOPO_TMP/samba" "$RPC_SERVER"
        fi
        TOPO_PIDS+=("$SAMBA_PID")
}

READER=${POSTERN_BUILD_ROOT:-$POSTERN_SOURCE_ROOT/build}/tests/traffic/rpc-reader
reader_start() {
        ip netns exec "$NS_HUT" "$READER" --set rpc_1_v4 --seconds 900 \
                --if 4b324fc8-1670-01d3-1278-5a47bf6ee188 --if 12345778-1234-abcd-ef00-0123456789ab "$@" \
                > "$TOPO_TMP/reader.out" 2>&1 &
        READER_PID=$!
        TOPO_PIDS+=("$READER_PID")
        for _ in $(seq 1 50); do grep -q '^ready' "$TOPO_TMP/reader.out" && break; sleep 0.1; done
        grep -q '^ready' "$TOPO_TMP/reader.out" || { cat "$TOPO_TMP/reader.out"; die "rpc-reader did not start"; }
}
reader_stop() {
        kill "$READER_PID"
        wait "$READER_PID" 2>/dev/null
}
latencies() { sed -n 's/^added .* latency_us=//p' "$TOPO_TMP/reader.out" | sort -n | tr '\n' ' '; }

check() {
        if [ "$2" = "$3" ]; then echo "ok   $1"; N_OK=$((N_OK + 1)); else
                echo "FAIL $1 (want: $2, got: $3)"; N_FAIL=$((N_FAIL + 1)); fi
}

client() {
        local src=$1
        shift
        epm "$NS_OUT" "$@" --from "$src" --timeout 1.5 | head -1 | cut -d' ' -f1
}

mapbind_once() {
        local out
        out=$(epm "$NS_OUT" mapbind "$RPC_SERVER" srvsvc --from "$CAG" --timeout 5 | tr '\n' ' ')
        check "$1: ept_map srvsvc from the CAG" port "${out%% *}"
        PORT=${out#port }
        PORT=${PORT%% *}
        case $PORT in *[!0-9]*|'') die "no port from the endpoint mapper: $out" ;; esac
        check "$1: bind to $PORT from the CAG right after the reply" bound "$(echo "$out" | cut -d' ' -f3)"
}

mapbind_rounds() {
        local i ans ms failed=0
        BOUND=0 FIRST=0
        for i in $(seq 1 "$1"); do
                [ $failed -ge 3 ] && break  # not working: do not wait N times
                ans=$(epm "$NS_OUT" mapbind "$RPC_SERVER" srvsvc --from "$CAG" --timeout 5 | tr '\n' ' ')
                ans=${ans#port * }
                case $ans in "bound connect_ms="*)
                        BOUND=$((BOUND + 1))
                        ms=${ans#bound connect_ms=}
                        [ "${ms%.*}" -lt 500 ] && FIRST=$((FIRST + 1)) ;;
                *) failed=$((failed + 1)); echo "round $i: $ans" ;;
                esac
        done
}
