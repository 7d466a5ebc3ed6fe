#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Seed 003: Exchange (198.18.2.10) behind this firewall with its RPC ports
# pinned (135 + 34567 + 34568), SMTP and POP3 to it, and OWA (80, 443) on a
# separate server (198.18.2.20) — from anyone.  Nothing else.
. "$(dirname "$0")/topo.sh"

topo_require
topo_build
listen srv --tcp 25,80,110,113,135,443,1024,3389,34566,34567,34568,34569,49152 --udp 135
listen hut --tcp 22,25,135

for f in 4 6; do
        fam $f
        EXCH=$SRV10 OWA=$SRV20
        for src in "out $RND" "out $CAG" "lan $LAN"; do
                set -- $src
                for p in 135 34567 34568 25 110; do
                        expect pass $1 $EXCH tcp $p $2
                done
                for p in 34566 34569 3389 1024 49152 113 80 443; do
                        expect drop $1 $EXCH tcp $p $2
                done
                expect pass $1 $OWA tcp 80  $2
                expect pass $1 $OWA tcp 443 $2
                expect drop $1 $OWA tcp 25  $2
                expect drop $1 $OWA tcp 135 $2
                expect drop $1 $SRV11 tcp 135 $2
        done
        # not to the host itself (no input rules); ping passes (icmp = "ping")
        expect drop out $HUT_WAN tcp 135 $RND
        expect drop out $HUT_WAN tcp 25  $RND
        expect drop lan $HUT_LAN tcp 22  $LAN
        expect pass out $HUT_WAN icmp -  $RND
        # forward_icmp = "essential": no echo through
        expect drop out $EXCH icmp - $RND
done

baseline "without a firewall every probe passes"
apply_policy "$(example 003-exchange-fixed-rpc.conf)"
run_table "003-exchange-fixed-rpc"
summary
