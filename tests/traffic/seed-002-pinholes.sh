#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Seed 002 with endpoint-mapper pinholes (002-isa-frontend-backend-pinholes.conf):
# the front-end reaches the back-end's and the DC's endpoint mappers; the
# registry-pinned port 1600 of the fixed-port version and the "1024+" of the
# seed's list stay closed until a reply opens a port.
. "$(dirname "$0")/topo.sh"

topo_require
topo_build
listen srv --tcp 25,135,389,1600,3268,49152,60000

for f in 4 6; do
        fam $f
        expect pass out $SRV10 tcp 135   $OUT    # the front-end is 198.18.0.2 / 2001:db8::2
        expect pass out $SRV11 tcp 135   $OUT
        expect drop out $SRV20 tcp 135   $OUT    # neither back-end nor DC
        expect drop out $SRV10 tcp 1600  $OUT    # the fixed port of 002-isa-frontend-backend.conf
        expect drop out $SRV11 tcp 49152 $OUT
        expect drop out $SRV10 tcp 60000 $OUT
        expect drop out $SRV10 tcp 135   $RND
        expect pass out $SRV10 tcp 25    $OUT
        expect pass out $SRV11 tcp 389   $OUT
        expect pass out $SRV11 tcp 3268  $OUT
        expect drop out $SRV10 tcp 389   $OUT    # LDAP to the DC only
done

baseline "without a firewall every probe passes"
apply_policy "$(example 002-isa-frontend-backend-pinholes.conf)"
run_table "002-isa-frontend-backend-pinholes"
summary
