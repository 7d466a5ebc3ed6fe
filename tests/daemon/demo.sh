#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The README's first command, tools/demo, on this build: it must end with
# exit 0, its reachability tables all "ok", and nothing of it left behind —
# no process started from this tree, no postern-* network namespace.
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=${POSTERN_SOURCE_ROOT:-$(cd "$here/../.." && pwd)}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v dbus-daemon >/dev/null || { echo "SKIP: no dbus-daemon"; exit 77; }
"$src/tools/leftovers" >/dev/null || { echo "SKIP: leftovers from something else are around already"; exit 77; }
out=$(mktemp /tmp/postern-demo.XXXXXX)
trap 'rm -f "$out"' EXIT
timeout 240 "$src/tools/demo" >"$out" 2>&1
rc=$?
[ $rc = 0 ] || { cat "$out"; echo "FAIL: tools/demo exited $rc"; exit 1; }
if grep -q '^FAIL\|^fail ' "$out"; then cat "$out"; echo "FAIL: a reachability check of the demo failed"; exit 1; fi
grep -q "ifaddr_ppp0_v4 (ppp0) now 198.18.0.5" "$out" || { cat "$out"; echo "FAIL: the daemon did not follow ppp0"; exit 1; }
sleep 0.5 # the demo's own cleanup has returned; anything still here was left behind
"$src/tools/leftovers" || { echo "FAIL: tools/demo left the above behind"; exit 1; }
echo "PASS: tools/demo ran to the end and left nothing behind"
