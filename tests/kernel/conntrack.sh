#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Conntrack counting (lib/conntrack.h) with real TCP connections over veth
# pairs.  The host under test ("hut", postern applied) sits between a client
# namespace and a far server:
#
#   cli 198.18.5.2 ── veth1 ═ veth0 198.18.5.1  hut  198.18.6.1 veth2 ═ veth3 ── far 198.18.6.2
#
# Three connections are held open: cli → hut:5001 (input), cli → far:5002
# (forward, leaving by veth2) and hut → far:5002 (opened by the hut itself:
# no chain of ours judges it); and one UDP datagram from cli to the
# subnet's broadcast address 198.18.5.255:5003 is delivered to the hut
# (input, though no address of the hut is its destination).  In the hut, each policy's count is exact:
# one that allows both kept, one whose forward zone names another interface,
# one with ssh only.  IPv6 is off everywhere so that neighbour discovery and
# router solicitations add no entries.  Bounded: every process has a
# lifetime and is killed and waited for; the namespaces are removed.
#   conntrack.sh CT_COUNT_BINARY
set -u
. "$(dirname "$0")/lib.sh"
require_kernel
count=${1:?usage: conntrack.sh CT_COUNT_BINARY}
command -v python3 >/dev/null || { echo "skipped: no python3"; exit 77; }
id="$$-$RANDOM"
hut="postern-ct-hut-$id" cli="postern-ct-cli-$id" far="postern-ct-far-$id"
tmp=$(mktemp -d /tmp/postern-ct.XXXXXX) || exit 99
pids=()
created=()
cleanup() {
        local p
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
        for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
        for p in "${created[@]}"; do ip netns del "$p" 2>/dev/null; done
        rm -rf "$tmp"
}
trap cleanup EXIT
for ns in "$hut" "$cli" "$far"; do
        ip netns add "$ns" || { echo "skipped: cannot create a network namespace"; exit 77; }
        created+=("$ns")
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 ||
                exit 99
        ip -n "$ns" link set lo up || exit 99
done
ip netns exec "$hut" sysctl -qw net.ipv4.ip_forward=1 || exit 99
ip -n "$hut" link add veth0 type veth peer name veth1 netns "$cli" &&
        ip -n "$hut" link add veth2 type veth peer name veth3 netns "$far" || exit 99
ip -n "$hut" addr add 198.18.5.1/24 dev veth0 && ip -n "$hut" addr add 198.18.6.1/24 dev veth2 &&
        ip -n "$cli" addr add 198.18.5.2/24 dev veth1 && ip -n "$far" addr add 198.18.6.2/24 dev veth3 || exit 99
ip -n "$hut" link set veth0 up && ip -n "$hut" link set veth2 up &&
        ip -n "$cli" link set veth1 up && ip -n "$far" link set veth3 up || exit 99
ip -n "$cli" route add default via 198.18.5.1 && ip -n "$far" route add default via 198.18.6.1 || exit 99

printf 'zones = { back = { interfaces = ["veth2"]; }; };\ninput = ( { allow = ["ssh", "tcp/5001", "udp/5003"]; } );\nforward = ( { allow = "tcp/5002"; to = "back"; } );\n' \
        > "$tmp/keep.conf"
printf 'zones = { back = { interfaces = ["veth9"]; }; };\ninput = ( { allow = ["ssh", "tcp/5001", "udp/5003"]; } );\nforward = ( { allow = "tcp/5002"; to = "back"; } );\n' \
        > "$tmp/wrongif.conf"
printf 'input = ( { allow = "ssh"; } );\n' > "$tmp/cut.conf"
ip netns exec "$hut" "$CTL" apply --catalog "$CATALOG" "$tmp/keep.conf" >/dev/null || exit 1

# hold.py serve ADDR PORT N | connect ADDR PORT: print "ready" / "connected", hold 30 s at most
cat > "$tmp/hold.py" <<'EOF'
import socket, sys, time
what, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if what == "serve":
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(8); s.settimeout(30); print("ready", flush=True)
    held = [s.accept() for _ in range(int(sys.argv[4]))]
else:
    c = socket.create_connection((addr, port), timeout=5); print("connected", flush=True)
time.sleep(30)
EOF
# start NS NAME ARGS...: run hold.py in NS, wait for its first line
start() {
        local ns=$1 name=$2 i
        shift 2
        ip netns exec "$ns" python3 "$tmp/hold.py" "$@" > "$tmp/$name.out" 2>&1 &
        pids+=($!)
        for i in $(seq 1 100); do [ -s "$tmp/$name.out" ] && break; sleep 0.05; done
        grep -qE '^(ready|connected)$' "$tmp/$name.out" || { echo "FAIL: $name: $(cat "$tmp/$name.out")"; exit 1; }
}
start "$hut" srv-input serve 198.18.5.1 5001 1
start "$far" srv-far serve 198.18.6.2 5002 2
start "$cli" cli-input connect 198.18.5.1 5001
start "$cli" cli-forward connect 198.18.6.2 5002
start "$hut" hut-output connect 198.18.6.2 5002
ip netns exec "$cli" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.sendto(b"x", ("198.18.5.255", 5003))' || exit 1
sleep 0.2

got=$(ip netns exec "$hut" "$count" --catalog "$CATALOG" "$tmp/keep.conf" "$tmp/wrongif.conf" "$tmp/cut.conf" 2>&1)
want="keep.conf: 0 of 4 cut
wrongif.conf: 1 of 4 cut
cut.conf: 3 of 4 cut"
if [ "$got" != "$want" ]; then
        echo "FAIL: counts differ:"; echo "$got"; echo "expected:"; echo "$want"
        ip netns exec "$hut" cat /proc/net/nf_conntrack 2>/dev/null
        exit 1
fi
echo "ok: input, broadcast and forward entries kept, the forward one cut by another interface, all three by ssh only; the hut's own kept"
# and in a namespace whose conntrack table is empty (nothing of ours uses conntrack there)
got=$(ip netns exec "$cli" "$count" --catalog "$CATALOG" "$tmp/cut.conf" 2>&1)
[ "$got" = "cut.conf: 0 of 0 cut" ] || { echo "FAIL: the client side: $got"; exit 1; }
echo "ok: an empty table counts 0 of 0"
