#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The D-Bus API.  With a bus that lets anyone call org.postern1, posternd's
# own check decides: nobody → org.postern1.Error.PermissionDenied, nobody
# with CAP_NET_ADMIN → served, root → served; properties readable by
# anyone and right.  With the shipped org.postern1.conf on the bus, the bus
# itself refuses nobody's method calls and lets it read.  Errors map to
# named errors; no bus at all → the daemon logs once and runs on.
. "$(dirname "$0")/lib.sh"
t_require
command -v setpriv >/dev/null || skip "no setpriv"
NS=$(t_netns dbus)
t_bus_start permissive
t_notify_start
P=$T_TMP/postern.conf
policy_ppp0 "$P"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
M=(org.postern1 /org/postern1 org.postern1.Manager)

t_daemon "$NS" --policy "$P"
t_wait_ready 1
t_wait_name org.postern1 || die "no bus name"

info "properties, readable by nobody"
bus introspect org.postern1 /org/postern1 >"$T_TMP/introspect.txt" || die "introspect"
for x in .Reload .Reapply .Applied State PolicyPath PolicyDigest Generation LastError AppliedAt; do
        grep -q "^\.\?$x " "$T_TMP/introspect.txt" || grep -q "^$x " "$T_TMP/introspect.txt" || { cat "$T_TMP/introspect.txt"; die "introspection lacks $x"; }
done
"${NOBODY[@]}" busctl --address="$BUS" get-property "${M[@]}" State | grep -q '"applied"' || die "nobody cannot read State"
out=$("${NOBODY[@]}" busctl --address="$BUS" get-property "${M[@]}" Generation PolicyPath LastError)
[ "$out" = "$(printf 't 1\ns "%s"\ns ""' "$P")" ] || die "properties as nobody: $out"
"${NOBODY[@]}" env DBUS_SYSTEM_BUS_ADDRESS="$BUS" "$POSTERNCTL" status | grep -q "Generation: 1" || die "posternctl status as nobody"

info "methods: nobody refused by posternd, CAP_NET_ADMIN and root served"
out=$("${NOBODY[@]}" busctl --address="$BUS" call "${M[@]}" Reload 2>&1) && die "nobody could Reload"
echo "$out" | grep -q "only root or a caller with CAP_NET_ADMIN" || die "nobody's Reload: $out"
"${NOBODY[@]}" busctl --address="$BUS" --json=short call "${M[@]}" Reapply s lo 2>&1 | grep -q "CAP_NET_ADMIN" ||
        die "nobody could Reapply"
"${NOBODY[@]}" env DBUS_SYSTEM_BUS_ADDRESS="$BUS" "$POSTERNCTL" reload 2>"$T_TMP/err.txt"
[ $? = 2 ] && grep -q "CAP_NET_ADMIN" "$T_TMP/err.txt" || die "posternctl reload as nobody: $(cat "$T_TMP/err.txt")"
# the error's name, as a program sees it
"$PY" - "$BUS" <<'EOF' || die "PermissionDenied is not the error name nobody gets"
import os, sys, dbus
os.setgid(65534); os.setgroups([]); os.setuid(65534)
bus = dbus.bus.BusConnection(sys.argv[1])
m = dbus.Interface(bus.get_object("org.postern1", "/org/postern1"), "org.postern1.Manager")
try:
    m.Reload(); sys.exit("Reload succeeded")
except dbus.DBusException as e:
    sys.exit(0 if e.get_dbus_name() == "org.postern1.Error.PermissionDenied" else e.get_dbus_name())
EOF
[ "$(prop Generation)" = 1 ] || die "a refused call changed something"
setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=+net_admin --ambient-caps=+net_admin \
        busctl --address="$BUS" call "${M[@]}" Reload || die "CAP_NET_ADMIN caller refused"
t_wait_prop Generation 2
bus call "${M[@]}" Reload || die "root refused"
t_wait_prop Generation 3

info "named errors"
bus call "${M[@]}" Reapply s nosuch0 2>&1 | grep -q "no interface nosuch0" || die "Reapply(nosuch0)"
"$PY" - "$BUS" <<'EOF' || die "error names"
import sys, dbus
bus = dbus.bus.BusConnection(sys.argv[1])
m = dbus.Interface(bus.get_object("org.postern1", "/org/postern1"), "org.postern1.Manager")
def name(f, *a):
    try:
        f(*a); return "ok"
    except dbus.DBusException as e:
        return e.get_dbus_name()
got = name(m.Reapply, "nosuch0")
if got != "org.postern1.Error.NoSuchInterface": sys.exit("Reapply(nosuch0): " + got)
got = name(m.Reapply, "a/b")
if got != "org.freedesktop.DBus.Error.InvalidArgs": sys.exit("Reapply(a/b): " + got)
EOF
echo 'input = ( { allow = "nosuch"; } );' >"$P"
"$PY" - "$BUS" "$P" <<'EOF' || die "InvalidPolicy"
import sys, dbus
bus = dbus.bus.BusConnection(sys.argv[1])
m = dbus.Interface(bus.get_object("org.postern1", "/org/postern1"), "org.postern1.Manager")
try:
    m.Reload(); sys.exit("Reload of a bad policy succeeded")
except dbus.DBusException as e:
    if e.get_dbus_name() != "org.postern1.Error.InvalidPolicy": sys.exit(e.get_dbus_name())
    if not e.get_dbus_message().startswith(sys.argv[2] + ":1: "): sys.exit("message: " + e.get_dbus_message())
EOF
case $(prop LastError) in "$P:1: "*) ;; *) die "LastError '$(prop LastError)'" ;; esac
t_stop

info "the shipped org.postern1.conf: the bus refuses nobody's calls, lets it read"
kill "$(cat "$T_TMP/bus/pid")"
policy_ppp0 "$P"
t_bus_start include "$T_SRC/systemd/org.postern1.conf"
t_daemon "$NS" --policy "$P"
t_wait_ready 4
t_wait_name org.postern1 || die "root cannot own org.postern1 with the shipped policy"
"${NOBODY[@]}" busctl --address="$BUS" get-property "${M[@]}" State | grep -q applied || die "nobody cannot read"
out=$("${NOBODY[@]}" busctl --address="$BUS" call "${M[@]}" Reload 2>&1) && die "the bus let nobody call Reload"
echo "$out" | grep -qi "access denied\|AccessDenied\|rejected" || die "nobody's Reload: $out"
bus call "${M[@]}" Reload || die "root refused by the shipped policy"

info "the bus goes away under a running daemon: logged, runs on"
kill "$(cat "$T_TMP/bus/pid")"
t_wait_count "$DLOG" "lost the system bus" 1 5 || die "losing the bus was not logged"
nsx "$NS" ip link add vethz type veth peer name vethy
sleep 0.2
t_alive
t_stop

info "no system bus: logged once, runs on"
lines=$(wc -l <"$DLOG")
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T_TMP/nonexistent t_daemon "$NS" --policy "$P"
t_wait_ready 5
sleep 0.2
t_alive
[ "$(tail -n +$((lines + 1)) "$DLOG" | grep -c "running without D-Bus")" = 1 ] || die "no bus: not logged exactly once"
"$POSTERNCTL" status >/dev/null 2>&1
[ $? = 3 ] || die "posternctl status without a bus: not exit 3"
t_stop
echo "PASS"
