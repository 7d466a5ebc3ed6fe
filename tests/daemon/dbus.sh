#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The D-Bus API: introspection lists every member with its argument names,
# failures map to named errors, no bus at all or a bus that goes away → the
# daemon logs it and runs on.  Who may call what: bus-auth.sh.
. "$(dirname "$0")/lib.sh"
t_require
NS=$(t_netns dbus)
t_bus_start permissive
t_notify_start
P=$T_TMP/postern.conf
policy_ppp0 "$P"
M=(org.postern1 /org/postern1 org.postern1.Manager)

t_daemon "$NS" --policy "$P"
t_wait_ready 1
t_wait_name org.postern1 || die "no bus name"

info "introspection: every member, methods and signal with their argument names"
bus introspect org.postern1 /org/postern1 >"$T_TMP/introspect.txt" || die "introspect"
for x in .Reload .Reapply .Applied .State .PolicyPath .PolicyDigest .Generation .LastError .AppliedAt .Rules \
        .LastEvent .Rechecks .SetUpdates .Resyncs; do
        grep -q "^\\$x " "$T_TMP/introspect.txt" || { cat "$T_TMP/introspect.txt"; die "introspection lacks $x"; }
done
xml=$(bus --xml-interface introspect org.postern1 /org/postern1) || die "introspect --xml-interface"
for x in '<method name="Reload">' '<arg type="s" name="ifname" direction="in"/>' \
        '<arg type="t" name="generation"/>' '<arg type="s" name="digest"/>'; do
        echo "$xml" | grep -qF "$x" || { echo "$xml"; die "introspection XML lacks $x"; }
done
bus call "${M[@]}" Reload || die "root refused"
t_wait_prop Generation 2

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

info "the bus goes away under a running daemon: logged, runs on"
kill "$(cat "$T_TMP/bus/pid")"
t_wait_count "$DLOG" "lost the system bus" 1 5 || die "losing the bus was not logged"
nsx "$NS" ip link add vethz type veth peer name vethy
sleep 0.2
t_alive
t_stop

info "no system bus: logged once, runs on"
lines=$(wc -l <"$DLOG")
ready=$(grep -c "READY=1" "$NLOG")
policy_ppp0 "$P"
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T_TMP/nonexistent t_daemon "$NS" --policy "$P"
t_wait_ready $((ready + 1))
sleep 0.2
t_alive
[ "$(tail -n +$((lines + 1)) "$DLOG" | grep -c "running without D-Bus")" = 1 ] || die "no bus: not logged exactly once"
"$POSTERNCTL" status >/dev/null 2>&1
[ $? = 3 ] || die "posternctl status without a bus: not exit 3"
t_stop
echo "PASS"
