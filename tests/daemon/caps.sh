#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# posternd with CAP_NET_ADMIN and nothing else (all the nf_tables backend
# needs of postern.service's CapabilityBoundingSet): start, apply, follow an
# address change, reload on SIGHUP, stop.  The iptables backend with the
# unit's whole set, CAP_NET_ADMIN and CAP_NET_RAW (libiptc's raw sockets):
# INPUT DROP with the policy's rule; with CAP_NET_ADMIN alone (the unit
# before) libiptc is refused and the emergency ruleset goes in instead.
. "$(dirname "$0")/lib.sh"
t_require
command -v setpriv >/dev/null || skip "no setpriv"
NS=$(t_netns caps)
t_notify_start
P=$T_TMP/postern.conf
policy_ppp0 "$P"
t_veth_ppp0 "$NS"

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

if command -v iptables-legacy-save >/dev/null && "$POSTERND" --backend iptables --help >/dev/null 2>&1; then
        printf 'options = { backend = "iptables"; };\ninput = ( { allow = "ssh"; comment = "caps"; } );\n' >"$T_TMP/ipt.conf"
        rule='-A INPUT -p tcp -m tcp --dport 22 -m comment --comment caps -j ACCEPT'
        ready=2 # READY=1 lines in $NLOG so far
        for caps in net_admin,+net_raw net_admin; do
                info "the iptables backend with +$caps"
                ns=$(t_netns "ipt$ready")
                T_WRAP=(setpriv "--bounding-set=-all,+$caps" --inh-caps=-all)
                t_daemon "$ns" --policy "$T_TMP/ipt.conf" --no-bus
                T_WRAP=()
                ready=$((ready + 1))
                t_wait_ready $ready
                save=$(nsx "$ns" iptables-legacy-save -t filter)
                if [ "$caps" = net_admin,+net_raw ]; then
                        grep -qxF -- "$rule" <<<"$save" && grep -q '^:INPUT DROP' <<<"$save" ||
                                { echo "$save"; die "with CAP_NET_ADMIN and CAP_NET_RAW the iptables backend did not install the policy"; }
                else
                        grep -qF -- "$rule" <<<"$save" && die "the iptables backend worked without CAP_NET_RAW"
                        grep -q "iptables backend: cannot read the IPv4 filter table: Permission denied" "$DLOG" ||
                                die "without CAP_NET_RAW: no 'Permission denied' from the iptables backend"
                fi
                t_stop
        done
else
        echo "no iptables-legacy-save or no iptables backend: its capabilities not checked"
fi
echo ok
