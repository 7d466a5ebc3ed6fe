#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Seed 004 with the daemon: mail is open on ppp0's *current* address only
# (to = "(ppp0)").  ppp0 is fake-pppd.py's tun stand-in (ARPHRD_PPP, pppd's
# ioctl sequence).  The ifaddr set follows: ppp0 appearing after the daemon,
# a reconnect (delete and re-create with a new ifindex and address), an
# address change in place, a rename away and back, IPv6 (ppp0's link-local
# address kept out of "(ppp0)", in "(ppp0, link)"); real TCP probes
# from a peer show the new address served and the old one (moved to lo)
# refused; unrelated events write nothing.
. "$(dirname "$0")/lib.sh"
t_require
PROBE=$T_BUILD/tests/traffic/probe
[ -x "$PROBE" ] || skip "tests/traffic/probe not built"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
HUT=$(t_netns hut)
OUT=$(t_netns out)
t_bus_start
t_notify_start
P=$T_TMP/postern.conf
policy_ppp0 "$P"
# and IMAPS on "(ppp0, link)": the link-local addresses too
sed -i 's|^  { allow = \["ssh"\]|  { allow = ["imaps"]; to = "(ppp0, link)"; },\n&|' "$P"
grep -q '"(ppp0, link)"' "$P" || die "policy edit failed"

ip -n "$HUT" link add wan0 type veth peer name out0 netns "$OUT"
ip -n "$HUT" addr add 198.18.20.1/24 dev wan0
ip -n "$OUT" addr add 198.18.20.2/24 dev out0
ip -n "$HUT" -6 addr add 2001:db8:20::1/64 dev wan0 nodad
ip -n "$OUT" -6 addr add 2001:db8:20::2/64 dev out0 nodad
ip -n "$HUT" link set wan0 up
ip -n "$OUT" link set out0 up
ip -n "$OUT" route add 198.18.0.0/24 via 198.18.20.1
ip -n "$OUT" -6 route add 2001:db8::/64 via 2001:db8:20::1
ip netns exec "$HUT" "$PROBE" listen --tcp 22,25,993 --lifetime 150 >"$T_TMP/listen.txt" 2>&1 &
T_PIDS+=($!)
t_wait_count "$T_TMP/listen.txt" ready 1 5 || die "probe listener did not start"
probe() { nsx "$OUT" "$PROBE" connect "$1" tcp "${2:-25}" --timeout-ms 400; }

PPPD=
ppp_up() { # ppp_up LOCAL
        ip netns exec "$HUT" "$PY" "$T_HERE/fake-pppd.py" --local "$1" --remote 198.18.0.2 >>"$T_TMP/pppd.log" 2>&1 &
        PPPD=$!
        T_PIDS+=("$PPPD")
}
ppp_down() {
        local i
        kill -TERM "$PPPD"
        for i in $(seq 1 100); do kill -0 "$PPPD" 2>/dev/null || break; sleep 0.05; done
        kill -0 "$PPPD" 2>/dev/null && die "fake-pppd did not stop"
}

info "start before ppp0 exists: the set is empty"
t_daemon "$HUT" --policy "$P"
t_wait_ready 1
t_wait_name org.postern1 || die "no bus name"
[ "$(t_set "$HUT" ifaddr_ppp0_v4)" = "" ] || die "ifaddr_ppp0_v4 not empty"
t_table "$HUT" | grep -q "set ifaddr_ppp0_v4" || die "no ifaddr_ppp0_v4 set"

info "ppp0 comes up (198.18.0.1): the set follows, SMTP served there"
ppp_up 198.18.0.1
t_wait_set "$HUT" ifaddr_ppp0_v4 198.18.0.1
[ "$(probe 198.18.0.1)" = pass ] || die "SMTP to ppp0's address refused"
[ "$(probe 198.18.20.1)" = timeout ] || die "SMTP to another address of the host not dropped"
gen=$(prop Generation)

info "reconnect: ppp0 down (deleted), up again with a new ifindex and 198.18.0.5"
ppp_down
t_wait_set "$HUT" ifaddr_ppp0_v4 ""
ppp_up 198.18.0.5
t_wait_set "$HUT" ifaddr_ppp0_v4 198.18.0.5
ip -n "$HUT" addr add 198.18.0.1/32 dev lo # the old address, still on the host
[ "$(probe 198.18.0.5)" = pass ] || die "SMTP to the new address refused"
[ "$(probe 198.18.0.1)" = timeout ] || die "SMTP to the old address not dropped"
[ "$(probe 198.18.0.1 22)" = pass ] || die "ssh to the old address refused (is it reachable at all?)"
[ "$(prop Generation)" = "$gen" ] || die "a set update rebuilt the table (generation changed)"

info "address change in place: 198.18.0.5 → 198.18.0.6"
ip -n "$HUT" addr del 198.18.0.5 peer 198.18.0.2/32 dev ppp0
ip -n "$HUT" addr add 198.18.0.6 peer 198.18.0.2/32 dev ppp0
t_wait_set "$HUT" ifaddr_ppp0_v4 198.18.0.6
ip -n "$HUT" addr add 198.18.0.5/32 dev lo
[ "$(probe 198.18.0.6)" = pass ] || die "SMTP to 198.18.0.6 refused"
[ "$(probe 198.18.0.5)" = timeout ] || die "SMTP to 198.18.0.5 not dropped"

info "IPv6 on ppp0: the link-local address (added first) only in (ppp0, link)"
ip -n "$HUT" -6 addr add fe80::6/64 dev ppp0 nodad
ip -n "$HUT" -6 addr add 2001:db8::6/128 dev ppp0 nodad
t_wait_set "$HUT" ifaddr_ppp0_v6 2001:db8::6
# nft prints two IPv6 elements on two lines: ask for them instead
ll_has() { nsx "$HUT" nft get element inet postern ifaddrll_ppp0_v6 "{ $1 }" >/dev/null 2>&1; }
for i in $(seq 1 500); do ll_has fe80::6 && ll_has 2001:db8::6 && break; sleep 0.01; done
ll_has fe80::6 && ll_has 2001:db8::6 || die "ifaddrll_ppp0_v6 lacks fe80::6 or 2001:db8::6"
# one monitor, events in order: fe80::6 was seen before 2001:db8::6
[ "$(t_set "$HUT" ifaddr_ppp0_v6)" = 2001:db8::6 ] || die "ifaddr_ppp0_v6 is '$(t_set "$HUT" ifaddr_ppp0_v6)'"
[ "$(t_set "$HUT" ifaddrll_ppp0_v4)" = 198.18.0.6 ] || die "ifaddrll_ppp0_v4 is '$(t_set "$HUT" ifaddrll_ppp0_v4)'"
[ "$(probe 2001:db8::6)" = pass ] || die "SMTP to 2001:db8::6 refused"
[ "$(probe 2001:db8::6 993)" = pass ] || die "IMAPS to 2001:db8::6 refused"

info "rename away (the set empties) and back (it refills)"
ip -n "$HUT" link set ppp0 down
ip -n "$HUT" link set ppp0 name ppp9
t_wait_set "$HUT" ifaddr_ppp0_v4 ""
ip -n "$HUT" link set ppp9 name ppp0
ip -n "$HUT" link set ppp0 up
t_wait_set "$HUT" ifaddr_ppp0_v4 198.18.0.6

info "unrelated events write nothing"
sleep 0.1
n=$(prop SetUpdates)
lines=$(wc -l <"$DLOG")
ip -n "$HUT" addr add 198.18.21.1/24 dev wan0
ip -n "$HUT" link add veth7 type veth peer name veth8
ip -n "$HUT" link set veth7 up
ip -n "$HUT" addr add 198.18.22.1/24 dev veth7
ip -n "$HUT" link del veth7
ip -n "$HUT" link set ppp0 mtu 1400 # ppp0 itself, but not its addresses
sleep 0.3
t_alive
[ "$(prop SetUpdates)" = "$n" ] || die "unrelated events caused set updates ($n → $(prop SetUpdates))"
[ "$(wc -l <"$DLOG")" = "$lines" ] || { tail -n +$((lines + 1)) "$DLOG"; die "unrelated events were logged as decisions"; }

info "posternctl reapply: re-check, nothing to write; unknown interface → NoSuchInterface"
"$POSTERNCTL" reapply ppp0 || die "posternctl reapply ppp0 failed"
[ "$(prop SetUpdates)" = "$n" ] || die "reapply without a change wrote to the kernel"
"$POSTERNCTL" reapply nosuch0 2>"$T_TMP/err.txt"
[ $? = 1 ] && grep -q "no interface nosuch0" "$T_TMP/err.txt" || die "reapply nosuch0: $(cat "$T_TMP/err.txt")"

info "ppp0 goes down for good"
ppp_down
t_wait_set "$HUT" ifaddr_ppp0_v4 ""
[ "$(t_set "$HUT" ifaddr_ppp0_v6)" = "" ] || die "ifaddr_ppp0_v6 not emptied"
[ "$(probe 198.18.0.6)" = timeout ] || die "SMTP to the gone address not dropped"
grep "event to commit" "$DLOG" | sed 's/.*event to commit \([0-9]*\) us.*/\1/' | sort -n |
        awk '{v[NR]=$1} END {if (NR) printf "event→commit: %d samples, median %d us, max %d us\n", NR, v[int((NR+1)/2)], v[NR]}'
t_stop
[ "$DRC" = 0 ] || die "exit status $DRC"
echo "PASS"
