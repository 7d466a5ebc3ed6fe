#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Seed 001: Outlook through a Citrix Access Gateway to Exchange RPC.
# Only the CAG reaches Exchange on tcp/135 and 1024-2000; HTTPS (OWA) to
# Exchange from anyone; ssh to the host from the LAN only.
. "$(dirname "$0")/topo.sh"

topo_require
topo_build
listen hut --tcp 22,80
listen srv --tcp 80,135,443,1024,1500,2000,2001

for f in 4 6; do
        fam $f
        # forward: Exchange RPC from the CAG only
        expect pass out $SRV10 tcp 135  $CAG
        expect pass out $SRV10 tcp 1024 $CAG
        expect pass out $SRV10 tcp 1500 $CAG
        expect pass out $SRV10 tcp 2000 $CAG
        expect drop out $SRV10 tcp 2001 $CAG
        expect drop out $SRV10 tcp 80   $CAG
        expect drop out $SRV11 tcp 135  $CAG      # not Exchange
        expect drop out $SRV10 tcp 135  $RND
        expect drop out $SRV10 tcp 1500 $RND
        expect drop out $SRV10 tcp 135  $OUT
        expect drop lan $SRV10 tcp 1500 $LAN
        # forward: OWA from anyone, to Exchange only
        expect pass out $SRV10 tcp 443  $RND
        expect pass out $SRV10 tcp 443  $CAG
        expect pass lan $SRV10 tcp 443  $LAN
        expect drop out $SRV11 tcp 443  $RND
        expect drop out $SRV20 tcp 443  $RND
        # forward_icmp defaults to "essential": no echo through
        expect drop out $SRV10 icmp -   $RND
        # input: ssh from the LAN only; ping (icmp = "ping", the default)
        expect pass lan $HUT_LAN tcp 22 $LAN
        expect drop out $HUT_WAN tcp 22 $RND
        expect drop out $HUT_LAN tcp 22 $OUT      # the LAN address, from outside
        expect drop lan $HUT_LAN tcp 80 $LAN
        expect pass out $HUT_WAN icmp - $RND
        expect pass lan $HUT_LAN icmp - $LAN
done

baseline "without a firewall every probe passes"
apply_policy "$(example 001-citrix-exchange-rpc.conf)"
run_table "001-citrix-exchange-rpc"
summary
