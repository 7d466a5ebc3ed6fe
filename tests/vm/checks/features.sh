#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vm check: the kernel feature probe on this kernel (issue 10 item 2), in a
# namespace of its own: every feature postern uses is there (supported), the
# ownership flags are what the kernel's version says (OWNER since 5.12,
# PERSIST since 6.9: on Debian 12's 6.1 owner=true persist=false), NFQUEUE is
# there (Debian builds nft_queue as a module, loaded by the kernel on the
# way), and probing changes neither the ruleset nor its generation.
set -u
B=${POSTERN_BUILD_ROOT:?} ROOT=${POSTERN_SOURCE_ROOT:?}
ns=postern-vmfeat-$$
tmp=$(mktemp -d)
cleanup() {
        ip netns del "$ns" 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns" && ip -n "$ns" link set lo up || exit 99
nsx() { ip netns exec "$ns" "$@"; }
nsx "$B/daemon/posternctl" --catalog "$ROOT/conf/services.conf" --offline apply "$ROOT/conf/postern.conf" >/dev/null ||
        { echo "FAIL: posternctl apply"; exit 1; }
g0=$(nsx "$B/tests/kernel/genid") && l0=$(nsx nft list ruleset) || { echo "FAIL: genid/list"; exit 1; }
t0=$(date +%s%N)
nsx "$B/daemon/posternctl" --version --json >"$tmp/v.json" || { echo "FAIL: posternctl --version --json"; exit 1; }
t1=$(date +%s%N)
g1=$(nsx "$B/tests/kernel/genid") && l1=$(nsx nft list ruleset) || { echo "FAIL: genid/list after"; exit 1; }
failed=0
[ "$g0" = "$g1" ] && echo "ok: generation unchanged by the probe ($g0)" || { echo "FAIL: generation $g0 -> $g1"; failed=1; }
[ "$l0" = "$l1" ] && echo "ok: nft list ruleset byte-identical" || { echo "FAIL: the probe changed the ruleset"; failed=1; }
python3 - "$tmp/v.json" <<'PY' || failed=1
import json, platform, sys
k = json.load(open(sys.argv[1]))["kernel"]
f = k["features"]
rel = tuple(int(x) for x in platform.release().split("-")[0].split(".")[:2])
want = {name: True for name in f}
want["table_persist"] = rel >= (6, 9)
want["table_owner"] = rel >= (5, 12)
bad = ["%s=%s (expected %s)" % (n, f[n], w) for n, w in want.items() if f[n] is not w]
if k["supported"] is not True or k["probe_error"] is not None:
    bad.append("supported=%s probe_error=%s" % (k["supported"], k["probe_error"]))
print("features on %s: %s" % (platform.release(), " ".join("%s=%s" % (n, str(v).lower()) for n, v in f.items())))
print("legacy: %s" % k["legacy"])
print("figure: feature probe %.1f ms (in the kernel's answer)" % (k["probe_usec"] / 1000.0))
if bad:
    print("FAIL: " + "; ".join(bad))
    sys.exit(1)
print("ok: supported, owner=%s persist=%s queue=%s" % (f["table_owner"], f["table_persist"], f["queue"]))
PY
echo "figure: posternctl --version --json $(( (t1 - t0) / 1000000 )) ms"
exit $failed
