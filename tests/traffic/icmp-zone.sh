#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# ICMP per zone (README, "ICMP"): options.icmp = "essential" and
# forward_icmp = "essential" everywhere, and ping from the LAN only, to the
# host and through it, written as one rule of rules = (...) for both chains
# next to an input-and-forward rule for DNS.  Ping from the Internet and from
# the servers is dropped; the ICMP error that makes UDP fail fast (port
# unreachable, from the host and from behind it) still comes back: an error
# about a tracked flow is "related" and passes the ct state rule, ahead of
# the ICMP options (README, "ICMP").
. "$(dirname "$0")/topo.sh"

topo_require
topo_build
policy="$TOPO_TMP/icmp-zone.conf"
cat > "$policy" <<'EOP'
options = { icmp = "essential"; forward_icmp = "essential"; };
zones = { lan = { interfaces = ["eth1"]; }; wan = { interfaces = ["ppp0"]; }; };
rules = (
  { allow = "ping"; from = "lan"; chains = ["input", "forward"]; comment = "ping from the LAN only"; },
  { allow = ["dns", "udp/5353"]; chains = ["input", "forward"]; comment = "udp/5353: nobody listens"; }
);
EOP
listen hut --udp 53
listen srv --udp 53
listen out --udp 53

# ping_table, udp_table: two tables, run one after the other: a v4
# ping probe's raw socket sees every ICMP error sent to its address, also the
# port unreachable meant for a UDP probe from the same source
ping_table() {
        for f in 4 6; do
                fam $f
                # from the LAN to the host and through it, nowhere else
                expect pass lan $HUT_LAN icmp - $LAN
                expect pass lan $SRV10 icmp - $LAN
                expect pass lan $OUT icmp - $LAN
                expect drop out $HUT_WAN icmp - $RND
                expect drop out $SRV10 icmp - $RND
                expect drop srv $HUT_SRV icmp - $SRV10
                expect drop srv $OUT icmp - $SRV10
        done
}
udp_table() {
        for f in 4 6; do
                fam $f
                # an open UDP port, and one open in the firewall whose port unreachable comes back
                expect pass out $HUT_WAN udp 53 $RND
                expect pass out $SRV10 udp 53 $RND
                expect refused out $HUT_WAN udp 5353 $RND
                expect refused out $SRV10 udp 5353 $RND
                expect refused srv $OUT udp 5353 $SRV10
        done
}

ping_table
baseline "ping without a firewall"
table_clear
udp_table
baseline "udp without a firewall"
table_clear
apply_policy "$policy"
ping_table
run_table "ping from the LAN only"
udp_table
run_table "udp, and the ICMP errors of its flows"
summary
