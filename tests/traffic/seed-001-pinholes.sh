#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Seed 001 with endpoint-mapper pinholes (001-citrix-exchange-rpc-pinholes.conf):
# the same table as seed-001.sh, except that no static high-port range is
# open: 1024-2000 and the Windows dynamic range are dropped even from the
# CAG until a reply of the endpoint mapper opens a port (tests/traffic/rpc-samba.sh).
. "$(dirname "$0")/topo.sh"

topo_require
topo_build
listen hut --tcp 22,80
listen srv --tcp 80,135,443,1024,1500,2000,49152,65535

for f in 4 6; do
        fam $f
        expect pass out $SRV10 tcp 135   $CAG
        expect drop out $SRV10 tcp 1024  $CAG    # the range version's ports are not open
        expect drop out $SRV10 tcp 1500  $CAG
        expect drop out $SRV10 tcp 2000  $CAG
        expect drop out $SRV10 tcp 49152 $CAG    # nor Windows' dynamic range
        expect drop out $SRV10 tcp 65535 $CAG
        expect drop out $SRV10 tcp 80    $CAG
        expect drop out $SRV11 tcp 135   $CAG    # not Exchange
        expect drop out $SRV10 tcp 135   $RND
        expect drop lan $SRV10 tcp 1500  $LAN
        expect pass out $SRV10 tcp 443   $RND
        expect pass lan $SRV10 tcp 443   $LAN
        expect drop out $SRV11 tcp 443   $RND
        expect pass lan $HUT_LAN tcp 22  $LAN
        expect drop out $HUT_WAN tcp 22  $RND
done

baseline "without a firewall every probe passes"
apply_policy "$(example 001-citrix-exchange-rpc-pinholes.conf)"
run_table "001-citrix-exchange-rpc-pinholes"
summary
