#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Reload in O(change): posternd reloads with a delta (nft-delta.h) and logs
# what it held.  SIGHUP with no change → "no change, nothing sent"; one list entry more → "0 rules added, 0 removed;
# 1 elements added, 0 removed" and ppp0's address stays in its set (no flush,
# no refill); one rule more → 1 rule added; after someone else's nft insert
# (healed by a whole replace) the next reload is a delta again; every time
# the table lists (nft -s) as posternctl apply of the same policy in a fresh
# namespace does; posternctl diff says on stderr what a reload would send.
. "$(dirname "$0")/lib.sh"
t_require
NS=$(t_netns delta)
REF=$(t_netns delta-ref)
t_bus_start
t_notify_start
t_veth_ppp0 "$NS" 198.18.0.1
P=$T_TMP/postern.conf
write_policy() {
        cat >"$P" <<EOF
lists = { admins = { addresses = [$1]; }; };
input = (
  { allow = ["smtp"]; to = "(ppp0)"; comment = "mail on ppp0's address"; },
  { allow = ["ssh"]; from = "admins"; comment = "administration"; }$2
);
EOF
}
# the same policy through posternctl apply in REF: what a full replace lists
same_as_full() {
        cp "$P" "$T_TMP/ref.conf"
        nsx "$REF" ip link show ppp0 >/dev/null 2>&1 || t_veth_ppp0 "$REF" 198.18.0.1
        nsx "$REF" "$POSTERNCTL" --catalog "$CATALOG" apply "$T_TMP/ref.conf" >/dev/null 2>&1 ||
                die "posternctl apply in the reference namespace failed"
        [ "$(t_table_s "$NS")" = "$(t_table_s "$REF")" ] ||
                die "$1: the table differs from a full replace:$(diff <(t_table_s "$NS") <(t_table_s "$REF"))"
}

write_policy '"198.18.9.0/28"' ''
t_daemon "$NS" --policy "$P"
t_wait_ready 1
t_wait_set "$NS" ifaddr_ppp0_v4 198.18.0.1 || die "ppp0's address not in its set"
same_as_full "start"

info "SIGHUP with no change → nothing sent"
kill -HUP "$DPID"
t_wait_ready 2
t_wait_count "$DLOG" "applied $P: generation 2, .*no change, nothing sent" 1 5 || die "no 'nothing sent' log line"

info "posternctl diff says what a reload would send"
nsx "$NS" "$POSTERNCTL" --catalog "$CATALOG" diff "$P" >/dev/null 2>"$T_TMP/diff.err" ||
        die "posternctl diff of the running policy: a difference"
grep -qx "posternctl diff: a reload through posternd would send: no change, nothing sent" "$T_TMP/diff.err" ||
        die "posternctl diff, same policy: $(cat "$T_TMP/diff.err")"
write_policy '"198.18.9.0/28", "198.18.20.0/24"' ''
nsx "$NS" "$POSTERNCTL" --catalog "$CATALOG" diff "$P" >/dev/null 2>"$T_TMP/diff.err"
grep -q "^posternctl diff: a reload through posternd would send: delta: 0 rules added, 0 removed; 1 elements added, 0 removed;" "$T_TMP/diff.err" ||
        die "posternctl diff, one entry more: $(cat "$T_TMP/diff.err")"

info "SIGHUP with one list entry more → 1 element added, ppp0's address kept"
kill -HUP "$DPID"
t_wait_ready 3
t_wait_count "$DLOG" "generation 3, .*delta: 0 rules added, 0 removed; 1 elements added, 0 removed" 1 5 ||
        die "no delta log line for the list entry: $(grep generation "$DLOG" | tail -1)"
[ "$(t_set "$NS" ifaddr_ppp0_v4)" = 198.18.0.1 ] || die "ppp0's address left its set"
same_as_full "one list entry"

info "SIGHUP with one rule more → 1 rule added"
write_policy '"198.18.9.0/28", "198.18.20.0/24"' ',
  { allow = ["https"]; from = "admins"; comment = "web"; }'
kill -HUP "$DPID"
t_wait_ready 4
t_wait_count "$DLOG" "generation 4, .*delta: 1 rules added, 0 removed; 0 elements added, 0 removed" 1 5 ||
        die "no delta log line for the rule: $(grep generation "$DLOG" | tail -1)"
same_as_full "one rule"

info "someone else's nft insert rule → healed whole; the next reload is a delta again"
before=$(t_table_s "$NS")
nsx "$NS" nft insert rule inet postern input tcp dport 2525 accept
t_wait_table "$NS" "$before" || die "the foreign rule stayed"
write_policy '"198.18.20.0/24"' ',
  { allow = ["https"]; from = "admins"; comment = "web"; }'
kill -HUP "$DPID"
t_wait_ready 5
t_wait_count "$DLOG" "generation 5, .*delta: 0 rules added, 0 removed; 0 elements added, 1 removed" 1 5 ||
        die "no delta log line after the heal: $(grep generation "$DLOG" | tail -1)"
same_as_full "after the heal"
t_alive
t_stop
echo "PASS"
