#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Seed 004: a mail server on a dial-up line.  Mail and webmail are open from
# the wan zone (ppp0) to the current ppp0 address only — to = "(ppp0)" — and
# ssh/submission/imaps from the LAN.  Then ppp0 gets a new address (a
# reconnect) and `posternctl apply` runs again, as the ip-up hook would:
# the new address serves mail, the old one (still on the host, moved to lo)
# does not.  The LAN reaches the Internet with every protocol (allow =
# "all": TCP, UDP, ICMP, GRE and ESP probed); nothing comes in from it.
. "$(dirname "$0")/topo.sh"

MAIL="25 110 143 465 993 995 80 443"

topo_require
topo_build
listen hut --tcp 22,25,80,110,143,443,465,587,993,995,3306
listen srv --tcp 25,80
listen out --tcp 80 --udp 53 --proto 47,50
listen lan --tcp 80 --proto 47,50

# table_for WAN4 WAN6 OLD4 OLD6: the probes, given ppp0's addresses (and
# the previous ones, now elsewhere on the host, if any)
table_for() {
        local wan4=$1 wan6=$2 old4=${3:-} old6=${4:-} f wan old p
        for f in 4 6; do
                fam $f
                if [ $f = 4 ]; then wan=$wan4 old=$old4; else wan=$wan6 old=$old6; fi
                for p in $MAIL; do
                        expect pass out $wan tcp $p $RND
                        expect drop out $HUT_LAN tcp $p $RND     # the host, but not ppp0's address
                        [ -n "$old" ] && expect drop out $old tcp $p $RND
                done
                expect pass out $wan tcp 25 $OUT
                expect drop out $HUT_SRV tcp 25 $RND
                expect drop out $wan tcp 22   $RND
                expect drop out $wan tcp 587  $RND
                expect drop out $wan tcp 3306 $RND
                # the LAN: ssh, submission, imaps — to any of the host's addresses
                expect pass lan $HUT_LAN tcp 22  $LAN
                expect pass lan $HUT_LAN tcp 587 $LAN
                expect pass lan $HUT_LAN tcp 993 $LAN
                expect pass lan $wan tcp 22 $LAN
                expect drop lan $HUT_LAN tcp 25  $LAN     # mail rules are for the wan zone
                expect drop lan $wan tcp 25 $LAN          # ... even to ppp0's address
                expect drop lan $HUT_LAN tcp 3306 $LAN
                # forwarded: the LAN to the Internet, every protocol ...
                expect pass lan $CAG tcp 80 $LAN
                expect pass lan $CAG udp 53 $LAN
                expect pass lan $CAG icmp - $LAN
                expect pass lan $CAG proto 47 $LAN        # GRE
                expect pass lan $CAG proto 50 $LAN        # ESP
                # ... and nothing else: not in from the Internet (another
                # address pair: a raw protocol's reply would be "established")
                expect drop out $LAN tcp 80 $RND
                expect drop out $LAN proto 47 $RND
                expect drop out $LAN proto 50 $RND
                expect drop out $SRV10 tcp 25 $RND
                expect drop lan $SRV10 tcp 80 $LAN       # the LAN to eth2 is not "wan"
                expect pass out $wan icmp - $RND
        done
}

table_for 198.18.0.1 2001:db8::1
baseline "without a firewall every probe passes"
apply_policy "$(example 004-dialup-mail-server.conf)"
run_table "004-dialup-mail-server, ppp0 = 198.18.0.1, 2001:db8::1"

echo "== reconnect: ppp0 198.18.0.1 → 198.18.0.5, 2001:db8::1 → 2001:db8::5 (the old ones stay on the host, on lo)"
H="x ip -n $NS_HUT" O="x ip -n $NS_OUT"
$H addr del 198.18.0.1 peer 198.18.0.2/32 dev ppp0
$H addr add 198.18.0.5 peer 198.18.0.2/32 dev ppp0
$H -6 addr del 2001:db8::1/64 dev ppp0
$H -6 addr add 2001:db8::5/64 dev ppp0 nodad
$H addr add 198.18.0.1/32 dev lo
$H -6 addr add 2001:db8::1/128 dev lo nodad
$O addr del 198.18.0.2 peer 198.18.0.1/32 dev hut0
$O addr add 198.18.0.2 peer 198.18.0.5/32 dev hut0
topo_routes_wan 198.18.0.5 2001:db8::5
$O route replace 198.18.0.1/32 via 198.18.0.5 dev hut0
$O -6 route replace 2001:db8::1/128 via 2001:db8::5 dev hut0

# what the ip-up hook runs
apply_policy "$(example 004-dialup-mail-server.conf)"
table_for 198.18.0.5 2001:db8::5 198.18.0.1 2001:db8::1
run_keep "004-dialup-mail-server, after the reconnect and a re-apply"

# and the same probes with no firewall: every "drop" above was the firewall's
fw_remove || die "cannot remove the firewall"
baseline "after the reconnect, without a firewall every probe passes"
summary
