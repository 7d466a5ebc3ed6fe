#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vm/systemd, step 1: runs in the guest before systemd does (init, chrooted
# into the overlay root: the host's root read-only below, a tmpfs above).
# Installs this build tree's posternd and posternctl where the rendered unit
# says (build/systemd/postern.service, as meson installs it), the policy and
# the catalog where posternd looks by default (posternd --help), the D-Bus
# policy, a target with nothing but journald, D-Bus, postern.service and the
# check unit (check.sh), and the booted kernel's modules as /lib/modules, so
# that plain modprobe works (the host has no /lib/modules).
#   prepare.sh SCRATCH N SRC BUILD   (N: the check's number in the plan)
set -eu
S=$1 N=$2 SRC=$3 BUILD=$4
say() { echo "postern-vm systemd: $*"; }
unit=$BUILD/systemd/postern.service
ver=$(uname -r)
for m in /run/vm/kernel/lib/modules/$ver /run/vm/kernel/usr/lib/modules/$ver; do
        [ -d "$m" ] || continue
        mkdir -p /usr/lib/modules
        ln -sfn "$m" "/usr/lib/modules/$ver"
done
# the unit's own paths: ExecStart=SBINDIR/posternd, ExecReload=SBINDIR/posternctl reload
sbin=$(sed -n 's|^ExecStart=\(/[^ ]*\)/posternd$|\1|p' "$unit")
[ -n "$sbin" ] || { say "no ExecStart=/.../posternd in $unit"; exit 1; }
mkdir -p "$sbin"
install -m 0755 "$BUILD/daemon/posternd" "$BUILD/daemon/posternctl" "$sbin/"
policy=$("$sbin/posternd" --help | sed -n 's/.*--policy FILE .*(default: \(.*\))$/\1/p')
catalog=$("$sbin/posternd" --help | sed -n 's/.*--catalog FILE .*(default: \([^,]*\),.*/\1/p')
[ -n "$policy" ] && [ -n "$catalog" ] || { say "posternd --help names no default policy or catalog"; exit 1; }
mkdir -p "$(dirname "$policy")" "$(dirname "$catalog")" /etc/systemd/system /etc/dbus-1/system.d
install -m 0644 "$SRC/conf/postern.conf" "$policy"
install -m 0644 "$SRC/conf/services.conf" "$catalog"
install -m 0644 "$unit" /etc/systemd/system/postern.service
install -m 0644 "$SRC/systemd/org.postern1.conf" /etc/dbus-1/system.d/
# this host is a container image: its fstab mounts nothing we need, and
# /.dockerenv would make systemd believe it runs in a container (and ignore
# the kernel command line): the guest is a VM
: >/etc/fstab
rm -f /.dockerenv /run/.containerenv
ln -sfn postern-vm.target /etc/systemd/system/default.target
cat >/etc/systemd/system/postern-vm.target <<T
[Unit]
Description=postern vm/systemd check
Wants=postern.service postern-vm-check.service dbus.socket
After=postern-vm-check.service
AllowIsolate=yes
T
cat >/etc/systemd/system/postern-vm-check.service <<T
[Unit]
Description=postern vm/systemd check (reports TAP through the scratch share)
After=postern.service dbus.socket systemd-journald.service
[Service]
Type=oneshot
TimeoutStartSec=infinity
StandardOutput=journal+console
ExecStart=/bin/bash $SRC/tests/vm/systemd/check.sh $S $N $policy $sbin
T
say "postern.service from $unit, binaries in $sbin, policy $policy, catalog $catalog"
