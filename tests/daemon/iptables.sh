#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# posternd --backend iptables: start → INPUT/FORWARD policy DROP with our
# postern-* chains; ppp0's address changes → the ipset behind "(ppp0)"
# follows (one ipset swap, no rule rewritten); SIGHUP with a bad policy →
# the iptables rules byte-identical; SIGTERM → they stay.
. "$(dirname "$0")/lib.sh"
t_require
command -v iptables-legacy-save >/dev/null || skip "no iptables-legacy-save"
command -v ipset >/dev/null || skip "no ipset"
"$POSTERND" --backend iptables --help >/dev/null 2>&1 || skip "posternd built without the iptables backend"
NS=$(t_netns ipt)
t_notify_start
P=$T_TMP/postern.conf
policy_ppp0 "$P"
x() { "$@" || die "failed: $*"; }
t_veth_ppp0 "$NS" 198.18.0.1
rules() { nsx "$NS" iptables-legacy-save -t filter | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'; }
members() { nsx "$NS" ipset list postern-ifaddr_ppp0_v4 2>/dev/null | sed -n '/^Members:/,$p' | tail -n +2 | sort | tr '\n' ' '; }
wait_members() {
        local i
        for i in $(seq 1 300); do [ "$(members)" = "$1" ] && return 0; sleep 0.01; done
        die "postern-ifaddr_ppp0_v4 holds '$(members)', expected '$1'"
}

info "start with --backend iptables --no-bus"
t_daemon "$NS" --policy "$P" --backend iptables --no-bus
t_wait_ready 1
rules | grep -q '^:INPUT DROP' || { rules; die "INPUT policy is not DROP"; }
rules | grep -q -- '-A INPUT .*postern-ifaddr_ppp0_v4' || { rules; die "no rule on the (ppp0) set"; }
wait_members "198.18.0.1 "

info "ppp0 198.18.0.1 → 198.18.0.5: the set follows, the rules stay"
before=$(rules)
x ip -n "$NS" addr del 198.18.0.1/32 dev ppp0
x ip -n "$NS" addr add 198.18.0.5/32 dev ppp0
wait_members "198.18.0.5 "
[ "$(rules)" = "$before" ] || die "the rules changed on an address event"

info "SIGHUP with a bad policy → rules byte-identical, daemon alive"
good=$(cat "$P")
echo 'input = ( { allow = "no-such-service"; } );' >"$P"
kill -HUP "$DPID"
t_wait_ready 2
[ "$(rules)" = "$before" ] || die "a bad reload changed the rules"
grep -q "postern.conf:1: unknown service 'no-such-service'" "$DLOG" || { cat "$DLOG"; die "no file:line error logged"; }
t_alive
echo "$good" >"$P"

info "SIGHUP with the good policy again → the whole ruleset, and the log says so (issue 15)"
kill -HUP "$DPID"
t_wait_ready 3
t_wait_count "$DLOG" "applied $P: .*full replace (this backend always replaces the whole ruleset)" 1 5 ||
        { cat "$DLOG"; die "the iptables reload does not say it replaced everything"; }
[ "$(rules)" = "$before" ] || die "reloading the same policy changed the rules"

info "SIGTERM → exit 0, the rules stay"
t_stop
[ "$DRC" = 0 ] || die "exit status $DRC"
[ "$(rules)" = "$before" ] || die "the rules changed on SIGTERM"
echo "ok"
