#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# posternd with CAP_NET_ADMIN and nothing else (what postern.service's
# CapabilityBoundingSet leaves it): start, apply, follow an address change,
# reload on SIGHUP, stop.
. "$(dirname "$0")/lib.sh"
t_require
command -v setpriv >/dev/null || skip "no setpriv"
NS=$(t_netns caps)
t_notify_start
P=$T_TMP/postern.conf
policy_ppp0 "$P"
ip -n "$NS" link add ppp0 type veth peer name ppp0-peer || die "cannot create ppp0"
ip -n "$NS" link set ppp0-peer up && ip -n "$NS" link set ppp0 up || die "cannot set ppp0 up"

info "start with only CAP_NET_ADMIN"
T_WRAP=(setpriv --bounding-set=-all,+net_admin --inh-caps=-all)
t_daemon "$NS" --policy "$P" --no-bus
T_WRAP=()
t_wait_ready 1
caps=$(sed -n 's/^CapEff:\s*//p' "/proc/$DPID/status")
[ "$caps" = 0000000000001000 ] || die "effective capabilities are $caps, expected CAP_NET_ADMIN (0000000000001000) only"
t_table "$NS" | grep -q "ifaddr_ppp0_v4" || die "table not installed"

info "an address change is followed, SIGHUP reloads"
ip -n "$NS" addr add 198.18.0.9/32 dev ppp0 || die "ip addr add"
t_wait_set "$NS" ifaddr_ppp0_v4 198.18.0.9
kill -HUP "$DPID"
t_wait_ready 2
grep -q "generation 2" "$DLOG" || { cat "$DLOG"; die "no generation 2 after SIGHUP"; }
t_stop
[ "$DRC" = 0 ] || die "exit status $DRC"
echo ok
