#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vm check (issue 15): what this kernel's commit of a one-element change
# costs in an interval set of N elements — tests/bench/setcommit in a
# namespace of its own, N = 10, 1,000, 10,000, 100,000 and 100,000 spread
# over 100 sets.  Prints "figure:" lines (medians, µs, sendmsg → ACK); fails
# only when setcommit does (a wrong batch, a refused element).
set -u
B=${POSTERN_BUILD_ROOT:?}
ns=postern-vmsetc-$$
cleanup() { ip netns del "$ns" 2>/dev/null; }
trap cleanup EXIT
ip netns add "$ns" || exit 99
for spec in "10 1" "1000 1" "10000 1" "100000 1" "100000 100"; do
        set -- $spec
        out=$(timeout 600 ip netns exec "$ns" "$B/tests/bench/setcommit" "$1" 15 "$2") ||
                { echo "FAIL: setcommit $1 15 $2"; exit 1; }
        ip netns exec "$ns" nft delete table inet postern_setcommit || { echo "FAIL: delete table"; exit 1; }
        python3 -c '
import json, statistics as s, sys
d = json.loads(sys.argv[1]); a, b = d["add_us"], d["del_us"]
print("figure: %s one-element commit, interval set of %d in %d set(s): add %.0f us (min %d), delete %.0f us (min %d)"
      % (sys.argv[2], d["n"], d["sets"], s.median(a), min(a), s.median(b), min(b)))' "$out" "$(uname -r)"
done
echo "ok: setcommit"
