#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# A caller of org.postern1, run as whoever the test makes it (setpriv).  It
# finds the methods and properties by introspection, as any client would, so
# that a member added to the daemon is covered or makes this fail.
#
#   bus-caller.py ADDRESS whoami       uid=N caps=<CapEff>
#   bus-caller.py ADDRESS calls        one line per method: NAME ok | NAME ERROR-NAME: MESSAGE
#   bus-caller.py ADDRESS props        one line per property: NAME=VALUE (Get; GetAll must agree)
#   bus-caller.py ADDRESS watch N      prints N Applied signals (GENERATION DIGEST), 10 s at most
import os
import sys
import xml.etree.ElementTree as ET

import dbus

NAME, PATH, IFACE = "org.postern1", "/org/postern1", "org.postern1.Manager"
# arguments to call each method with; harmless ones (lo exists in every netns;
# Apply("") re-applies the daemon's own policy; Confirm() has nothing to confirm;
# SaveRunning() writes running.snap into the test's runtime directory; Drops() only reads)
ARGS = {"Reload": (), "Apply": ("", dbus.UInt32(0), "", dbus.Boolean(False)), "Confirm": (), "Reapply": ("lo",),
        "SaveRunning": (), "RuleHits": (), "Drops": (dbus.UInt64(0),)}


def members(obj, kind):
    xml = obj.Introspect(dbus_interface="org.freedesktop.DBus.Introspectable")
    for i in ET.fromstring(xml).iter("interface"):
        if i.get("name") == IFACE:
            return [m.get("name") for m in i.iter(kind)]
    sys.exit("introspection has no " + IFACE)


def whoami():
    caps = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff:")][0]
    print("uid=%d caps=%s" % (os.geteuid(), caps))


def calls(obj):
    for m in members(obj, "method"):
        if m not in ARGS:
            sys.exit("bus-caller.py does not know how to call %s(): add it to ARGS" % m)
        try:
            obj.get_dbus_method(m, IFACE)(*ARGS[m])
            print(m, "ok")
        except dbus.DBusException as e:
            print("%s %s: %s" % (m, e.get_dbus_name(), e.get_dbus_message()))


def props(obj):
    get = obj.get_dbus_method("Get", "org.freedesktop.DBus.Properties")
    all_ = obj.get_dbus_method("GetAll", "org.freedesktop.DBus.Properties")(IFACE)
    names = members(obj, "property")
    if sorted(names) != sorted(all_.keys()):
        sys.exit("GetAll lists %s, introspection %s" % (sorted(all_.keys()), sorted(names)))
    for p in names:
        v = get(IFACE, p)
        if v != all_[p]:
            sys.exit("%s: Get says %r, GetAll %r" % (p, v, all_[p]))
        print("%s=%s" % (p, v))


def watch(bus, n):
    from gi.repository import GLib

    loop = GLib.MainLoop()
    got = []

    def applied(generation, digest):
        print(generation, digest, flush=True)
        got.append(generation)
        if len(got) >= n:
            loop.quit()

    bus.add_signal_receiver(applied, "Applied", IFACE, NAME, PATH)
    GLib.timeout_add_seconds(10, loop.quit)
    print("watching", flush=True)
    loop.run()
    sys.exit(0 if len(got) >= n else "got %d Applied signals, expected %d" % (len(got), n))


def main():
    addr, mode = sys.argv[1], sys.argv[2]
    if mode == "whoami":
        return whoami()
    if mode == "watch":
        from dbus.mainloop.glib import DBusGMainLoop
        return watch(dbus.bus.BusConnection(addr, mainloop=DBusGMainLoop()), int(sys.argv[3]))
    obj = dbus.bus.BusConnection(addr).get_object(NAME, PATH, introspect=False)
    {"calls": calls, "props": props}[mode](obj)


main()
