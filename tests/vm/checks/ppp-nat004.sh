#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vm check (guest only; issue 17): seed 004's NAT with a real pppd.
# posternd runs conf/examples/004-dialup-masquerade.conf; two real pppds
# joined by a pty (the peer, "the ISP", in a namespace of its own) bring up
# ppp0 (ppp_generic, ppp_async); the LAN (eth1, 198.18.1.10) and the server
# network (eth2, webmail 198.18.2.20:443) are namespaces behind the host.
# The ISP has no route to the LAN: a LAN connection that passes was
# masqueraded.  Then pppd reconnects with another address (ppp0 deleted and
# created again, as pppd does): the LAN still gets out, the port forward
# works on the new address and not on the old one (moved to lo, routed).
# Figure: new address → first connection through the port forward.
. "${POSTERN_SOURCE_ROOT:?}/tests/daemon/lib.sh"
[ -d /run/vm/kernel ] || skip "runs inside the vm suite's guest only (real pppd, a /run of its own)"
t_require
command -v pppd >/dev/null || skip "no pppd"
[ -c /dev/ppp ] || skip "no /dev/ppp (ppp_generic)"
PROBE=$T_BUILD/tests/traffic/probe
[ -x "$PROBE" ] || skip "probe not built"
NS=$(t_netns ppp)
ISP=$(t_netns isp)
LAN=$(t_netns lan)
SRV=$(t_netns srv)
t_bus_start
t_notify_start
P=$T_TMP/postern.conf
cp "$T_SRC/conf/examples/004-dialup-masquerade.conf" "$P"
nsx "$NS" sysctl -qw net.ipv4.ip_forward=1 || die "ip_forward"
ip -n "$NS" link add eth1 type veth peer name hut0 netns "$LAN" || die "veth eth1"
ip -n "$NS" link add eth2 type veth peer name hut0 netns "$SRV" || die "veth eth2"
ip -n "$NS" addr add 198.18.1.1/24 dev eth1
ip -n "$NS" addr add 198.18.2.1/24 dev eth2
ip -n "$LAN" addr add 198.18.1.10/24 dev hut0
ip -n "$SRV" addr add 198.18.2.20/24 dev hut0
ip -n "$ISP" addr add 198.18.100.7/32 dev lo
for l in "$NS eth1" "$NS eth2" "$LAN hut0" "$SRV hut0"; do set -- $l; ip -n "$1" link set "$2" up; done
ip -n "$LAN" route add default via 198.18.1.1
ip -n "$SRV" route add default via 198.18.2.1
ip netns exec "$SRV" "$PROBE" listen --tcp 443 --lifetime 600 >"$T_TMP/listen-srv.log" 2>&1 &
T_PIDS+=($!)
ip netns exec "$ISP" "$PROBE" listen --tcp 80 --lifetime 600 >"$T_TMP/listen-isp.log" 2>&1 &
T_PIDS+=($!)
t_wait_count "$T_TMP/listen-srv.log" ready 1 30 || die "listener in srv did not start"
t_wait_count "$T_TMP/listen-isp.log" ready 1 30 || die "listener in isp did not start"

t_daemon "$NS" --policy "$P"
t_wait_ready 1 30
t_wait_name org.postern1 30 || die "org.postern1 not on the bus"

# ppp_up LOCAL: pppd here (default route through the peer), its peer in $ISP over a pty
ppp_up() {
        ip netns exec "$NS" pppd noauth nodetach local nocrtscts nolock noipv6 defaultroute "$1:198.18.0.2" \
                logfile "$T_TMP/pppd.log" \
                pty "ip netns exec $ISP pppd noauth nodetach notty local nocrtscts nolock noipv6 198.18.0.2:$1 logfile $T_TMP/pppd-isp.log" \
                >>"$T_TMP/pppd.out" 2>&1 &
        PPPD=$!
        T_PIDS+=("$PPPD")
}
ppp_down() {
        local i
        kill -TERM "$PPPD"
        for i in $(seq 1 200); do kill -0 "$PPPD" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$PPPD" 2>/dev/null && die "pppd did not stop"
        for i in $(seq 1 100); do ip -n "$NS" link show ppp0 >/dev/null 2>&1 || break; sleep 0.1; done
}
fwd() { ip netns exec "$ISP" "$PROBE" connect "$1" tcp 8443 --from 198.18.100.7 --timeout-ms "${2:-3000}"; }
masq() { ip netns exec "$LAN" "$PROBE" connect 198.18.100.7 tcp 80 --timeout-ms 3000; }
# wait_forward ADDR: until the forward on ADDR passes; prints the ms since the address appeared
wait_forward() {
        local i t0 t1
        for i in $(seq 1 600); do ip -n "$NS" -4 addr show dev ppp0 2>/dev/null | grep -q "inet $1 " && break; sleep 0.05; done
        t0=$(date +%s%N)
        for i in $(seq 1 100); do [ "$(fwd "$1" 200)" = pass ] && break; done
        t1=$(date +%s%N)
        [ "$(fwd "$1")" = pass ] || die "the port forward on $1 does not work"
        echo "figure: ppp0 $1 appeared → first connection through the port forward: $(((t1 - t0) / 1000000)) ms ($i attempts)"
}

info "pppd up: ppp0 198.18.0.1 peer 198.18.0.2"
ppp_up 198.18.0.1
wait_forward 198.18.0.1
ip -n "$NS" -d link show ppp0 | grep -q 'link/ppp' || die "ppp0 is not a real PPP link"
[ "$(masq)" = pass ] || die "the LAN does not get out masqueraded"
echo "ok: 198.18.0.1 forwards 8443 to webmail; the LAN leaves masqueraded"

info "reconnect: pppd down, up again with 198.18.0.5"
ppp_down
t_wait_set "$NS" ifaddr_ppp0_v4 ""
ip -n "$NS" addr add 198.18.0.1/32 dev lo
ppp_up 198.18.0.5
wait_forward 198.18.0.5
ip -n "$ISP" route add 198.18.0.1/32 dev ppp0
[ "$(masq)" = pass ] || die "the LAN does not get out after the reconnect"
[ "$(ip netns exec "$ISP" "$PROBE" ping 198.18.0.1 --timeout-ms 3000)" = pass ] ||
        die "ping to the old address fails: the route is broken, the next probe would prove nothing"
[ "$(fwd 198.18.0.1)" = timeout ] || die "the port forward still works on the old address 198.18.0.1"
echo "ok: 198.18.0.5 forwards 8443; the old 198.18.0.1 (on lo, routed) does not; the LAN gets out"
ppp_down
t_alive
t_stop
[ "$DRC" = 0 ] || die "posternd exit $DRC"
echo "ok: seed 004's NAT with a real pppd"
