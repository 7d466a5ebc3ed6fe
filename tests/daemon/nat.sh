#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Seed 004's NAT with the daemon (issue 17): port 8443 of ppp0's current
# address is forwarded to 198.18.2.20:443 and the server network is
# masqueraded behind ppp0.  ppp0 reconnects with a new address (the old one
# deleted, the new one added, as pppd does); posternd rewrites the
# interface-address set only (Generation unchanged), and the time from the
# new address appearing to the first connection through the port forward on
# it is measured: connections of 20 ms timeout each, one after the other,
# until one passes.  A UDP flow masqueraded before a reconnect, sent again
# with the same ports after it, must leave with the new address: posternd
# deletes the NAT entries of a removed address (the kernel's masquerade
# flush compares a point-to-point address's peer, and misses).  Prints "address change → port forward: N ms" per
# reconnect (which includes starting one probe in the namespace: the cost
# of one connection in steady state is printed first) and the daemon's own
# event→commit figures (tests/bench/RESULTS.md, "NAT").
# With NAT_BACKEND=iptables (nat-iptables.sh) the same through posternd
# --backend iptables: the interface-address set is an ipset, refilled by
# one `ipset swap` under the DNAT rule.
. "$(dirname "$0")/lib.sh"
t_require
backend=()
if [ "${NAT_BACKEND:-}" = iptables ]; then
        command -v ipset >/dev/null || skip "no ipset"
        "$POSTERND" --backend iptables --help >/dev/null 2>&1 || skip "posternd built without the iptables backend"
        backend=(--backend iptables)
fi
# ifaddr_ppp0_v4's elements: the nft set, or the ipset behind it
ifaddr_set() {
        if [ -n "${backend[*]}" ]; then
                nsx "$HUT" ipset list postern-ifaddr_ppp0_v4 2>/dev/null | sed -n '/^Members:/,$p' | tail -n +2 | tr -d '\n'
        else
                t_set "$HUT" ifaddr_ppp0_v4
        fi
}
wait_ifaddr() { # wait_ifaddr WANT: until ifaddr_ppp0_v4 holds WANT ("" = empty), 5 s
        local i
        for i in $(seq 1 500); do
                [ "$(ifaddr_set)" = "$1" ] && return 0
                sleep 0.01
        done
        die "set ifaddr_ppp0_v4 is '$(ifaddr_set)', expected '$1'"
}
PROBE=$T_BUILD/tests/traffic/probe
[ -x "$PROBE" ] || skip "tests/traffic/probe not built"
HUT=$(t_netns hut)
OUT=$(t_netns out)
SRV=$(t_netns srv)
t_bus_start
t_notify_start
P=$T_TMP/postern.conf
cat >"$P" <<'EOT'
zones = {
  wan = { interfaces = ["ppp0"]; };
  servers = { interfaces = ["eth2"]; networks = ["198.18.2.0/24"]; };
};
input = ( { allow = ["ssh"]; } );
forward = ( { allow = ["http", "dns"]; from = "servers"; to = "wan"; } );
nat = (
  { masquerade = { out = "wan"; from = "servers"; }; },
  { forward = { on = "(ppp0)"; tcp = ["8443:443"]; to = "198.18.2.20"; comment = "webmail"; }; }
);
EOT
nsx "$HUT" sysctl -qw net.ipv4.ip_forward=1 || die "ip_forward"
# ppp0: a veth whose peer is the Internet side, point-to-point addressing as pppd sets it
ip -n "$HUT" link add ppp0 type veth peer name hut0 netns "$OUT" || die "veth ppp0"
ip -n "$HUT" link add eth2 type veth peer name hut0 netns "$SRV" || die "veth eth2"
ip -n "$HUT" addr add 198.18.2.1/24 dev eth2
ip -n "$SRV" addr add 198.18.2.20/24 dev hut0
ip -n "$OUT" addr add 198.18.0.2/32 dev hut0
ip -n "$OUT" addr add 198.18.100.7/32 dev lo
for l in "$HUT ppp0" "$HUT eth2" "$OUT hut0" "$SRV hut0"; do set -- $l; ip -n "$1" link set "$2" up; done
ip -n "$SRV" route add default via 198.18.2.1
# the Internet side reaches every address ppp0 will have (no route to 198.18.2.0/24: masquerade or nothing)
ip -n "$OUT" route add 198.18.0.0/24 dev hut0
ip netns exec "$SRV" "$PROBE" listen --tcp 443 --lifetime 150 >"$T_TMP/listen-srv.txt" 2>&1 &
T_PIDS+=($!)
ip netns exec "$OUT" "$PROBE" listen --tcp 80 --lifetime 150 >"$T_TMP/listen-out.txt" 2>&1 &
T_PIDS+=($!)
t_wait_count "$T_TMP/listen-srv.txt" ready 1 5 || die "listener in srv did not start"
t_wait_count "$T_TMP/listen-out.txt" ready 1 5 || die "listener in out did not start"
fwd() { nsx "$OUT" "$PROBE" connect "$1" tcp 8443 --from 198.18.100.7 --timeout-ms "${2:-400}"; }
masq() { nsx "$SRV" "$PROBE" connect 198.18.100.7 tcp 80 --timeout-ms 400; }
ppp_addr() { # ppp_addr OLD NEW: pppd's reconnect, in place
        [ -n "$1" ] && ip -n "$HUT" addr del "$1" peer 198.18.0.2/32 dev ppp0
        ip -n "$HUT" addr add "$2" peer 198.18.0.2/32 dev ppp0
}

info "start with ppp0 at 198.18.0.1"
ppp_addr "" 198.18.0.1
ip -n "$HUT" route add default via 198.18.0.2 dev ppp0
t_daemon "$HUT" --policy "$P" "${backend[@]}"
t_wait_ready 1
t_wait_name org.postern1 || die "no bus name"
wait_ifaddr 198.18.0.1
if [ -n "${backend[*]}" ]; then # the rules really are in table nat, and nft has none
        nsx "$HUT" iptables-legacy-save -t nat | grep -q -- "-m set --match-set postern-ifaddr_ppp0_v4 dst .* -j DNAT --to-destination 198.18.2.20:443" ||
                die "no DNAT on the ifaddr ipset in table nat"
        ! nsx "$HUT" nft list table inet postern >/dev/null 2>&1 || die "an nft table with --backend iptables"
fi
[ "$(fwd 198.18.0.1)" = pass ] || die "the port forward on 198.18.0.1 does not work"
[ "$(masq)" = pass ] || die "the server network is not masqueraded"
gen=$(prop Generation)
# a UDP flow from a fixed source port: the same 5-tuple after the reconnect
# is the stale-conntrack check (does it leave with the old address?)
udp_flow() {
        nsx "$SRV" "$PY" -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("198.18.2.20", 40000))
s.sendto(b"x", ("198.18.100.7", 53))' || die "cannot send from srv"
}
seen() { nsx "$OUT" nft list chain inet seen in | grep -F "ip saddr $1 " | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }
printf 'table inet seen {\n chain in {\n  type filter hook input priority 0;\n' >"$T_TMP/seen.nft"
for a in 198.18.0.1 198.18.0.5 198.18.2.20; do echo "  ip saddr $a udp dport 53 counter" >>"$T_TMP/seen.nft"; done
printf ' }\n}\n' >>"$T_TMP/seen.nft"
nsx "$OUT" nft -f "$T_TMP/seen.nft" || die "cannot set up counters in out"
udp_flow
[ "$(seen 198.18.0.1)" = 1 ] || die "the UDP flow did not leave masqueraded to 198.18.0.1"
t0=$(date +%s%N)
for i in 1 2 3 4 5; do [ "$(fwd 198.18.0.1 20)" = pass ] || die "the port forward failed in steady state"; done
t1=$(date +%s%N)
echo "one connection through the port forward, nothing changing: $(((t1 - t0) / 5000000)) ms (the floor of the figure below)"

old=198.18.0.1
for new in 198.18.0.5 198.18.0.9 198.18.0.13 198.18.0.17 198.18.0.21; do
        info "reconnect: $old → $new"
        ip -n "$HUT" addr del "$old" peer 198.18.0.2/32 dev ppp0
        wait_ifaddr ""
        t0=$(date +%s%N)
        ip -n "$HUT" addr add "$new" peer 198.18.0.2/32 dev ppp0
        ip -n "$HUT" route replace default via 198.18.0.2 dev ppp0
        ok=
        for i in $(seq 1 250); do
                [ "$(fwd "$new" 20)" = pass ] && { ok=1; break; }
        done
        t1=$(date +%s%N)
        [ -n "$ok" ] || die "the port forward does not work on $new"
        echo "address change → port forward: $(((t1 - t0) / 1000000)) ms ($i attempts)"
        ip -n "$HUT" addr add "$old/32" dev lo # the old address, still on the host
        [ "$(fwd "$old")" = timeout ] || die "the port forward still works on the old address $old"
        ip -n "$HUT" addr del "$old/32" dev lo
        [ "$(masq)" = pass ] || die "no masquerade after the reconnect to $new"
        if [ "$new" = 198.18.0.5 ]; then
                # the entry masqueraded to the old address went with it (posternd's flush)
                udp_flow
                [ "$(seen 198.18.0.5)" = 1 ] && [ "$(seen 198.18.0.1)" = 1 ] && [ "$(seen 198.18.2.20)" = 0 ] ||
                        die "the UDP flow after the reconnect: $(seen 198.18.0.1) from the old address, $(seen 198.18.0.5) from the new, $(seen 198.18.2.20) untranslated"
                echo "the masqueraded flow's conntrack entry went with the old address: the same flow leaves with the new one"
                grep -q "forgot [0-9]* NAT connection(s) of removed addresses" "$DLOG" || die "posternd did not say it forgot the flow"
        fi
        old=$new
done
[ "$(prop Generation)" = "$gen" ] || die "a reconnect rebuilt the table (generation $gen → $(prop Generation))"
grep "event to commit" "$DLOG" | sed 's/.*event to commit \([0-9]*\) us.*/\1/' | sort -n |
        awk '{v[NR]=$1} END {if (NR) printf "event→commit: %d samples, median %d us, max %d us\n", NR, v[int((NR+1)/2)], v[NR]}'
t_stop
[ "$DRC" = 0 ] || die "exit status $DRC"
echo "PASS"
