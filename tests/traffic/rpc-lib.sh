# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by rpc-samba.sh and rpc-kernel.sh (after topo.sh): Samba's endpoint
# mapper on Exchange's address in the srv namespace, impacket in out, the
# shared Samba/impacket helpers of tests/rpc/samba.sh.
#
#   rpc_start OPTIONS   IPv4 topology, T = the pinhole timeout (rpc_timeout),
#                       $TOPO_TMP/pinholes.conf (the CAG to Exchange with rpc,
#                       timeout T, at most 16; OPTIONS: its options group, may
#                       be empty), samba-dcerpcd listening
#   pinholes_conf FILE OPTIONS   that policy with other options
#   check WHAT WANT GOT one result line, counted in N_OK / N_FAIL
#   client SRC ARGS...  the first word of epm-client.py's answer from SRC
#   mapbind_rounds N    N ept_map + bind rounds from the CAG: BOUND, FIRST (first
#                       SYN through: connect_ms < 500, no retransmission)
# and samba_stop (tests/rpc/samba.sh) before the test ends.
. "$(dirname "${BASH_SOURCE[0]}")/../rpc/samba.sh"
topo_require
samba_require
N_OK=0 N_FAIL=0

pinholes_conf() {
        local opts=""
        [ -n "$2" ] && opts="options = { $2 };"
        cat > "$1" <<CONF
hosts = { exchange = "$SRV10"; cag = "$CAG"; };
$opts
forward = (
  { allow = "msrpc-epmap"; from = "cag"; to = "exchange";
    rpc = { interfaces = ["srvsvc", "lsarpc", "samr", "winreg"]; timeout = $T; max = 16; };
    comment = "RPC from the CAG"; }
);
CONF
}

rpc_start() {
        topo_build
        fam 4
        T=$(rpc_timeout)
        pinholes_conf "$TOPO_TMP/pinholes.conf" "$1"
        samba_start "$NS_SRV" "$TOPO_TMP/samba" "$SRV10"
        TOPO_PIDS+=("$SAMBA_PID")
}

check() {
        if [ "$2" = "$3" ]; then echo "ok   $1"; N_OK=$((N_OK + 1)); else
                echo "FAIL $1 (want: $2, got: $3)"; N_FAIL=$((N_FAIL + 1)); fi
}

client() {
        local src=$1
        shift
        epm "$NS_OUT" "$@" --from "$src" --timeout 1.5 | head -1 | cut -d' ' -f1
}

mapbind_rounds() {
        local i ans ms failed=0
        BOUND=0 FIRST=0
        for i in $(seq 1 "$1"); do
                [ $failed -ge 3 ] && break  # not working: do not wait N times
                ans=$(epm "$NS_OUT" mapbind "$SRV10" srvsvc --from "$CAG" --timeout 5 | tr '\n' ' ')
                ans=${ans#port * }
                case $ans in "bound connect_ms="*)
                        BOUND=$((BOUND + 1))
                        ms=${ans#bound connect_ms=}
                        [ "${ms%.*}" -lt 500 ] && FIRST=$((FIRST + 1)) ;;
                *) failed=$((failed + 1)); echo "round $i: $ans" ;;
                esac
        done
}
