#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The kernel feature probe (lib/kernel-features.c) on the running kernel, in
# a namespace of its own: every feature postern emits is present and the
# optional ones are what this kernel has (exact values, from its version and,
# for NFQUEUE, its configuration); the probe changes nothing: `nft list
# ruleset` byte-identical and the ruleset generation identical before and
# after, with a table of ours and someone else's installed; a user without
# CAP_NET_ADMIN is told the probe needs it; posternctl status has the section.
#   features.sh GENID_BINARY
set -u
. "$(dirname "$0")/lib.sh"
GENID=$1
require_kernel
command -v python3 >/dev/null || { echo "skipped: needs python3"; exit 77; }

out=$(unshare -n bash -s "$CTL" "$CATALOG" "$ROOT" "$GENID" <<'EOS'
set -u
CTL=$1 CATALOG=$2 ROOT=$3 GENID=$4
T=$(mktemp -d) || exit 9
trap 'rm -rf "$T"' EXIT
ip link set lo up
"$CTL" --catalog "$CATALOG" --offline apply "$ROOT/conf/examples/002-isa-frontend-backend.conf" >/dev/null || exit 10
nft -f - <<'NFT' || exit 11
table ip other {
	set s { type ipv4_addr; flags interval; elements = { 198.18.0.0/15 } }
	chain c { type filter hook input priority 10; ip saddr @s counter accept; }
}
NFT
g0=$("$GENID") && l0=$(nft list ruleset) || exit 12
# and no notification either (posternd's watch would see it): only the
# canary table added after the probes may show
nft monitor >"$T/monitor" 2>&1 &
mon=$!
sleep 0.3
"$CTL" --version --json >"$T/v.json" || exit 13
"$CTL" --version >"$T/v.txt" || exit 14
g1=$("$GENID") && l1=$(nft list ruleset) || exit 15
nft add table ip canary || exit 16
for _ in $(seq 1 50); do grep -q canary "$T/monitor" && break; sleep 0.1; done
kill "$mon"
wait "$mon" 2>/dev/null
echo "monitor $(grep -v '^# new generation' "$T/monitor" | tr '\n' '|')"
echo "gen $g0 $g1"
[ "$l0" = "$l1" ] && echo "ruleset same" || { echo "ruleset differs:"; diff <(echo "$l0") <(echo "$l1"); }
echo "json $(tr -d '\n' <"$T/v.json")"
grep -q "^Kernel: Linux $(uname -r), supported (oldest supported: 5.10)$" "$T/v.txt" && echo "text ok"
# without CAP_NET_ADMIN here: the same kernel asked from a private user and
# network namespace; where that is not allowed either (no user namespaces
# left to create), nothing probed, and said why
setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" --version --json 2>&1 | tr -d '\n' | sed 's/^/user /'
echo
unshare -Ur sh -c 'echo 0 >/proc/sys/user/max_user_namespaces && exec "$1" --version --json' sh "$CTL" 2>&1 |
        tr -d '\n' | sed 's/^/nouserns /'
echo
EOS
)
rc=$?
[ $rc = 0 ] || fail "namespace script exited $rc: $out"
echo "$out" | sed 's/^json .*/json .../'

gen=$(echo "$out" | sed -n 's/^gen //p')
set -- $gen
[ -n "${1:-}" ] && [ "${1:-}" = "${2:-x}" ] && ok "ruleset generation unchanged by the probe ($1)" ||
        fail "generation before/after the probe: '$gen'"
echo "$out" | grep -qx "ruleset same" && ok "nft list ruleset byte-identical after the probe" ||
        fail "the probe changed the ruleset"
echo "$out" | grep -qx "text ok" && ok "posternctl --version: kernel line" || fail "posternctl --version text"
mon=$(echo "$out" | sed -n 's/^monitor //p')
[ "$mon" = "add table ip canary|" ] && ok "nft monitor saw nothing of the probe (only the canary after it)" ||
        fail "nft monitor during the probe: $mon"

# What this kernel must answer: every feature by its version; NFQUEUE only
# where the configuration says it is built (CONFIG_NFT_QUEUE).
queue=unknown
if [ -r /proc/config.gz ]; then
        zcat /proc/config.gz | grep -qE '^CONFIG_NFT_QUEUE=(y|m)' && queue=true || queue=false
fi
json=$(echo "$out" | sed -n 's/^json //p')
check=$(printf '%s' "$json" | python3 -c '
import json, sys, platform
queue = sys.argv[1]
v = json.load(sys.stdin)
k = v["kernel"]
rel = tuple(int(x) for x in platform.release().split("-")[0].split(".")[:2])
since = {"inet_filter": (3, 14), "meta": (3, 14), "payload": (3, 13), "ct_state": (3, 13),
         "verdict_map": (3, 13), "interval_set": (3, 13), "concat": (4, 1), "concat_interval": (5, 6),
         "counter": (3, 13), "limit": (4, 3), "log": (3, 13), "set_timeout": (4, 1), "queue": (3, 14),
         "inner_payload": (5, 7), "table_owner": (5, 12), "table_persist": (6, 9),
         "rpc_kernel": (4, 1)}
bad = []
if sorted(k["features"]) != sorted(since):
    bad.append("feature names %s" % sorted(k["features"]))
for name, ver in since.items():
    want = rel >= ver
    if name == "queue":
        if queue == "unknown":
            continue
        want = want and queue == "true"
    if k["features"].get(name) is not want:
        bad.append("%s=%s, expected %s" % (name, k["features"].get(name), want))
for key, want in (("release", platform.release()), ("oldest_supported", "5.10"), ("supported", True),
                  ("nftables", True), ("probe_error", None), ("probe_private_namespace", False)):
    if k[key] != want:
        bad.append("%s=%r, expected %r" % (key, k[key], want))
if v["version"] == "" or v["backends"][0] != "nftables" or not v["ok"]:
    bad.append("version/backends/ok: %r" % ((v["version"], v["backends"], v["ok"]),))
for m in ("ip_tables", "ip6_tables", "ip_set"):
    if k["legacy"].get(m) not in ("present", "loadable", "absent"):
        bad.append("legacy %s=%r" % (m, k["legacy"].get(m)))
print("; ".join(bad) if bad else "ok " + " ".join("%s=%s" % (n, str(x).lower()) for n, x in k["features"].items()))
' "$queue")
case $check in
ok*) ok "probe on $(uname -r) (queue from config: $queue): ${check#ok }" ;;
*) fail "probe result: $check" ;;
esac

features() { printf '%s' "$1" | sed -n 's/.*"features":\({[^}]*}\).*/\1/p'; }
user=$(echo "$out" | sed -n 's/^user //p')
f_root=$(features "$json") f_user=$(features "$user")
case $user in
*'"probe_error":null,'*'"probe_private_namespace":true,'*)
        [ -n "$f_user" ] && [ "$f_user" = "$f_root" ] &&
                ok "as nobody: probed in a private user+network namespace, the same answers as root's" ||
                fail "as nobody: features $f_user, root's $f_root" ;;
*) fail "as nobody: $user" ;;
esac
nouserns=$(echo "$out" | sed -n 's/^nouserns //p')
case $nouserns in
*'"probe_error":"Operation not permitted (the probe needs CAP_NET_ADMIN: run as root)"'*'"inet_filter":null'*)
        ok "without CAP_NET_ADMIN and user namespaces: features null, the reason given" ;;
*) fail "without CAP_NET_ADMIN and user namespaces: $nouserns" ;;
esac
exit $failed
