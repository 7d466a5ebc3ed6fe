#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The Docker-host recipe of the README ("A Docker host"), with real packets:
# a container-like namespace behind a Linux bridge docker0 on the host under
# test (the hut), the Internet behind ppp0.
#
#   ctr 198.18.5.2, 2001:db8:5::2 ── veth ── docker0 (bridge in the hut)
#                                            198.18.5.1, 2001:db8:5::1
#
# 1. forward = "managed" (the default), docker0/br-+ a trusted zone: the
#    container reaches the Internet (every protocol) and the host; from the
#    Internet only the published port's forward rule (tcp/443 to the
#    container, as after Docker's DNAT); the host's own input stays closed
#    but for its one rule (ssh from the wan).
# 2. forward = "unmanaged": Docker's own iptables-nft tables (table ip filter
#    / ip6 filter, chain FORWARD, policy drop, as dockerd writes them; legacy
#    FORWARD rules with POSTERN_BACKEND=iptables) decide forwarding, postern
#    installs no forward chain and still guards input.
# With POSTERN_EVAL (eval.sh, unit suite: eval-docker-host) part 1 through the
# ruleset evaluator instead of the kernel.
. "$(dirname "$0")/topo.sh"

topo_require
topo_build

# the container and its bridge
ip netns add "$NS_CTR" || die "ip netns add $NS_CTR"
TOPO_CREATED+=("$NS_CTR")
H="x ip -n $NS_HUT" C="x ip -n $NS_CTR" O="x ip -n $NS_OUT"
$C link set lo up
nsysctl ctr net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
$H link add docker0 type bridge
$H link add veth0ctr type veth peer name eth0 netns "$NS_CTR"
$H link set veth0ctr master docker0
$H link set veth0ctr up
$H link set docker0 up
$H addr add 198.18.5.1/24 dev docker0
$H -6 addr add 2001:db8:5::1/64 dev docker0 nodad
$C link set eth0 up
$C addr add 198.18.5.2/24 dev eth0
$C -6 addr add 2001:db8:5::2/64 dev eth0 nodad
$C route add default via 198.18.5.1
$C -6 route add default via 2001:db8:5::1
# the Internet reaches the container network through the host (Docker would
# masquerade it; routing keeps the probes' addresses visible)
$O route replace 198.18.5.0/24 via 198.18.0.1 dev hut0
$O -6 route replace 2001:db8:5::/64 via 2001:db8::1 dev hut0

listen ctr --tcp 80,443 --proto 50
listen out --tcp 80 --udp 53 --proto 47,50
listen hut --tcp 22,3306

# the probes both recipes must meet
common() {
        local f ctr gw
        for f in 4 6; do
                fam $f
                if [ $f = 4 ]; then ctr=198.18.5.2 gw=198.18.5.1; else ctr=2001:db8:5::2 gw=2001:db8:5::1; fi
                # container → outside: every protocol
                expect pass ctr $CAG tcp 80 $ctr
                expect pass ctr $CAG udp 53 $ctr
                expect pass ctr $CAG icmp - $ctr
                expect pass ctr $CAG proto 47 $ctr
                # outside → container: the published port only
                expect pass out $ctr tcp 443 $RND
                expect drop out $ctr tcp 80 $RND
                expect drop out $ctr proto 50 $RND
                # host input: closed from outside but for ssh, open to the container
                expect pass out $HUT_WAN tcp 22 $RND
                expect drop out $HUT_WAN tcp 3306 $RND
                expect drop out $gw tcp 3306 $RND
                expect pass ctr $gw tcp 3306 $ctr
                expect drop lan $HUT_LAN tcp 3306 $LAN
        done
}

common
baseline "without a firewall every probe passes"

cat > "$TOPO_TMP/managed.conf" <<'POLICY'
zones = {
  wan = { interfaces = ["ppp0"]; };
  docker = { interfaces = ["docker0", "br-+"]; trusted = true; };
};
input = (
  { allow = "ssh"; from = "wan"; }
);
forward = (
  { allow = "https"; from = "wan"; to = "docker"; comment = "published port, the container's side of the DNAT"; }
);
POLICY
apply_policy "$TOPO_TMP/managed.conf"
run_keep "Docker host, forward = managed, docker0 trusted"

# The evaluator (POSTERN_EVAL, eval.sh) judges postern's ruleset only: with
# forward = "unmanaged" forwarding is Docker's table, which it does not model
if [ -n "${POSTERN_EVAL:-}" ]; then
        echo "== Docker host, forward = unmanaged: skipped (evaluator: Docker's own table is not postern's)"
        summary
        exit
fi

# Docker's own forwarding rules, as dockerd writes them (iptables-nft, or
# legacy iptables on the iptables backend): accept from the bridge to
# elsewhere, replies to it, the published port; drop the rest
fw_remove || die "cannot remove the firewall"
if [ "${POSTERN_BACKEND:-}" = iptables ]; then
        for t in iptables-legacy ip6tables-legacy; do
                if [ $t = iptables-legacy ]; then c=198.18.5.2/32; else c=2001:db8:5::2/128; fi
                printf '%s\n' '*filter' ':FORWARD DROP [0:0]' ':DOCKER - [0:0]' '-A FORWARD -j DOCKER' \
                        '-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT' \
                        '-A FORWARD -i docker0 ! -o docker0 -j ACCEPT' \
                        "-A DOCKER -d $c ! -i docker0 -o docker0 -p tcp -m tcp --dport 443 -j ACCEPT" 'COMMIT' |
                        nsx hut $t-restore || die "$t-restore in the hut"
        done
else
        for f in ip ip6; do
                if [ $f = ip ]; then c=198.18.5.2; else c=2001:db8:5::2; fi
                printf 'table %s filter {\n chain DOCKER {\n  %s daddr %s iifname != "docker0" oifname "docker0" tcp dport 443 accept\n }\n chain FORWARD {\n  type filter hook forward priority filter; policy drop;\n  jump DOCKER\n  oifname "docker0" ct state related,established accept\n  iifname "docker0" oifname != "docker0" accept\n }\n}\n' \
                        $f $f $c | nsx hut nft -f - || die "nft -f (Docker's table) in the hut"
        done
fi
cat > "$TOPO_TMP/unmanaged.conf" <<'POLICY'
options = { forward = "unmanaged"; };
zones = {
  wan = { interfaces = ["ppp0"]; };
  docker = { interfaces = ["docker0", "br-+"]; trusted = true; };
};
input = (
  { allow = "ssh"; from = "wan"; }
);
POLICY
apply_policy "$TOPO_TMP/unmanaged.conf"
if [ "${POSTERN_BACKEND:-}" = iptables ]; then
        nsx hut iptables-legacy-save -t filter | grep -q '^-A FORWARD -j DOCKER' || die "Docker's FORWARD rules are gone"
else
        nsx hut nft list table inet postern | grep -q 'hook forward' && die "a forward chain with forward = unmanaged"
        nsx hut nft list table ip filter >/dev/null || die "Docker's table is gone"
fi
table_clear
common
run_table "Docker host, forward = unmanaged, Docker's own FORWARD rules"
summary
