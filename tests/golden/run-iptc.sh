#!/bin/bash
# golden suite, iptables backend: one seed example per invocation.
#   run-iptc.sh ../../conf/examples/NAME.conf
#     posternctl compile --backend iptables --offline NAME.conf == examples-iptc/NAME.rules
# POSTERN_GOLDEN_UPDATE=1 writes the expected file instead (review the diff!).
set -u
here=$(cd "$(dirname "$0")" && pwd)
ctl=${POSTERNCTL:?POSTERNCTL must point at the posternctl binary}
cd "$here" || exit 99
case=$1
catalog=../../conf/services.conf
expected=examples-iptc/$(basename "$case" .conf).rules
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

"$ctl" compile --backend iptables --offline --catalog "$catalog" --ifaddr eth0=198.18.0.1 \
        --ifaddr eth0=2001:db8::1 --ifaddr ppp0=198.18.0.1 --ifaddr ppp0=2001:db8::1 "$case" >"$out" 2>"$err"
rc=$?
if [ "${POSTERN_GOLDEN_UPDATE:-}" = 1 ]; then cp "$out" "$expected"; exit 0; fi
if [ $rc -ne 0 ]; then echo "FAIL $case: exit status $rc"; cat "$err"; exit 1; fi
if ! diff -u "$expected" "$out"; then echo "FAIL $case: iptables rules differ from $expected"; exit 1; fi
echo "ok $case"
