#!/bin/bash
# golden suite, iptables backend: one seed example (or case) per invocation.
#   run-iptc.sh ../../conf/examples/NAME.conf
#     posternctl compile --backend iptables --offline NAME.conf == examples-iptc/NAME.rules
#   run-iptc.sh NAME.conf     the same == NAME.rules, with the addresses of its
#                             "# ifaddr: IFNAME=ADDRESS" lines
#   (or, where NAME.err exists, exit status 2 and stderr == NAME.err)
# POSTERN_GOLDEN_UPDATE=1 writes the expected file instead (review the diff!).
set -u
here=$(cd "$(dirname "$0")" && pwd)
ctl=${POSTERNCTL:?POSTERNCTL must point at the posternctl binary}
cd "$here" || exit 99
case=$1
catalog=../../conf/services.conf
case "$case" in ../*) expected=examples-iptc/$(basename "$case" .conf).rules ;; *) expected=${case%.conf}.rules ;; esac
ifaddrs=()
while read -r a; do ifaddrs+=(--ifaddr "$a"); done < <(sed -n 's/^# ifaddr: //p' "$case")
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

"$ctl" compile --backend iptables --offline --catalog "$catalog" --ifaddr eth0=198.18.0.1 \
        --ifaddr eth0=2001:db8::1 --ifaddr ppp0=198.18.0.1 --ifaddr ppp0=2001:db8::1 "${ifaddrs[@]}" "$case" >"$out" 2>"$err"
rc=$?
# NAME.err instead of NAME.rules: what the backend cannot write, refused
# with exactly this text and exit status 2, and nothing on stdout
if [ -e "${expected%.rules}.err" ]; then
        if [ "${POSTERN_GOLDEN_UPDATE:-}" = 1 ]; then cp "$err" "${expected%.rules}.err"; exit 0; fi
        if [ $rc -ne 2 ] || [ -s "$out" ]; then
                echo "FAIL $case: exit status $rc, expected 2 and no output"; cat "$out" "$err"; exit 1
        fi
        if ! diff -u "${expected%.rules}.err" "$err"; then echo "FAIL $case: error text differs"; exit 1; fi
        echo "ok $case (refused)"; exit 0
fi
if [ "${POSTERN_GOLDEN_UPDATE:-}" = 1 ]; then cp "$out" "$expected"; exit 0; fi
if [ $rc -ne 0 ]; then echo "FAIL $case: exit status $rc"; cat "$err"; exit 1; fi
if ! diff -u "$expected" "$out"; then echo "FAIL $case: iptables rules differ from $expected"; exit 1; fi
echo "ok $case"
