#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# systemd-analyze verify of postern.service prints nothing (252 only logs
# parse errors, so any output is a failure); the exposure score of
# systemd-analyze security --offline=yes is reported and must be <= 2.0.
# No PID 1 needed.  ExecStart= is pointed at the built posternd (verify wants
# an executable there).
. "$(dirname "$0")/lib.sh"
command -v systemd-analyze >/dev/null || skip "no systemd-analyze"
UNIT=$T_BUILD/systemd/postern.service
[ -f "$UNIT" ] || skip "postern.service not configured ($UNIT)"
[ -x "$POSTERND" ] || skip "posternd not built"
sed "s|^ExecStart=[^ ]*|ExecStart=$POSTERND|" "$UNIT" >"$T_TMP/postern.service"
out=$(cd "$T_TMP" && systemd-analyze verify --man=no "$T_TMP/postern.service" 2>&1)
rc=$?
[ -z "$out" ] && [ $rc = 0 ] || { printf '%s\n' "$out"; die "systemd-analyze verify printed something (rc $rc)"; }
echo "verify: silent"
sec=$(systemd-analyze security --offline=yes "$T_TMP/postern.service" 2>&1)
score=$(printf '%s\n' "$sec" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
printf '%s\n' "$sec" | grep -E "^✗" | head -30
echo "exposure: $score"
[ -n "$score" ] || die "no exposure score"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || die "exposure $score > 2.0"
# the D-Bus policy is well-formed XML
if command -v xmllint >/dev/null; then xmllint --noout "$T_SRC/systemd/org.postern1.conf" || die "org.postern1.conf"; fi
echo "PASS"
