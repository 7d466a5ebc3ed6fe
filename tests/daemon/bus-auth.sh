#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Who may use org.postern1.  bus-api.h, systemd/org.postern1.conf and the
# README say: methods are for root only; properties, introspection and the
# Applied signal for everyone.
#  1. On a bus that lets anyone call org.postern1, posternd's own check is
#     what refuses.  A caller that is neither root nor has CAP_NET_ADMIN, and
#     one that is not root but has CAP_NET_ADMIN (the bus does not convey
#     capabilities; honouring them would mean reading /proc, racily), get
#     org.postern1.Error.PermissionDenied from every method, and nothing
#     changes; every property reads the same for them as for root, and right.
#     Root's calls succeed.
#  2. With the shipped org.postern1.conf the bus itself refuses those
#     callers' method calls (AccessDenied), lets them read every property and
#     receive Applied, and lets root own the name and call.
# bus-caller.py finds the methods and properties by introspection: one added
# to the daemon without being covered here makes this test fail.
. "$(dirname "$0")/lib.sh"
t_require
command -v setpriv >/dev/null || skip "no setpriv"
NS=$(t_netns busauth)
t_bus_start permissive
t_notify_start
P=$T_TMP/postern.conf
policy_ppp0 "$P"
# shellcheck disable=SC2034 # (used by name: caller ROOT|NOBODY|NETADMIN)
ROOT=()
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
# shellcheck disable=SC2034
NETADMIN=("${NOBODY[@]}" --inh-caps=+net_admin --ambient-caps=+net_admin)

# caller WHO MODE...: bus-caller.py as WHO (the name of one of the arrays above)
caller() {
        local -n who=$1
        shift
        "${who[@]}" "$PY" "$T_HERE/bus-caller.py" "$BUS" "$@"
}
# calls_as WHO: "METHOD ok" or "METHOD ERROR-NAME" per method, messages cut
calls_as() { caller "$1" calls | sed 's/: .*//'; }

[ "$(caller NOBODY whoami)" = "uid=65534 caps=0000000000000000" ] || die "nobody: $(caller NOBODY whoami)"
# 0x1000 = 1 << CAP_NET_ADMIN: without it the second caller would prove nothing
[ "$(caller NETADMIN whoami)" = "uid=65534 caps=0000000000001000" ] || die "net_admin: $(caller NETADMIN whoami)"

t0=$(date +%s%6N)
t_daemon "$NS" --policy "$P"
t_wait_ready 1
t_wait_name org.postern1 || die "no bus name"

info "every property, as root, is what posternd applied"
digest=$("$POSTERNCTL" --catalog "$CATALOG" --json check "$P" | sed -n 's/.*"digest": *"\([0-9a-f]*\)".*/\1/p')
rules=$(sed -n 's/.*STATUS=applied: generation 1, digest [0-9a-f]*, \([0-9]*\) rules.*/\1/p' "$NLOG" | head -1)
[ -n "$digest" ] && [ -n "$rules" ] || die "cannot tell the expected digest ($digest) or rules ($rules)"
caller ROOT props >"$T_TMP/root.props" || die "root cannot read the properties"
for want in State=applied "PolicyPath=$P" "PolicyDigest=$digest" Generation=1 LastError= "Rules=$rules" Rechecks=0; do
        grep -qx -e "$want" "$T_TMP/root.props" || { cat "$T_TMP/root.props"; die "no $want"; }
done
at=$(sed -n 's/^AppliedAt=//p' "$T_TMP/root.props")
[ "$at" -ge "$t0" ] && [ "$at" -le "$(date +%s%6N)" ] || die "AppliedAt $at is not between $t0 and now"

for who in NOBODY NETADMIN; do
        info "$who: every method refused by posternd with PermissionDenied, every property readable"
        caller "$who" calls >"$T_TMP/calls" || die "$who: calls"
        [ "$(cat "$T_TMP/calls")" = "$(printf '%s\n' \
                "Reload org.postern1.Error.PermissionDenied: only root may call Reload()" \
                "Apply org.postern1.Error.PermissionDenied: only root may call Apply()" \
                "Confirm org.postern1.Error.PermissionDenied: only root may call Confirm()" \
                "Reapply org.postern1.Error.PermissionDenied: only root may call Reapply()" \
                "SaveRunning org.postern1.Error.PermissionDenied: only root may call SaveRunning()" \
                "RuleHits org.postern1.Error.PermissionDenied: only root may call RuleHits()" \
                "Drops org.postern1.Error.PermissionDenied: only root may call Drops()")" ] ||
                { cat "$T_TMP/calls"; die "$who's method calls were not refused as they should be"; }
        caller "$who" props >"$T_TMP/$who.props" || die "$who cannot read the properties"
        diff -u "$T_TMP/root.props" "$T_TMP/$who.props" || die "$who reads other values than root"
done
caller ROOT props | diff -u "$T_TMP/root.props" - || die "a refused call changed something"

info "posternctl as nobody: status works, reload and reapply refused (exit 2)"
"${NOBODY[@]}" env DBUS_SYSTEM_BUS_ADDRESS="$BUS" "$POSTERNCTL" status >"$T_TMP/status.txt" &&
        grep -q "Generation: 1" "$T_TMP/status.txt" || die "posternctl status as nobody"
# the kernel section, probed without CAP_NET_ADMIN (from a private user and
# network namespace where the kernel allows one; else "not probed", said why)
grep -qE "^Kernel: Linux $(uname -r), (supported \(oldest supported: 5\.10\)|nf_tables not probed: Operation not permitted \(the probe needs CAP_NET_ADMIN: run as root\))$" "$T_TMP/status.txt" ||
        die "posternctl status as nobody: no kernel section: $(cat "$T_TMP/status.txt")"
for verb in reload "reapply lo"; do
        # shellcheck disable=SC2086 # verb is two words on purpose
        "${NOBODY[@]}" env DBUS_SYSTEM_BUS_ADDRESS="$BUS" "$POSTERNCTL" $verb 2>"$T_TMP/err.txt"
        rc=$?
        [ $rc = 2 ] && grep -q "only root may call" "$T_TMP/err.txt" ||
                die "posternctl $verb as nobody: exit $rc, $(cat "$T_TMP/err.txt")"
done

info "root: every method served"
[ "$(calls_as ROOT)" = "$(printf 'Reload ok\nApply ok\nConfirm org.postern1.Error.Busy\nReapply ok\nSaveRunning ok\nRuleHits ok\nDrops ok')" ] ||
        die "root: $(caller ROOT calls)"
t_wait_prop Generation 3
t_wait_prop Rechecks 1
t_stop

info "the shipped org.postern1.conf: the bus refuses non-root method calls, lets anyone read and listen"
kill "$(cat "$T_TMP/bus/pid")"
t_bus_start include "$T_SRC/systemd/org.postern1.conf"
ready=$(grep -c "READY=1" "$NLOG")
t_daemon "$NS" --policy "$P"
t_wait_ready $((ready + 1))
t_wait_name org.postern1 || die "root cannot own org.postern1 with the shipped policy"
caller ROOT props >"$T_TMP/root.props" || die "root cannot read the properties"
for who in NOBODY NETADMIN; do
        [ "$(calls_as "$who")" = "$(printf '%s\n' "Reload org.freedesktop.DBus.Error.AccessDenied" \
                "Apply org.freedesktop.DBus.Error.AccessDenied" "Confirm org.freedesktop.DBus.Error.AccessDenied" \
                "Reapply org.freedesktop.DBus.Error.AccessDenied" \
                "SaveRunning org.freedesktop.DBus.Error.AccessDenied" \
                "RuleHits org.freedesktop.DBus.Error.AccessDenied" \
                "Drops org.freedesktop.DBus.Error.AccessDenied")" ] ||
                die "the shipped policy lets $who call: $(caller "$who" calls 2>&1)"
        caller "$who" props | diff -u "$T_TMP/root.props" - || die "the shipped policy hides properties from $who"
done
"${NOBODY[@]}" "$PY" "$T_HERE/bus-caller.py" "$BUS" watch 1 >"$T_TMP/watch.txt" 2>&1 &
WPID=$!
T_PIDS+=("$WPID")
t_wait_count "$T_TMP/watch.txt" "^watching" 1 5 || die "the signal watcher did not start: $(cat "$T_TMP/watch.txt")"
[ "$(calls_as ROOT)" = "$(printf 'Reload ok\nApply ok\nConfirm org.postern1.Error.Busy\nReapply ok\nSaveRunning ok\nRuleHits ok\nDrops ok')" ] ||
        die "root under the shipped policy: $(caller ROOT calls)"
wait "$WPID" || die "nobody did not receive Applied: $(cat "$T_TMP/watch.txt")"
grep -qx "2 $digest" "$T_TMP/watch.txt" || die "nobody's Applied signal: $(cat "$T_TMP/watch.txt")"
t_stop
[ "$DRC" = 0 ] || die "exit status $DRC"
echo "PASS"
