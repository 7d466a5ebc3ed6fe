#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vm check, run first in a freshly booted guest: the stock kernel has
# ip_tables, ip6_tables, ip_set and the filter tables as modules, none loaded
# yet (as on a Debian host at boot, before anything used iptables).  postern's
# iptables backend loads them itself, as iptables(8) does: the helper named
# in /proc/sys/kernel/modprobe, with -q, once per module (lib/iptc.c).
#   1. a helper that fails: the apply fails with the exact message naming
#      ip_tables and what the helper said; nothing is loaded, nothing applied;
#   2. a helper that fails for ip_set only: the apply succeeds, sets written
#      as rules, with the exact warning naming ip_set;
#   3. the real helper: example 002 (two address sets) goes in through
#      ipset; every module is loaded; the tables hold the policy.
set -u
CTL=${POSTERNCTL:?} CATALOG=${POSTERN_CATALOG:?} ROOT=${POSTERN_SOURCE_ROOT:?}
mods='^(x_tables|ip_tables|ip6_tables|iptable_filter|ip6table_filter|ip_set) '
loaded() { grep -E "$mods" /proc/modules | cut -d' ' -f1 | sort | tr '\n' ' '; }
fail() { echo "FAIL: $*"; exit 1; }
REAL=$(cat /proc/sys/kernel/modprobe)
T=$(mktemp -d /tmp/postern-cold.XXXXXX)
trap 'echo "$REAL" >/proc/sys/kernel/modprobe; rm -rf "$T"' EXIT
EX=$ROOT/conf/examples/002-isa-frontend-backend.conf

echo "loaded before: $(loaded)"
[ -z "$(loaded)" ] || fail "the modules are loaded already: this check must run first"

# 1. no module helper that works
cat >"$T/nomod" <<'EOF'
#!/bin/sh
for a; do m=$a; done
echo "modprobe: FATAL: Module $m not found in directory /lib/modules/$(uname -r)" >&2
exit 1
EOF
chmod 755 "$T/nomod"
echo "$T/nomod" >/proc/sys/kernel/modprobe
out=$(unshare -n "$CTL" apply --offline --backend iptables --catalog "$CATALOG" "$ROOT/conf/postern.conf" 2>&1)
rc=$?
echo "1. failing helper: exit $rc"
echo "$out"
want="iptables backend: the kernel has no ip_tables (legacy iptables); \`modprobe ip_tables\` failed: modprobe: FATAL: Module ip_tables not found in directory /lib/modules/$(uname -r) (a kernel without legacy iptables: use the nftables backend)"
[ "$rc" = 2 ] || fail "exit $rc, expected 2"
grep -Fxq "$want" <<<"$out" || fail "expected the line: $want"
[ -z "$(loaded)" ] || fail "modules loaded although the helper failed: $(loaded)"

# 2. ip_tables and ip6_tables load, ip_set does not
cat >"$T/noipset" <<EOF
#!/bin/sh
for a; do m=\$a; done
case \$m in ip_set|nfnetlink-subsys-6) echo "modprobe: FATAL: Module \$m not found" >&2; exit 1 ;; esac
exec $REAL "\$@"
EOF
chmod 755 "$T/noipset"
echo "$T/noipset" >/proc/sys/kernel/modprobe
out=$(unshare -n sh -c "'$CTL' apply --offline --backend iptables --catalog '$CATALOG' '$EX' &&
        echo rules: \$(ip6tables-legacy-save -t filter | grep -c '^-A FORWARD'), with sets: \$(ip6tables-legacy-save -t filter | grep -c -- '-m set')" 2>&1)
rc=$?
echo "2. helper without ip_set: exit $rc"
echo "$out"
[ "$rc" = 0 ] || fail "exit $rc"
want="warning: iptables backend: no ipset: the kernel has no ip_set; \`modprobe ip_set\` failed: modprobe: FATAL: Module ip_set not found; address sets are written as rules (at most 256 elements each)"
grep -Fxq "$want" <<<"$out" || fail "expected the line: $want"
grep -q '^rules: [1-9][0-9]*, with sets: 0$' <<<"$out" || fail "expected the sets written as rules"
echo "loaded: $(loaded)"
[ "$(loaded)" = "ip6_tables ip6table_filter ip_tables iptable_filter x_tables " ] || fail "loaded: $(loaded)"

# 3. the real helper
echo "$REAL" >/proc/sys/kernel/modprobe
out=$(unshare -n sh -c "'$CTL' apply --offline --backend iptables --catalog '$CATALOG' '$EX' &&
        iptables-legacy-save -t filter | grep -c '^-A FORWARD' && ipset list -n" 2>&1)
rc=$?
echo "3. real helper: exit $rc"
echo "$out"
[ "$rc" = 0 ] || fail "exit $rc"
grep -q '^postern-' <<<"$out" || fail "no postern-* ipset"
grep -q 'warning' <<<"$out" && fail "a warning with ip_set loadable"
echo "loaded after: $(loaded)"
[ "$(loaded)" = "ip6_tables ip6table_filter ip_set ip_tables iptable_filter x_tables " ] || fail "loaded: $(loaded)"
exit 0
