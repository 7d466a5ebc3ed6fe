#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The installed package under a real systemd as PID 1: boot ROOT (a Debian 12
# root with postern, systemd and dbus installed, e.g. by chroot-install.sh)
# with systemd-nspawn in a network namespace of its own (postern-pkgsrv),
# joined by a veth pair to a client namespace (postern-pkgcli).  By hand,
# not in CI:
#
#   tests/package/boot-test.sh ROOT
#
# In the container two echo services stand in for sshd (tcp/22) and a mail
# server (tcp/25).  The client opens a session to port 22 and checks port 25
# answers; then, as an administrator would over that session,
# `systemctl enable --now postern` runs in the container.  Then:
#   - the open session to port 22 still carries data (not cut);
#   - a new connection to port 22 works, one to port 25 is dropped;
#   - postern.service is active, posternctl status says applied, the table
#     is the default policy;
#   - the ppp ip-up hook calls Reapply while it runs; after
#     `systemctl disable --now postern` it does nothing (journal, debug).
# Nothing touches this machine's own network namespace.
set -u
root=$(realpath "${1:?usage: boot-test.sh ROOT}")
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v systemd-nspawn >/dev/null || { echo "SKIP: no systemd-nspawn (apt-get install systemd-container)"; exit 77; }
[ -x "$root/usr/sbin/posternd" ] && [ -x "$root/lib/systemd/systemd" ] ||
        { echo "FAIL: $root lacks postern or systemd"; exit 1; }
SRV=postern-pkgsrv CLI=postern-pkgcli
NSPAWN=
console=$(mktemp /tmp/postern-boot-test.XXXXXX)
cleanup() {
        [ -n "$NSPAWN" ] && kill "$NSPAWN" 2>/dev/null && wait "$NSPAWN" 2>/dev/null
        ip netns del $SRV 2>/dev/null
        ip netns del $CLI 2>/dev/null
        rm -f "$root/etc/systemd/system/multi-user.target.wants/postern-boot-test.service" \
              "$root/etc/systemd/system/sockets.target.wants/"echo2[25].socket
        rm -f "$console"
}
trap cleanup EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }

ip netns add $SRV && ip netns add $CLI || exit 1
ip -n $SRV link add pk-s type veth peer name pk-c netns $CLI
ip -n $SRV addr add 198.18.5.1/24 dev pk-s && ip -n $CLI addr add 198.18.5.2/24 dev pk-c
ip -n $SRV link set pk-s up && ip -n $CLI link set pk-c up && ip -n $CLI link set lo up

# echo services: tcp/22 (sshd stand-in) and tcp/25
u=$root/etc/systemd/system
for p in 22 25; do
        printf '[Socket]\nListenStream=%s\nAccept=yes\n[Install]\nWantedBy=sockets.target\n' $p >"$u/echo$p.socket"
        printf '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n' >"$u/echo$p@.service"
        mkdir -p "$u/sockets.target.wants" && ln -sf "../echo$p.socket" "$u/sockets.target.wants/echo$p.socket"
done
# the administrator's side, in the container: wait for the go, enable --now,
# report, then run the hooks, disable --now, run them again, power off
mkdir -p "$root/var/lib/postern-test" && rm -f "$root/var/lib/postern-test/"*
cat >"$u/postern-boot-test.service" <<'EOF'
[Unit]
Description=postern package test (the administrator's commands)
After=multi-user.target
[Service]
Type=oneshot
StandardOutput=file:/var/lib/postern-test/admin.log
StandardError=inherit
ExecStart=/bin/sh -c '\
  d=/var/lib/postern-test; i=0; \
  while [ ! -e $d/go ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; \
  echo "is-enabled before: $(systemctl is-enabled postern.service), is-active: $(systemctl is-active postern.service)"; \
  systemctl enable --now postern.service; echo "enable --now: exit $?"; \
  echo "is-active: $(systemctl is-active postern.service)"; posternctl status; posternctl show > $d/table; \
  touch $d/started; i=0; \
  while [ ! -e $d/probed ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; \
  PPP_IFACE=ppp0 /etc/ppp/ip-up.d/postern ppp0; echo "ip-up hook (running): exit $?"; \
  systemctl disable --now postern.service; echo "disable --now: exit $?, is-active: $(systemctl is-active postern.service)"; \
  PPP_IFACE=ppp0 /etc/ppp/ip-up.d/postern ppp0; echo "ip-up hook (disabled): exit $?"; \
  sleep 0.5; journalctl --no-pager -o cat -t postern-ppp -p debug -b; \
  echo "-- posternd:"; journalctl --no-pager -o cat -u postern.service -b; \
  touch $d/done'
ExecStartPost=/bin/systemctl poweroff --no-block
[Install]
WantedBy=multi-user.target
EOF
ln -sf ../postern-boot-test.service "$u/multi-user.target.wants/postern-boot-test.service"
# the policy and the unit as the package installed them
grep -q 'allow = "ssh"' "$root/etc/postern/postern.conf" || fail "not the default policy in $root"

echo "== booting $root with systemd-nspawn in $SRV"
timeout 180 systemd-nspawn -q --register=no --keep-unit --capability=CAP_NET_ADMIN -D "$root" \
        --network-namespace-path=/run/netns/$SRV -b >"$console" 2>&1 &
NSPAWN=$!
d=$root/var/lib/postern-test

ip netns exec $CLI python3 - "$d" <<'PY'
import os, socket, sys, time
d = sys.argv[1]
def connect(port, timeout=2.0):
    s = socket.create_connection(("198.18.5.1", port), timeout=timeout)
    return s
def echo(s, msg):
    s.sendall(msg.encode() + b"\n")
    return s.recv(100).decode().strip()
# the container's echo services come up with its boot
for i in range(300):
    try:
        ssh = connect(22, 1); break
    except OSError:
        time.sleep(0.1)
else:
    print("FAIL: nothing listens on 198.18.5.1:22 (the container did not boot?)"); sys.exit(1)
ok = True
print("session to port 22 open:", echo(ssh, "before"))
s25 = connect(25); print("port 25 before postern:", echo(s25, "smtp")); s25.close()
open(os.path.join(d, "go"), "w").close()
for i in range(300):
    if os.path.exists(os.path.join(d, "started")): break
    time.sleep(0.1)
else:
    print("FAIL: postern was not started"); sys.exit(1)
time.sleep(0.3)
try:
    r = echo(ssh, "after"); print("the open session after systemctl enable --now postern:", r, "(not cut)")
    ok &= r == "after"
except OSError as e:
    print("FAIL: the open session was cut:", e); ok = False
try:
    n = connect(22); r = echo(n, "new"); print("new connection to port 22:", r); n.close()
    ok &= r == "new"
except OSError as e:
    print("FAIL: new connection to port 22:", e); ok = False
try:
    n = connect(25, 2); print("FAIL: port 25 still answers:", echo(n, "smtp")); ok = False
except OSError as e:
    print("new connection to port 25: dropped (%s)" % e)
ssh.close()
open(os.path.join(d, "probed"), "w").close()
sys.exit(0 if ok else 1)
PY
[ $? = 0 ] || fail "traffic through the firewall"
wait "$NSPAWN"; rc=$?
NSPAWN=
[ -e "$d/done" ] || { tail -20 "$console"; fail "the container's test did not finish (nspawn exit $rc)"; }
echo "== in the container (systemd $(chroot "$root" /lib/systemd/systemd --version | head -1 | cut -d' ' -f2) as PID 1):"
sed 's/^/   /' "$d/admin.log"
grep -q "^is-active: active" "$d/admin.log" || fail "postern.service did not become active"
grep -q "State: applied" "$d/admin.log" || fail "posternctl status does not say applied"
grep -q 'tcp dport 22 counter packets [0-9]* bytes [0-9]* accept comment "administration: keep SSH open"' "$d/table" ||
        fail "the installed table is not the default policy"
grep -q "ip-up ppp0: posternd: \|ip-up ppp0: posternd re-checked" "$d/admin.log" || fail "the running hook did not reach posternd"
grep -q "ip-up ppp0: postern.service is disabled, inactive: nothing to do" "$d/admin.log" || fail "the disabled hook did not log its no-op"
echo "-- table installed by systemctl enable --now postern:"
sed 's/^/   /' "$d/table"
rm -rf "$d"
for p in 22 25; do rm -f "$u/echo$p.socket" "$u/echo$p@.service"; done
rm -f "$u/postern-boot-test.service"
[ $failed = 0 ] && echo "PASS: systemctl enable --now postern under systemd as PID 1: default policy applied, SSH session kept"
exit $failed
