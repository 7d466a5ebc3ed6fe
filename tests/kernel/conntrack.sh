#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Conntrack counting (lib/conntrack.h): a real TCP connection from a client
# namespace to a server namespace over a veth pair, with postern applied on
# the server; then, in the server, how many tracked connections a policy
# that keeps tcp/5001 open and one that closes it would cut: exactly 0 of 1
# and 1 of 1.  IPv6 is off on both sides so that no neighbour discovery or
# router solicitation adds entries.  Bounded: every process has a lifetime
# and is killed and waited for at the end; both namespaces are removed.
#   conntrack.sh CT_COUNT_BINARY
set -u
. "$(dirname "$0")/lib.sh"
require_kernel
count=${1:?usage: conntrack.sh CT_COUNT_BINARY}
command -v python3 >/dev/null || { echo "skipped: no python3"; exit 77; }
id="$$-$RANDOM"
srv="postern-ct-srv-$id" cli="postern-ct-cli-$id"
tmp=$(mktemp -d /tmp/postern-ct.XXXXXX) || exit 99
pids=()
cleanup() {
        local p
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
        for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
        ip netns del "$srv" 2>/dev/null
        ip netns del "$cli" 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$srv" || { echo "skipped: cannot create a network namespace"; exit 77; }
ip netns add "$cli" || exit 99
for ns in "$srv" "$cli"; do
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 ||
                exit 99
        ip -n "$ns" link set lo up || exit 99
done
ip -n "$srv" link add veth0 type veth peer name veth1 netns "$cli" || exit 99
ip -n "$srv" addr add 198.18.5.1/24 dev veth0 && ip -n "$cli" addr add 198.18.5.2/24 dev veth1 || exit 99
ip -n "$srv" link set veth0 up && ip -n "$cli" link set veth1 up || exit 99

printf 'input = ( { allow = ["ssh", "tcp/5001"]; } );\n' > "$tmp/keep.conf"
printf 'input = ( { allow = "ssh"; } );\n' > "$tmp/cut.conf"
ip netns exec "$srv" "$CTL" apply --catalog "$CATALOG" "$tmp/keep.conf" >/dev/null || exit 1

# server: accept one connection and hold it; client: connect and hold it (30 s at most)
ip netns exec "$srv" python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.5.1", 5001)); s.listen(1); print("ready", flush=True)
s.settimeout(30); c, _ = s.accept(); time.sleep(30)' > "$tmp/srv.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do grep -q ready "$tmp/srv.out" && break; sleep 0.05; done
grep -q ready "$tmp/srv.out" || { echo "FAIL: the server did not start"; cat "$tmp/srv.out"; exit 1; }
ip netns exec "$cli" python3 -c '
import socket, time
s = socket.create_connection(("198.18.5.1", 5001), timeout=5); print("connected", flush=True); time.sleep(30)' \
        > "$tmp/cli.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do grep -q connected "$tmp/cli.out" && break; sleep 0.05; done
grep -q connected "$tmp/cli.out" || { echo "FAIL: the client did not connect"; cat "$tmp/cli.out"; exit 1; }

got=$(ip netns exec "$srv" "$count" --catalog "$CATALOG" "$tmp/keep.conf" "$tmp/cut.conf" 2>&1)
want="keep.conf: 0 of 1 cut
cut.conf: 1 of 1 cut"
if [ "$got" != "$want" ]; then
        echo "FAIL: counts differ:"; echo "$got"; echo "expected:"; echo "$want"
        ip netns exec "$srv" cat /proc/net/nf_conntrack 2>/dev/null
        exit 1
fi
echo "ok: the TCP connection is kept by keep.conf and cut by cut.conf"
# and in a namespace whose conntrack table is empty
got=$(ip netns exec "$cli" "$count" --catalog "$CATALOG" "$tmp/cut.conf" 2>&1)
[ "$got" = "cut.conf: 0 of 0 cut" ] || { echo "FAIL: the client side: $got"; exit 1; }
echo "ok: an empty table counts 0 of 0"
