#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Seed 000 (conf/examples/000-safesquid-outlook.conf): a SafeSquid proxy
# host letting Outlook through.  The same port list is open to the host
# (input) and through it (forward), from anywhere; every ICMP type passes
# both ways; everything else is dropped.
. "$(dirname "$0")/topo.sh"

# ssh smtp dns pop3 ldap/tcp smtps submission ldaps rndc imaps pop3s reserved-1023
# globalcatalog globalcatalog-ssl xmpp-client xmpp-server xmpp-bosh http-proxy
OPEN_TCP="22 25 53 110 389 465 587 636 953 993 995 1023 3268 3269 5222 5269 5280 8080"
OPEN_UDP="53 953"          # dns; rndc (the seed opened udp/953)
CLOSED_TCP="80 143 443 3306 3389 1022 8081"
# udp/389 (CLDAP, a reflection vector) is closed as in the seed, which opened
# TCP 389 only: the example allows "ldap/tcp" (the catalog's ldap is tcp+udp)
CLOSED_UDP="161 123 389"
csv() { echo "$*" | tr ' ' ','; }

topo_require
topo_build
listen hut --tcp "$(csv $OPEN_TCP $CLOSED_TCP)" --udp "$(csv $OPEN_UDP $CLOSED_UDP)"
listen srv --tcp "$(csv $OPEN_TCP $CLOSED_TCP)" --udp "$(csv $OPEN_UDP $CLOSED_UDP)"
listen out --tcp 25,80,993 --udp 53,161,389

for f in 4 6; do
        fam $f
        # input, from the Internet side and from the LAN
        for p in $OPEN_TCP; do
                expect pass out $HUT_WAN tcp $p $RND
                expect pass lan $HUT_LAN tcp $p $LAN
        done
        for p in $OPEN_UDP; do
                expect pass out $HUT_WAN udp $p $RND
                expect pass lan $HUT_LAN udp $p $LAN
        done
        for p in $CLOSED_TCP; do
                expect drop out $HUT_WAN tcp $p $RND
        done
        expect drop lan $HUT_LAN tcp 80 $LAN
        expect drop lan $HUT_LAN tcp 3306 $LAN
        for p in $CLOSED_UDP; do
                expect drop out $HUT_WAN udp $p $RND
        done
        # forward, Internet → servers and LAN → servers
        for p in $OPEN_TCP; do
                expect pass out $SRV10 tcp $p $RND
                expect pass lan $SRV20 tcp $p $LAN
        done
        for p in $OPEN_UDP; do
                expect pass out $SRV10 udp $p $RND
                expect pass lan $SRV20 udp $p $LAN
        done
        for p in $CLOSED_TCP; do
                expect drop out $SRV10 tcp $p $RND
        done
        expect drop lan $SRV20 tcp 443 $LAN
        for p in $CLOSED_UDP; do
                expect drop out $SRV10 udp $p $RND
        done
        # forward, servers → Internet: the same list, whatever the direction
        expect pass srv $RND tcp 25  $SRV11
        expect pass srv $RND tcp 993 $SRV11
        expect pass srv $RND udp 53  $SRV11
        expect drop srv $RND tcp 80  $SRV11
        expect drop srv $RND udp 161 $SRV11
        expect drop srv $RND udp 389 $SRV11
        # icmp = "all", forward_icmp = "all"
        expect pass out $HUT_WAN icmp - $RND
        expect pass lan $HUT_LAN icmp - $LAN
        expect pass out $SRV10 icmp -   $RND
        expect pass srv $RND icmp -     $SRV10
done

baseline "without a firewall every probe passes"
apply_policy "$(example 000-safesquid-outlook.conf)"
run_table "000-safesquid-outlook"
summary
