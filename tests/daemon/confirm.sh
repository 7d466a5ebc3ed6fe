#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# posternctl apply --confirm through posternd (issue 12): B installed, and
# without `posternctl confirm` the table is byte-identical to A's after the
# deadline; with it B stays; a posternd killed during the window and started
# again resumes the wait (and rolls back), or — after the deadline, or after
# a reboot (another boot id) — comes up with A at once; reload and a plain
# apply are refused while a confirmation is pending; --confirm without the
# daemon, and usage errors, say so with their exit codes.
. "$(dirname "$0")/lib.sh"
t_require
NS=$(t_netns confirm)
t_bus_start
t_notify_start
A=$T_TMP/a.conf
B=$T_TMP/b.conf
printf 'input = ( { allow = ["ssh"]; } );\n' >"$A"
printf 'input = ( { allow = ["ssh", "smtp"]; } );\n' >"$B"
ctl() { nsx "$NS" "$POSTERNCTL" --catalog "$CATALOG" "$@"; }

info "without posternd: --confirm is refused (exit 2), usage errors exit 4"
out=$(ctl apply --confirm=5 "$B" 2>&1); rc=$?
[ "$rc" = 2 ] && [[ $out == *"--confirm needs posternd"* ]] || die "apply --confirm without posternd: exit $rc: $out"
[ -z "$(t_table_s "$NS")" ] || die "apply --confirm without posternd installed something"
for bad in "apply --confirm=0" "apply --confirm=x" "apply --confirm=86401" "check a b" "frobnicate" \
           "status --confirm=5"; do
        # shellcheck disable=SC2086
        ctl $bad >/dev/null 2>&1; rc=$?
        [ "$rc" = 4 ] || die "posternctl $bad: exit $rc, expected 4 (usage)"
done

info "--json: one failure shape on every path (usage, no daemon)"
out=$(ctl --json frobnicate); rc=$?
[ "$rc" = 4 ] && [ "$out" = '{"ok":false,"error":null,"errors":[{"severity":"error","file":null,"line":0,"message":"posternctl: unknown verb '"'"'frobnicate'"'"'. Try '"'"'posternctl --help'"'"'."}]}' ] ||
        die "--json usage error: exit $rc: $out"
out=$(ctl --confirm=0 --json apply); rc=$?
[ "$rc" = 4 ] && [[ $out == '{"ok":false,"error":null,"errors":[{"severity":"error","file":null,"line":0,"message":"posternctl: --confirm=0: expected'* ]] ||
        die "--json bad option: exit $rc: $out"
out=$(ctl --json confirm); rc=$?
[ "$rc" = 3 ] && [[ $out == '{"ok":false,"error":'*'"errors":[{"severity":"error","file":null,"line":0,"message":"posternd is not running'* ]] ||
        die "--json confirm without posternd: exit $rc: $out"

t_daemon "$NS" --policy "$A"
t_wait_ready 1
t_wait_name org.postern1 || die "org.postern1 not on the bus"
TA=$(t_table_s "$NS")
ctl compile "$B" >/dev/null || die "B does not compile"
out=$(bus call org.postern1 /org/postern1 org.postern1.Manager Apply susb "" 86401 "" false 2>&1) &&
        die "Apply() with confirm_seconds 86401 was accepted"
[[ $out == *"confirm_seconds 86401: at most 86400"* ]] || die "Apply() with confirm_seconds 86401: $out"
printf 'input = ( { allow = ["ssh"] } \n' >"$T_TMP/broken.conf"
out=$(ctl --json apply "$T_TMP/broken.conf"); rc=$?
[ "$rc" = 1 ] && [[ $out == '{"ok":false,"error":"org.postern1.Error.InvalidPolicy","errors":[{"severity":"error","file":"'"$T_TMP/broken.conf"'","line":2,"message":"'* ]] ||
        die "--json apply of a broken policy through posternd: exit $rc: $out"
out=$(ctl --json apply "$B"); rc=$?
[ "$rc" = 0 ] && [ "$out" = '{"ok":true,"policy":"'"$B"'","generation":2,"confirm_seconds":0}' ] || die "--json apply: exit $rc: $out"
ctl apply "$A" >/dev/null && [ "$(t_table_s "$NS")" = "$TA" ] || die "back to A"

info "apply --confirm=4 B, no confirm → B, then A byte-identical; RolledBack signal"
timeout 15 busctl --address="$BUS" monitor --match="type='signal',sender='org.postern1',member='RolledBack'" \
        >"$T_TMP/monitor.txt" 2>&1 &
T_PIDS+=($!)
sleep 0.3
out=$(ctl apply --confirm=4 "$B" 2>&1) || die "apply --confirm=4: $out"
[[ $out == *"applied through posternd: generation 4"*"within 4 s"* ]] || die "apply --confirm said: $out"
TB=$(t_table_s "$NS")
[ "$TB" != "$TA" ] && [[ $TB == *"{ 22, 25 }"* ]] || die "B is not installed"
[ "$(prop ConfirmDeadline)" != 0 ] || die "no ConfirmDeadline while pending"
ctl status | grep -q "Confirm: PENDING: unless 'posternctl confirm', digest [0-9a-f]\{16\} comes back" ||
        die "status does not show the pending confirmation: $(ctl status)"
out=$(ctl reload 2>&1); rc=$?
[ "$rc" = 1 ] && [[ $out == *"a confirmation is pending"* ]] || die "reload while pending: exit $rc: $out"
out=$(ctl apply "$A" 2>&1); rc=$?
[ "$rc" = 1 ] && [[ $out == *"a confirmation is pending"* ]] || die "plain apply while pending: exit $rc: $out"
t_wait_table "$NS" "$TA" 8 || die "no rollback to A within 8 s of a 4 s confirmation"
t_wait_count "$DLOG" "no confirmation arrived in time: rolled back to digest" 1 3 || die "the rollback is not logged"
[ "$(prop ConfirmDeadline)" = 0 ] && [ "$(prop Rollbacks)" = 1 ] || die "after the rollback: deadline $(prop ConfirmDeadline), rollbacks $(prop Rollbacks)"
t_wait_count "$T_TMP/monitor.txt" "RolledBack" 1 3 || { cat "$T_TMP/monitor.txt"; die "no RolledBack signal"; }
[ -z "$(ls -A "$T_TMP/state" 2>/dev/null)" ] || die "rollback state left behind: $(ls "$T_TMP/state")"

info "anti-lockout through the daemon: a policy without ssh is refused for the caller's SSH_CONNECTION"
nsx "$NS" ip link add d0 type veth peer name d1 && nsx "$NS" ip addr add 198.18.0.1/24 dev d0 &&
        nsx "$NS" ip link set d0 up && nsx "$NS" ip link set d1 up || die "cannot set up d0"
N=$T_TMP/nossh.conf
printf 'input = ( { allow = ["smtp"]; } );\n' >"$N"
lock="your SSH connection 198.18.0.5 port 50122 → 198.18.0.1 port 22 (via d0) would be dropped by the new policy: no rule in input accepts tcp/22 from 198.18.0.5; today $A:1 (ssh) accepts it"
out=$(SSH_CONNECTION="198.18.0.5 50122 198.18.0.1 22" ctl apply "$N" 2>&1); rc=$?
[ "$rc" = 1 ] && [ "$out" = "posternctl apply: $lock; use --confirm=SECONDS to try it with an automatic rollback, or --force to apply it anyway" ] ||
        die "lockout through posternd: exit $rc: $out"
out=$(SSH_CONNECTION="198.18.0.5 50122 198.18.0.1 22" ctl apply --confirm=5 "$N" 2>&1); rc=$?
[ "$rc" = 1 ] && [ "$out" = "posternctl apply: $lock; use --force to apply it anyway" ] ||
        die "lockout with --confirm: exit $rc: $out"
[ "$(t_table_s "$NS")" = "$TA" ] && [ -z "$(ls -A "$T_TMP/state" 2>/dev/null)" ] || die "a refused apply changed something"
out=$(SSH_CONNECTION="198.18.0.5 50122" ctl apply "$N" 2>&1); rc=$?
[ "$rc" = 1 ] && [[ $out == *'SSH_CONNECTION "198.18.0.5 50122" has 2 fields'* ]] || die "malformed SSH_CONNECTION: exit $rc: $out"
SSH_CONNECTION="198.18.0.5 50122 198.18.0.1 22" ctl apply --force "$N" >/dev/null || die "apply --force"
[[ $(t_table_s "$NS") == *"tcp dport 25 "* ]] || die "--force did not apply"
ctl apply "$A" >/dev/null || die "back to A"
[ "$(t_table_s "$NS")" = "$TA" ] || die "A is not back"

info "the posternctl process killed during the window changes nothing: A comes back"
nsx "$NS" "$POSTERNCTL" --catalog "$CATALOG" apply --confirm=1 "$B" >/dev/null 2>&1 &
CPID=$!
t_wait_table "$NS" "$TB" 5 || die "B was not installed"
kill -9 "$CPID" 2>/dev/null; wait "$CPID" 2>/dev/null
t_wait_table "$NS" "$TA" 5 || die "with its posternctl killed, the apply did not roll back"

info "apply --confirm=3 B, then confirm → B stays after the deadline"
ctl apply --confirm=3 "$B" >/dev/null || die "apply --confirm=3"
out=$(ctl confirm 2>&1) || die "confirm: $out"
sleep 3.5
[ "$(t_table_s "$NS")" = "$TB" ] || die "the confirmed B did not stay"
out=$(ctl confirm 2>&1); rc=$?
[ "$rc" = 1 ] && [[ $out == *"nothing to confirm"* ]] || die "a second confirm: exit $rc: $out"

info "back to A; apply --confirm=8 B; kill -9 posternd in the window; restarted it waits on, then A"
ctl apply "$A" >/dev/null || die "apply A"
ctl apply --confirm=8 "$B" >/dev/null || die "apply --confirm=8"
kill -9 "$DPID"; wait "$DPID" 2>/dev/null
[ "$(t_table_s "$NS")" = "$TB" ] || die "B is not what the killed daemon left"
t_daemon "$NS" --policy "$A"
t_wait_ready 2
t_wait_name org.postern1 || die "org.postern1 not back on the bus"
[ "$(t_table_s "$NS")" = "$TB" ] || die "the restarted daemon did not keep the pending B"
[ "$(prop ConfirmDeadline)" != 0 ] || die "the restarted daemon lost the pending confirmation"
t_wait_count "$DLOG" "a confirmation is still pending: rollback in [0-9]* s" 1 3 || die "the resumed wait is not logged"
t_wait_table "$NS" "$TA" 12 || die "the restarted daemon did not roll back to A"

info "apply --confirm=1 B; kill -9; start after the deadline → A at once"
ctl apply --confirm=1 "$B" >/dev/null || die "apply --confirm=1"
kill -9 "$DPID"; wait "$DPID" 2>/dev/null
sleep 1.5
t_daemon "$NS" --policy "$B" # the configured policy is B now: the pending rollback still wins
t_wait_ready 3
[ "$(t_table_s "$NS")" = "$TA" ] || die "a start after the deadline did not come up with A"
t_wait_count "$DLOG" "the apply was not confirmed before posternd stopped: rolled back" 1 3 || die "not logged"
t_stop

info "a reboot (another boot id) during the window comes up with the last confirmed ruleset"
t_daemon "$NS" --policy "$A"
t_wait_ready 4
t_wait_name org.postern1 || die "org.postern1 not back"
ctl apply --confirm=600 "$B" >/dev/null || die "apply --confirm=600"
kill -9 "$DPID"; wait "$DPID" 2>/dev/null
sed -i 's/^[^ ]*/00000000-0000-0000-0000-000000000000/' "$T_TMP/state/pending"
t_daemon "$NS" --policy "$B"
t_wait_ready 5
[ "$(t_table_s "$NS")" = "$TA" ] || die "after a 'reboot' the host did not come up with A"
echo "garbage" >"$T_TMP/state/pending"; : >"$T_TMP/state/previous.snap"
t_stop
t_daemon "$NS" --policy "$B"
t_wait_ready 6
t_wait_count "$DLOG" "its rollback state cannot be read: starting with the policy" 1 3 || die "bad state not reported"
[[ $(t_table_s "$NS") == *"{ 22, 25 }"* ]] || die "with unreadable rollback state the policy was not applied"
t_stop
echo "PASS"
