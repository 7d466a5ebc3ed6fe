#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vm check: does posternd hold the firewall on this kernel?  posternd with
# the default policy in a namespace of its own (no system bus: it logs that
# once and runs on): within 60 s the table inet postern must be installed
# and posternd still running; a foreign `nft flush ruleset` must be answered
# by putting the table back (this kernel's nf_tables notifications); after
# SIGTERM it exits 0 and the table stays.  Seconds, where the daemon suite
# takes minutes under TCG.
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
        --catalog "$CATALOG" --policy "$ROOT/conf/postern.conf" --runtime-dir "$tmp/run" >"$tmp/log" 2>&1 &
pid=$!
ok=""
for _ in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || break
        if ip netns exec "$ns" nft list table inet postern 2>/dev/null | grep -q 'tcp dport 22'; then ok=1; break; fi
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
[ -n "$ok" ] || { echo "FAIL: no table inet postern within 60 s"; cat "$tmp/log"; exit 1; }
echo "ok: posternd holds table inet postern"
before=$(ip netns exec "$ns" nft -s list table inet postern)
ip netns exec "$ns" nft flush ruleset
ok=""
for _ in $(seq 1 100); do
        [ "$(ip netns exec "$ns" nft -s list table inet postern 2>/dev/null)" = "$before" ] && { ok=1; break; }
        sleep 0.1
done
[ -n "$ok" ] || { echo "FAIL: nft flush ruleset: the table was not put back within 10 s"; cat "$tmp/log"; exit 1; }
echo "ok: a foreign nft flush ruleset is answered by putting the table back"
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=""
[ "$rc" = 0 ] || { echo "FAIL: posternd exit $rc on SIGTERM"; exit 1; }
ip netns exec "$ns" nft list table inet postern >/dev/null 2>&1 || { echo "FAIL: the table went with posternd"; exit 1; }
echo "ok: SIGTERM → exit 0, the ruleset stays"
