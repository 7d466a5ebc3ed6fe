#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Seed 002: this host is the intranet firewall between an ISA/Exchange
# front-end on the "dmz" side (ppp+, the front-end is out's 198.18.0.2) and the
# back-end Exchange (198.18.2.10) and domain controller (198.18.2.11) behind
# eth2.  Microsoft's front-end/back-end port list, RPC pinned to 1600, IPsec
# from the front-end to the back-end network.  Nothing else is forwarded.
. "$(dirname "$0")/topo.sh"

topo_require
topo_build
listen srv --tcp 25,53,80,88,110,135,143,389,443,445,691,1600,3268,3389 \
           --udp 53,88,161,500,4500 --proto 50,51
listen out --tcp 25,80,135 --proto 50
listen hut --tcp 22,80

for f in 4 6; do
        fam $f
        FE=$OUT BE=$SRV10 DC=$SRV11
        # front-end → back-end: mail protocols, LSA, RPC on 135 + 1600
        for p in 25 80 110 143 691 135 1600; do
                expect pass out $BE tcp $p $FE
        done
        expect drop out $BE tcp 389  $FE         # directory ports go to the DC only
        expect drop out $BE tcp 3268 $FE
        expect drop out $BE tcp 443  $FE         # not in the list
        expect drop out $BE tcp 445  $FE
        expect drop out $BE udp 161  $FE
        # front-end → DC: AD (ldap, GC, kerberos, dns), RPC
        for p in 389 3268 88 53 135 1600; do
                expect pass out $DC tcp $p $FE
        done
        expect pass out $DC udp 53  $FE
        expect pass out $DC udp 88  $FE
        expect drop out $DC tcp 80  $FE          # mail protocols go to the back-end only
        expect drop out $DC tcp 25  $FE
        expect drop out $DC tcp 3389 $FE
        # IPsec from the front-end into the eth2 side
        expect pass out $BE proto 50 $FE
        expect pass out $BE proto 51 $FE
        expect pass out $BE udp 500  $FE
        expect pass out $BE udp 4500 $FE
        expect pass out $DC proto 50 $FE
        # anyone else on the outside
        expect drop out $BE tcp 80   $RND
        expect drop out $BE tcp 135  $RND
        expect drop out $DC tcp 389  $RND
        expect drop out $BE proto 50 $RND
        expect drop out $BE udp 500  $RND
        expect drop out $BE tcp 1600 $CAG
        # the LAN (eth1, in no zone here) and the back-end side initiate nothing
        expect drop lan $BE tcp 80   $LAN
        expect drop lan $DC tcp 389  $LAN
        expect drop lan $BE proto 50 $LAN
        expect drop srv $FE tcp 80   $BE
        expect drop srv $FE tcp 135  $DC
        # ICMP: echo to the host passes (icmp = "ping"), not through it
        expect drop out $BE icmp -   $FE
        expect pass out $HUT_WAN icmp - $FE
        # no input rules: nothing reaches the host's services
        expect drop out $HUT_WAN tcp 22 $FE
        expect drop lan $HUT_LAN tcp 22 $LAN
        expect drop srv $HUT_SRV tcp 80 $BE
done

baseline "without a firewall every probe passes"
apply_policy "$(example 002-isa-frontend-backend.conf)"
run_table "002-isa-frontend-backend"
summary
