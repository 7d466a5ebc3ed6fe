# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by the endpoint-mapper pinhole tests (tests/traffic/rpc-samba.sh,
# tests/daemon/rpc.sh): Samba's samba-dcerpcd as the server (samba-epmap)
# and impacket as the client (epm-client.py).  The caller owns the network
# namespaces and provides skip and die; it records SAMBA_PID among the
# processes its cleanup kills and calls samba_stop before it ends.
RPC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EPM_PY=/usr/bin/python3 # Debian's: impacket is installed for it

# skip (77) unless Samba's endpoint mapper and impacket are there
samba_require() {
        command -v /usr/libexec/samba/samba-dcerpcd >/dev/null || skip "samba (samba-dcerpcd) not installed"
        "$EPM_PY" -c 'import impacket' 2>/dev/null || skip "python3-impacket not installed"
}

# rpc_timeout: a pinhole timeout in seconds, 4 or longer where one impacket
# run takes more (under TCG in the VM suite python alone takes seconds)
rpc_timeout() {
        local t0
        t0=$(date +%s%N)
        "$EPM_PY" "$RPC_DIR/epm-client.py" --help >/dev/null 2>&1
        echo $(( ($(date +%s%N) - t0) / 1000000000 * 3 + 4 ))
}

# samba_start NS DIR ADDRESS: samba-epmap in NS (state under DIR, log
# DIR.log) serving on ADDRESS; SAMBA_PID; returns once 135 listens
samba_start() {
        local ns=$1 dir=$2 addr=$3 _
        ip netns exec "$ns" "$RPC_DIR/samba-epmap" "$dir" "$addr" > "$dir.log" 2>&1 &
        SAMBA_PID=$!
        for _ in $(seq 1 100); do
                [ "$(ip netns exec "$ns" ss -Hltn 'sport = :135' | wc -l)" -gt 0 ] && return 0
                sleep 0.1
        done
        cat "$dir.log"
        die "samba-dcerpcd did not listen on 135"
}

# samba_other_port NS PORT: another port samba-dcerpcd listens on
samba_other_port() {
        ip netns exec "$1" ss -Hltn | awk '{print $4}' | sed -n 's/^0\.0\.0\.0:\(49[0-9]*\)$/\1/p' |
                grep -vx "$2" | head -1
}

# epm NS ARGS...: epm-client.py in NS, its whole answer
epm() {
        local ns=$1
        shift
        ip netns exec "$ns" "$EPM_PY" "$RPC_DIR/epm-client.py" "$@" 2>&1
}

# Stop Samba and wait for its workers (its children), which follow their
# parent within seconds.
samba_stop() {
        local workers _
        [ -n "${SAMBA_PID:-}" ] || return 0
        workers=$(pgrep -P "$SAMBA_PID")
        kill "$SAMBA_PID" 2>/dev/null
        wait "$SAMBA_PID" 2>/dev/null
        for _ in $(seq 1 100); do
                # shellcheck disable=SC2086
                kill -0 $workers 2>/dev/null || return 0
                sleep 0.1
        done
        # shellcheck disable=SC2086
        kill $workers 2>/dev/null
}
