#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Seed 004 with NAT (conf/examples/004-dialup-masquerade.conf): the LAN
# (198.18.1.0/24) leaves masqueraded behind ppp0's address, and port 8443
# of that address is forwarded to webmail, 198.18.2.20:443.  Then ppp0
# reconnects with a new address and `posternctl apply` runs again, as the
# ip-up hook would: new connections leave with the new address and the port
# forward works on the new address, not on the old one.
#
# The Internet (out) has no route to the LAN: a LAN connection that passes
# was translated.  Counters in out and srv (nat-lib.sh) say with which
# address each packet arrived.
. "$(dirname "$0")/topo.sh"
. "$(dirname "$0")/nat-lib.sh"

CONF=$(example 004-dialup-masquerade.conf)

topo_require
command -v nft >/dev/null || skip "nft not found (the counters at either end)"
topo_build
x ip -n "$NS_OUT" route del 198.18.1.0/24
listen out --tcp 80,443
listen srv --tcp 443,8443
listen hut --tcp 25,3306,8443
seen_setup out "ip saddr 198.18.0.1 tcp dport 80" "ip saddr 198.18.0.5 tcp dport 80" \
        "ip saddr 198.18.1.10 tcp dport 80"
seen_setup srv "ip daddr 198.18.2.20 tcp dport 443" "ip daddr 198.18.2.20 tcp dport 8443"

echo "== without a firewall: the LAN cannot reach the Internet, 8443 is the host's own"
want timeout lan 198.18.100.7 tcp 80
want pass out 198.18.0.1 tcp 8443
expect drop out 198.18.2.20 tcp 443 198.18.100.7    # the server directly: routed, no NAT
expect drop lan 198.18.0.1 tcp 8443                 # no hairpin
expect drop out 198.18.0.1 tcp 3306 198.18.100.7
expect pass out 198.18.0.1 tcp 25 198.18.100.7      # the host's own mail, as in seed 004
expect drop out 2001:db8:1::10 tcp 80 2001:db8:100::7
listen lan --tcp 80
baseline "without a firewall every probe passes"

apply_policy "$CONF"
seen_reset out
seen_reset srv
run_table "004-dialup-masquerade, ppp0 = 198.18.0.1"
want pass lan 198.18.100.7 tcp 80
want pass lan 198.18.100.7 tcp 443
want pass out 198.18.0.1 tcp 8443 198.18.100.7
seen_expect out "ip saddr 198.18.0.1 tcp dport 80" some
seen_expect out "ip saddr 198.18.1.10 tcp dport 80" none
seen_expect srv "ip daddr 198.18.2.20 tcp dport 443" some
seen_expect srv "ip daddr 198.18.2.20 tcp dport 8443" none
want timeout lan 198.18.100.7 tcp 3306 # not in the forward rule

echo "== reconnect: ppp0 198.18.0.1 → 198.18.0.5 (the old one stays on the host, on lo)"
H="x ip -n $NS_HUT" O="x ip -n $NS_OUT"
$H addr del 198.18.0.1 peer 198.18.0.2/32 dev ppp0
$H addr add 198.18.0.5 peer 198.18.0.2/32 dev ppp0
$H addr add 198.18.0.1/32 dev lo
$O addr del 198.18.0.2 peer 198.18.0.1/32 dev hut0
$O addr add 198.18.0.2 peer 198.18.0.5/32 dev hut0
topo_routes_wan 198.18.0.5 2001:db8::1
x ip -n "$NS_OUT" route del 198.18.1.0/24
$O route replace 198.18.0.1/32 via 198.18.0.5 dev hut0
apply_policy "$CONF"                                 # what the ip-up hook runs
seen_reset out
seen_reset srv
want pass lan 198.18.100.7 tcp 80
seen_expect out "ip saddr 198.18.0.5 tcp dport 80" some
seen_expect out "ip saddr 198.18.0.1 tcp dport 80" none
want pass out 198.18.0.5 tcp 8443 198.18.100.7
seen_expect srv "ip daddr 198.18.2.20 tcp dport 443" some
seen_reset srv
want timeout out 198.18.0.1 tcp 8443 198.18.100.7   # the old address: no forward, and input drops it
seen_expect srv "ip daddr 198.18.2.20 tcp dport 443" none
expect drop out 198.18.2.20 tcp 443 198.18.100.7
expect pass out 198.18.0.5 tcp 25 198.18.100.7
expect drop out 198.18.0.1 tcp 25 198.18.100.7
run_table "004-dialup-masquerade, after the reconnect"
summary
