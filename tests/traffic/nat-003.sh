#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Seed 003 with static NAT (conf/examples/003-exchange-static-nat.conf):
# Exchange (198.18.2.10) and OWA (198.18.2.20) are reached from the
# Internet through the firewall's public address only — its ports 135,
# 34567, 34568, 25, 110 go to Exchange, 80 and 443 to OWA — and never on
# their own addresses.  The example names the public interface eth0; this
# topology's Internet side is ppp0 with the static 198.18.0.1, so the test
# applies a copy that says (ppp0).  Counters in srv (nat-lib.sh) say which
# server each forwarded connection reached.
. "$(dirname "$0")/topo.sh"
. "$(dirname "$0")/nat-lib.sh"

CONF=$(example 003-exchange-static-nat.conf)

topo_require
command -v nft >/dev/null || skip "nft not found (the counters in srv)"
topo_build
sed 's/"(eth0)"/"(ppp0)"/' "$CONF" > "$TOPO_TMP/003.conf" || die "cannot copy $CONF"
grep -q '"(ppp0)"' "$TOPO_TMP/003.conf" || die "$CONF has no (eth0) forward"
EXCH_PORTS="135 34567 34568 25 110"
listen srv --tcp 25,80,110,135,443,3389,34567,34568
listen hut --tcp 3389
seen_setup srv "ip daddr 198.18.2.10 tcp dport 135" "ip daddr 198.18.2.10 tcp dport 25" \
        "ip daddr 198.18.2.20 tcp dport 443" "ip daddr 198.18.2.20 tcp dport 135"

echo "== without a firewall: the public address has none of these ports"
for p in $EXCH_PORTS 80 443; do
        want refused out 198.18.0.1 tcp $p 198.18.100.7
done
for src in "out 198.18.100.7" "out 198.18.3.5" "lan 198.18.1.10"; do
        set -- $src
        for p in $EXCH_PORTS; do
                expect drop $1 198.18.2.10 tcp $p $2       # directly: routed, not translated
        done
        expect drop $1 198.18.2.20 tcp 443 $2
done
expect drop out 198.18.0.1 tcp 3389 198.18.100.7           # not forwarded
expect drop out 2001:db8:2::10 tcp 135 2001:db8:100::7     # no IPv6 forward asked for
baseline "without a firewall every probe passes"

apply_policy "$TOPO_TMP/003.conf"
seen_reset srv
run_table "003-exchange-static-nat"
for src in 198.18.100.7 198.18.3.5; do
        for p in $EXCH_PORTS 80 443; do
                want pass out 198.18.0.1 tcp $p $src
        done
done
seen_expect srv "ip daddr 198.18.2.10 tcp dport 135" some
seen_expect srv "ip daddr 198.18.2.10 tcp dport 25" some
seen_expect srv "ip daddr 198.18.2.20 tcp dport 443" some
seen_expect srv "ip daddr 198.18.2.20 tcp dport 135" none
want timeout out 198.18.0.1 tcp 3389 198.18.100.7
summary
