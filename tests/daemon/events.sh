#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# D-Bus hints.  A real systemd-networkd (252) in the daemon's namespace
# configures veth0 and takes it down and up: its Link PropertiesChanged
# signals make posternd re-check (Rechecks property + a log line), and the
# ifaddr set follows networkd's address.  NetworkManager's
# Device.StateChanged (emitted by fake-emit.py from the real well-known
# name) does too; a look-alike signal from another sender does not.
. "$(dirname "$0")/lib.sh"
t_require
ND_BIN=/lib/systemd/systemd-networkd
[ -x "$ND_BIN" ] || skip "no systemd-networkd"
id systemd-network >/dev/null 2>&1 || skip "no systemd-network user"
"$PY" -c 'import dbus' 2>/dev/null || skip "no python3-dbus"
NS=$(t_netns nd)
PEER=$(t_netns ndp)
t_bus_start
t_notify_start
P=$T_TMP/postern.conf
cat >"$P" <<'EOF'
input = ( { allow = ["smtp"]; to = "(veth0)"; } );
EOF

ip -n "$NS" link add veth0 type veth peer name veth1 netns "$PEER"
ip -n "$PEER" addr add 198.18.0.2/24 dev veth1
ip -n "$PEER" link set veth1 up
IFINDEX=$(ip -n "$NS" -o link show veth0 | cut -d: -f1)
mkdir -p "$T_TMP/network"
cat >"$T_TMP/network/50-veth0.network" <<'EOF'
[Match]
Name=veth0

[Network]
Address=198.18.0.1/24
LinkLocalAddressing=no
IPv6AcceptRA=no
EOF

t_daemon "$NS" --policy "$P"
t_wait_ready 1
t_wait_name org.postern1 || die "no bus name"
[ "$(t_set "$NS" ifaddr_veth0_v4)" = "" ] || die "set not empty before networkd"

info "systemd-networkd configures veth0"
# its own mount namespace (ip netns exec): tmpfs /run and /etc/systemd/network,
# read-only /sys (with a writable /sys networkd assumes udev runs and leaves
# every link "pending", unconfigured)
ip netns exec "$NS" sh -c "
  mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -m 0755 /run/systemd &&
  mount -t tmpfs -o mode=0755 tmpfs /etc/systemd/network &&
  cp $T_TMP/network/*.network /etc/systemd/network/ &&
  umount /sys && mount -t sysfs -o ro sysfs /sys &&
  exec env DBUS_SYSTEM_BUS_ADDRESS=$BUS SYSTEMD_LOG_LEVEL=info $ND_BIN" >"$T_TMP/networkd.log" 2>&1 &
ND=$!
T_PIDS+=("$ND")
t_wait_name org.freedesktop.network1 10 || { cat "$T_TMP/networkd.log"; die "networkd did not take its name"; }
t_wait_set "$NS" ifaddr_veth0_v4 198.18.0.1 10
t_wait_count "$DLOG" "hint from systemd-networkd: link $IFINDEX" 1 10 || die "no networkd hint while configuring"
t_wait_count "$DLOG" "ifaddr_veth0_v4 (veth0) now 198.18.0.1" 1 5 || die "the set update was not logged"

info "the peer goes down and up: carrier hints → re-checks"
sleep 0.5
n=$(prop Rechecks)
ip -n "$PEER" link set veth1 down
for i in $(seq 1 100); do [ "$(prop Rechecks)" -gt "$n" ] && break; sleep 0.05; done
[ "$(prop Rechecks)" -gt "$n" ] || die "no re-check after carrier loss (Rechecks $n)"
n=$(prop Rechecks)
ip -n "$PEER" link set veth1 up
for i in $(seq 1 100); do [ "$(prop Rechecks)" -gt "$n" ] && break; sleep 0.05; done
[ "$(prop Rechecks)" -gt "$n" ] || die "no re-check after carrier back"
t_wait_count "$DLOG" "hint from systemd-networkd: link $IFINDEX CarrierState=carrier" 1 5 || die "hint not logged"

info "veth0 down by hand: networkd's OperationalState=off → re-check"
n=$(prop Rechecks)
ip -n "$NS" link set veth0 down
for i in $(seq 1 100); do [ "$(prop Rechecks)" -gt "$n" ] && break; sleep 0.05; done
[ "$(prop Rechecks)" -gt "$n" ] || die "no re-check after veth0 down"
ip -n "$NS" link set veth0 up
kill "$ND"
for i in $(seq 1 100); do kill -0 "$ND" 2>/dev/null || break; sleep 0.05; done
[ "$(prop Resyncs)" -gt 0 ] || die "hints did not lead to a full re-read (Resyncs 0)"

info "NetworkManager Device.StateChanged (from org.freedesktop.NetworkManager) → re-check"
n=$(prop Rechecks)
"$PY" "$T_HERE/fake-emit.py" nm 2 100 90 0 >/dev/null || die "fake-emit nm"
for i in $(seq 1 100); do [ "$(prop Rechecks)" -gt "$n" ] && break; sleep 0.05; done
[ "$(prop Rechecks)" = $((n + 1)) ] || die "NM hint: Rechecks $n → $(prop Rechecks)"
grep -q "hint from NetworkManager: /org/freedesktop/NetworkManager/Devices/2 state 90 -> 100" "$DLOG" ||
        die "NM hint not logged"

info "look-alikes from other senders are ignored"
n=$(prop Rechecks)
bus emit /org/freedesktop/network1/link/_32 org.freedesktop.DBus.Properties PropertiesChanged 'sa{sv}as' \
        org.freedesktop.network1.Link 1 OperationalState s routable 0
bus emit /org/freedesktop/NetworkManager/Devices/2 org.freedesktop.NetworkManager.Device StateChanged uuu 100 90 0
sleep 0.5
[ "$(prop Rechecks)" = "$n" ] || die "a signal from another sender was taken as a hint"
"$PY" "$T_HERE/fake-emit.py" networkd "$IFINDEX" OperationalState=routable >/dev/null || die "fake-emit networkd"
for i in $(seq 1 100); do [ "$(prop Rechecks)" -gt "$n" ] && break; sleep 0.05; done
[ "$(prop Rechecks)" = $((n + 1)) ] || die "networkd's well-known name: Rechecks $n → $(prop Rechecks)"
t_alive
t_stop
echo "PASS"
