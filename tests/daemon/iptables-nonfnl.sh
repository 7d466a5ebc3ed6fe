#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Issue 11e: posternd --backend iptables where the kernel refuses it every
# NETLINK_NETFILTER socket (tests/daemon/no-nfnetlink: a seccomp filter,
# inherited by the ipset tool it runs).  Only nf_tables and ipset(8) speak
# NETLINK_NETFILTER; libiptc does not.  So:
#   - start: READY=1, INPUT/FORWARD hold the policy (iptables-legacy-save and
#     ip6tables-legacy-save), the "(ppp0)" address written as rules, no
#     ipset, and one warning saying exactly why;
#   - ppp0 198.18.0.1 → 198.18.0.5: the rules follow (a whole re-apply);
#   - SIGHUP with a list of 300 addresses, none adjacent (more than can be written as
#     rules): refused with the exact error, the rules byte-identical;
#   - SIGTERM: exit 0, the rules stay.
. "$(dirname "$0")/lib.sh"
t_require
command -v iptables-legacy-save >/dev/null || skip "no iptables-legacy-save"
command -v ipset >/dev/null || skip "no ipset"
"$POSTERND" --backend iptables --help >/dev/null 2>&1 || skip "posternd built without the iptables backend"
NOFNL=$T_BUILD/tests/daemon/no-nfnetlink
[ -x "$NOFNL" ] || die "not built: $NOFNL"
"$NOFNL" true || skip "cannot install a seccomp filter here"
"$NOFNL" nft list tables >/dev/null 2>&1 && die "no-nfnetlink let nft open a NETLINK_NETFILTER socket"
NS=$(t_netns nfnl)
t_notify_start
P=$T_TMP/postern.conf
policy_ppp0 "$P"
x() { "$@" || die "failed: $*"; }
t_veth_ppp0 "$NS" 198.18.0.1
rules() {
        { nsx "$NS" iptables-legacy-save -t filter; nsx "$NS" ip6tables-legacy-save -t filter; } |
                grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
}
wait_rule() {
        local i
        for i in $(seq 1 300); do rules | grep -qF -- "$1" && ! rules | grep -qF -- "$2" && return 0; sleep 0.01; done
        rules
        die "no rule '$1' (or still '$2')"
}
smtp='-A INPUT -d 198.18.0.1/32 -p tcp -m tcp --dport 25 -m comment --comment "mail on ppp0\'"'"'s current address" -j ACCEPT'

info "start with --backend iptables, NETLINK_NETFILTER refused"
T_WRAP=("$NOFNL")
t_daemon "$NS" --policy "$P" --backend iptables --no-bus
t_wait_ready 1
t_alive
rules | grep -q '^:INPUT DROP' || { rules; die "INPUT policy is not DROP"; }
rules | grep -qFx -- "$smtp" || { rules; die "no rule for ppp0's address"; }
rules | grep -qFx -- '-A INPUT -p tcp -m tcp --dport 22 -m comment --comment admin -j ACCEPT' ||
        { rules; die "no ssh rule"; }
[ "$(rules | grep -c '^:INPUT DROP')" = 2 ] || { rules; die "IPv6 INPUT policy is not DROP"; }
[ -z "$(nsx "$NS" ipset list -n)" ] || die "an ipset exists: $(nsx "$NS" ipset list -n)"
want="posternd: warning: iptables backend: no ipset: ipset(8) needs a NETLINK_NETFILTER socket and this process may not open one (Protocol not supported); address sets are written as rules (at most 256 elements each)"
grep -qFx "$want" "$DLOG" || { cat "$DLOG"; die "expected the line: $want"; }

info "ppp0 198.18.0.1 → 198.18.0.5: the rules follow"
x ip -n "$NS" addr add 198.18.0.5/32 dev ppp0
x ip -n "$NS" addr del 198.18.0.1/32 dev ppp0
wait_rule "-A INPUT -d 198.18.0.5/32 -p tcp -m tcp --dport 25" "-d 198.18.0.1/32"
t_alive
before=$(rules)

info "SIGHUP with a list of 300 addresses, none adjacent → refused, rules byte-identical"
good=$(cat "$P")
for i in $(seq 0 299); do echo "198.18.$((i / 100)).$((i % 100 * 2 + 1))"; done >"$T_TMP/big.list"
cat >"$P" <<EOF
lists = { big = { file = "$T_TMP/big.list"; }; };
input = ( { allow = "ssh"; from = "big"; } );
EOF
kill -HUP "$DPID"
t_wait_ready 2
[ "$(rules)" = "$before" ] || die "a refused reload changed the rules"
want="posternd: $P:2: iptables backend: set 'list_big_v4' has 300 elements; without ipset (ipset(8) needs a NETLINK_NETFILTER socket and this process may not open one (Protocol not supported)) at most 256 elements of a set are written as individual rules"
grep -qFx "$want" "$DLOG" || { cat "$DLOG"; die "expected the line: $want"; }
t_alive
echo "$good" >"$P"

info "SIGTERM → exit 0, the rules stay"
t_stop
[ "$DRC" = 0 ] || die "exit status $DRC"
[ "$(rules)" = "$before" ] || die "the rules changed on SIGTERM"
echo "ok"
