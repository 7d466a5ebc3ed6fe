#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# systemd-analyze verify of postern.service prints nothing (252 only logs
# parse errors, so any output is a failure); the exposure score of
# systemd-analyze security --offline=yes is reported and must be <= 2.0.
# No PID 1 needed.  ExecStart= and ExecReload= are pointed at the built
# posternd and posternctl (verify wants executables there).  The unit's
# decisions are asserted line by line: ExecReload= is the installed
# posternctl reload (so that a broken policy fails systemctl reload), both
# backends' sockets and capabilities are there, module loading is not.
. "$(dirname "$0")/lib.sh"
command -v systemd-analyze >/dev/null || skip "no systemd-analyze"
UNIT=$T_BUILD/systemd/postern.service
[ -f "$UNIT" ] || skip "postern.service not configured ($UNIT)"
[ -x "$POSTERND" ] || skip "posternd not built"
sbin=$(sed -n 's|^ExecStart=\(/[^ ]*\)/posternd$|\1|p' "$UNIT")
[ -n "$sbin" ] || die "ExecStart= is not one absolute posternd path: $(grep '^ExecStart=' "$UNIT")"
want=("ExecReload=$sbin/posternctl reload" "Type=notify" "Restart=on-failure"
        "RestrictAddressFamilies=AF_NETLINK AF_UNIX AF_INET AF_INET6"
        "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW" "ProtectKernelModules=yes" "IPAddressDeny=any")
for l in "${want[@]}"; do
        grep -qxF "$l" "$UNIT" || die "the unit lacks the line '$l'"
done
[ "$(grep -c '^ExecReload=' "$UNIT")" = 1 ] || die "more than one ExecReload="
echo "unit lines: ${#want[@]} as decided"
sed -e "s|^ExecStart=[^ ]*|ExecStart=$POSTERND|" -e "s|^ExecReload=[^ ]*|ExecReload=$POSTERNCTL|" \
        "$UNIT" >"$T_TMP/postern.service"
out=$(cd "$T_TMP" && systemd-analyze verify --man=no "$T_TMP/postern.service" 2>&1)
rc=$?
[ -z "$out" ] && [ $rc = 0 ] || { printf '%s\n' "$out"; die "systemd-analyze verify printed something (rc $rc)"; }
echo "verify: silent"
# the iptables hosts' drop-in, as the unit's comment spells it, verifies too
mkdir -p "$T_TMP/postern.service.d"
sed -n 's/^#   \(\[Service\]\|ExecStartPre=.*\)$/\1/p' "$UNIT" >"$T_TMP/postern.service.d/iptables.conf"
grep -qx 'ExecStartPre=+/sbin/modprobe -ab ip_tables ip6_tables' "$T_TMP/postern.service.d/iptables.conf" ||
        die "the unit's comment has no iptables drop-in: $(cat "$T_TMP/postern.service.d/iptables.conf")"
out=$(cd "$T_TMP" && systemd-analyze verify --man=no "$T_TMP/postern.service" 2>&1) ||
        { printf '%s\n' "$out"; die "the unit with the iptables drop-in does not verify"; }
[ -z "$out" ] || { printf '%s\n' "$out"; die "systemd-analyze verify with the drop-in printed something"; }
rm -r "$T_TMP/postern.service.d"
echo "verify with the iptables drop-in: silent"
sec=$(systemd-analyze security --offline=yes "$T_TMP/postern.service" 2>&1)
score=$(printf '%s\n' "$sec" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
printf '%s\n' "$sec" | grep -E "^✗" | head -30
echo "exposure: $score"
[ -n "$score" ] || die "no exposure score"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || die "exposure $score > 2.0"
# the D-Bus policy is well-formed XML
if command -v xmllint >/dev/null; then xmllint --noout "$T_SRC/systemd/org.postern1.conf" || die "org.postern1.conf"; fi
echo "PASS"
