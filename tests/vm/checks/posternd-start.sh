#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vm check: does posternd hold the firewall on this kernel?  posternd with
# the default policy in a namespace of its own (no system bus: it logs that
# once and runs on): within 60 s the table inet postern must be installed,
# owned, and posternd still running; after SIGTERM it exits 0 and the table
# stays.  A short stand-in for the daemon suite where that suite would only
# wait out its timeouts (6.1: issue 10 item 2, NFT_TABLE_F_PERSIST).
set -u
B=${POSTERN_BUILD_ROOT:?} CATALOG=${POSTERN_CATALOG:?} ROOT=${POSTERN_SOURCE_ROOT:?}
ns=postern-vmstart-$$
tmp=$(mktemp -d)
pid=""
cleanup() {
        [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
        ip netns del "$ns" 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns" && ip -n "$ns" link set lo up || exit 99
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$tmp/no-bus ip netns exec "$ns" "$B/daemon/posternd" \
        --catalog "$CATALOG" --policy "$ROOT/conf/postern.conf" >"$tmp/log" 2>&1 &
pid=$!
ok=""
for _ in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || break
        if ip netns exec "$ns" nft list table inet postern 2>/dev/null | grep -q 'flags owner'; then ok=1; break; fi
        sleep 1
done
if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid"
        rc=$?
        pid=""
        echo "FAIL: posternd exited ($rc) on $(uname -r):"
        cat "$tmp/log"
        echo "tables left in its namespace: $(ip netns exec "$ns" nft list tables 2>&1 | tr '\n' ' ')"
        exit 1
fi
[ -n "$ok" ] || { echo "FAIL: no owned table inet postern within 60 s"; cat "$tmp/log"; exit 1; }
echo "ok: posternd holds an owned table inet postern"
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=""
[ "$rc" = 0 ] || { echo "FAIL: posternd exit $rc on SIGTERM"; exit 1; }
ip netns exec "$ns" nft list table inet postern >/dev/null 2>&1 || { echo "FAIL: the table went with posternd"; exit 1; }
echo "ok: SIGTERM → exit 0, the ruleset stays"
