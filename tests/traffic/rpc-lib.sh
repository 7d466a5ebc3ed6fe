# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by rpc-samba.sh and rpc-kernel.sh (after topo.sh): Samba's endpoint
# mapper on Exchange's address in the srv namespace, impacket in out.
#
#   rpc_start OPTIONS   IPv4 topology, T = the pinhole timeout (4 s, or longer
#                       where one impacket run takes more: under TCG python alone
#                       takes seconds to start), $TOPO_TMP/pinholes.conf (the CAG
#                       to Exchange with rpc, timeout T, at most 16; OPTIONS: its
#                       options group, may be empty), samba-dcerpcd listening
#   check WHAT WANT GOT one result line, counted in N_OK / N_FAIL
#   client SRC ARGS...  the first word of epm-client.py's answer from SRC
#   mapbind_rounds N    N ept_map + bind rounds from the CAG: BOUND, FIRST (first
#                       SYN through: connect_ms < 500, no retransmission)
#   samba_stop          Samba and its workers gone
topo_require
command -v /usr/libexec/samba/samba-dcerpcd >/dev/null || skip "samba (samba-dcerpcd) not installed"
/usr/bin/python3 -c 'import impacket' 2>/dev/null || skip "python3-impacket not installed"
RPC=$POSTERN_SOURCE_ROOT/tests/rpc
N_OK=0 N_FAIL=0

rpc_start() {
        local t0 _ opts=""
        [ -n "$1" ] && opts="options = { $1 };"
        topo_build
        fam 4
        t0=$(date +%s%N)
        /usr/bin/python3 "$RPC/epm-client.py" --help >/dev/null 2>&1
        T=$(( ($(date +%s%N) - t0) / 1000000000 * 3 + 4 ))
        cat > "$TOPO_TMP/pinholes.conf" <<CONF
hosts = { exchange = "$SRV10"; cag = "$CAG"; };
$opts
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
        nsx srv ss -Hltn 'sport = :135' | grep -q . ||
                { cat "$TOPO_TMP/samba.log"; die "samba-dcerpcd did not listen on 135"; }
}

check() {
        if [ "$2" = "$3" ]; then echo "ok   $1"; N_OK=$((N_OK + 1)); else
                echo "FAIL $1 (want: $2, got: $3)"; N_FAIL=$((N_FAIL + 1)); fi
}

client() {
        local src=$1
        shift
        nsx out /usr/bin/python3 "$RPC/epm-client.py" "$@" --from "$src" --timeout 1.5 2>&1 | head -1 | cut -d' ' -f1
}

mapbind_rounds() {
        local i ans ms failed=0
        BOUND=0 FIRST=0
        for i in $(seq 1 "$1"); do
                [ $failed -ge 3 ] && break  # not working: do not wait N times
                ans=$(nsx out /usr/bin/python3 "$RPC/epm-client.py" mapbind "$SRV10" srvsvc --from "$CAG" --timeout 5 2>&1 |
                        tr '\n' ' ')
                ans=${ans#port * }
                case $ans in "bound connect_ms="*)
                        BOUND=$((BOUND + 1))
                        ms=${ans#bound connect_ms=}
                        [ "${ms%.*}" -lt 500 ] && FIRST=$((FIRST + 1)) ;;
                *) failed=$((failed + 1)); echo "round $i: $ans" ;;
                esac
        done
}

# Samba's workers are its children (this test's own) and follow their parent within seconds.
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
