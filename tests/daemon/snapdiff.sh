#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# posternctl diff with a posternd running (issue 11d): the live named sets'
# elements come from the daemon's running ruleset (SaveRunning()), not from
# the kernel's dump, when the kernel is at the generation of the daemon's
# last commit; the output is byte for byte what the kernel dump gives (the
# same diff with the D-Bus path broken), in the policy's words, with --nft
# and --json; running.snap is gone afterwards; a foreign element added
# after the daemon's commit (the daemon's heals held off) makes diff fall
# back to the kernel, and the output shows that element.
. "$(dirname "$0")/lib.sh"
t_require
NS=$(t_netns snapdiff)
t_bus_start
t_notify_start
mkdir -p "$T_TMP/data"
P=$T_TMP/postern.conf P2=$T_TMP/postern2.conf
cat >"$P" <<'EOT'
lists = { partners = { file = "data/partners.txt"; }; };
input = (
  { allow = "smtp"; from = "partners"; comment = "partner relays"; },
  { allow = "ssh"; comment = "admin"; }
);
EOT
sed 's/partners.txt/partners2.txt/' "$P" >"$P2"
# 4,000 single IPv4 addresses (never adjacent: no merging) and 100 IPv6 /64s
{
        for a in $(seq 0 15); do for b in $(seq 0 2 499); do echo "198.18.$((a * 2 + b / 256)).$((b % 256))"; done; done
        for i in $(seq 1 100); do printf '2001:db8:%x::/64\n' "$i"; done
} >"$T_TMP/data/partners.txt"
[ "$(wc -l <"$T_TMP/data/partners.txt")" = 4100 ] || die "list generation"
# partners2: 198.18.0.0, 198.18.3.2 and 2001:db8:7::/64 gone, 198.18.100.0/24 and 198.18.101.1 new
{
        grep -vx -e 198.18.0.0 -e 198.18.3.2 -e 2001:db8:7::/64 "$T_TMP/data/partners.txt"
        echo 198.18.100.0/24
        echo 198.18.101.1
} >"$T_TMP/data/partners2.txt"

t_daemon "$NS" --policy "$P"
t_wait_ready 1
t_wait_name org.postern1 || die "no bus name"
# the whole listing of a set (t_set reads one line only: a big set spans many)
lset() { nsx "$NS" nft list set inet postern "$1" 2>/dev/null; }
[ "$(lset list_partners_v6 | grep -o '2001:db8:[0-9a-f]*::/64' | wc -l)" = 100 ] || die "posternd did not apply the list"

# ctl NAME [ENV...] -- ARGS...: posternctl in the namespace; NAME.out, NAME.err, NAME.rc
ctl() {
        local n=$1 e=()
        shift
        while [ "$1" != -- ]; do e+=("$1"); shift; done
        shift
        nsx "$NS" env POSTERN_DIFF_DEBUG=1 "${e[@]}" "$POSTERNCTL" --catalog "$CATALOG" "$@" \
                >"$T_TMP/$n.out" 2>"$T_TMP/$n.err"
        echo $? >"$T_TMP/$n.rc"
}
NOBUS=DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T_TMP/no-such-bus
gen=$(nsx "$NS" "$T_BUILD/tests/kernel/genid" 2>/dev/null) || gen=
from_daemon="posternctl diff: live set elements from posternd's running ruleset (generation ${gen:-?})"

info "SaveRunning(): the snapshot in the runtime directory, root's only, and the kernel's generation"
M=(org.postern1 /org/postern1 org.postern1.Manager)
got=$(bus call "${M[@]}" SaveRunning) || die "SaveRunning() failed"
[ "$got" = "su \"$T_TMP/run/running.snap\" ${gen:-${got##* }}" ] || die "SaveRunning() returned $got (generation $gen)"
[ "$(stat -c '%a %u' "$T_TMP/run/running.snap")" = "600 0" ] || die "running.snap: $(stat -c '%a %u' "$T_TMP/run/running.snap")"
rm -f "$T_TMP/run/running.snap"

# both ways, three shapes, the same and a changed list
for shape in words nft json; do
        case $shape in words) a=() ;; nft) a=(--nft) ;; json) a=(--nft --json) ;; esac
        for f in "$P" "$P2"; do
                n=$shape-$(basename "$f" .conf)
                ctl "$n-daemon" -- "${a[@]}" diff "$f"
                ctl "$n-kernel" "$NOBUS" -- "${a[@]}" diff "$f"
                grep -qx "posternctl diff: live set elements from posternd's running ruleset (generation [0-9]*)" \
                        "$T_TMP/$n-daemon.err" || die "$n: not from the daemon: $(cat "$T_TMP/$n-daemon.err")"
                [ -z "$gen" ] || grep -qxF "$from_daemon" "$T_TMP/$n-daemon.err" ||
                        die "$n: not the kernel's generation $gen: $(cat "$T_TMP/$n-daemon.err")"
                grep -qx "posternctl diff: live set elements from the kernel (.*)" "$T_TMP/$n-kernel.err" ||
                        die "$n: without the bus, not from the kernel: $(cat "$T_TMP/$n-kernel.err")"
                diff -u "$T_TMP/$n-kernel.out" "$T_TMP/$n-daemon.out" || die "$n: the two ways differ"
                [ "$(cat "$T_TMP/$n-daemon.rc")" = "$(cat "$T_TMP/$n-kernel.rc")" ] || die "$n: exit statuses differ"
                [ ! -e "$T_TMP/run/running.snap" ] || die "$n: running.snap left behind"
        done
done
info "the same policy: no difference, exit 0"
for shape in words nft; do
        [ "$(cat "$T_TMP/$shape-postern-daemon.rc")" = 0 ] && [ ! -s "$T_TMP/$shape-postern-daemon.out" ] ||
                die "$shape: the running policy differs: $(cat "$T_TMP/$shape-postern-daemon.out")"
done
info "the changed list: exactly its elements"
[ "$(cat "$T_TMP/nft-postern2-daemon.rc")" = 1 ] || die "nft-postern2: exit $(cat "$T_TMP/nft-postern2-daemon.rc")"
diff -u - "$T_TMP/nft-postern2-daemon.out" <<'EOT' || die "nft-postern2: output"
set list_partners_v4: 2 added, 2 removed
- 198.18.0.0
- 198.18.3.2
+ 198.18.100.0/24
+ 198.18.101.1
set list_partners_v6: 0 added, 1 removed
- 2001:db8:7::/64
EOT

info "concatenated interval sets (seed 002's host-to-host sets): the same both ways"
cp "$T_SRC/conf/examples/002-isa-frontend-backend.conf" "$T_SRC/conf/examples/001-citrix-exchange-rpc.conf" "$T_TMP/"
bus call "${M[@]}" Apply susb "$T_TMP/002-isa-frontend-backend.conf" 0 "" false >/dev/null || die "Apply(002)"
for f in 002-isa-frontend-backend 001-citrix-exchange-rpc; do
        ctl "c$f-daemon" -- --nft diff "$T_TMP/$f.conf"
        ctl "c$f-kernel" "$NOBUS" -- --nft diff "$T_TMP/$f.conf"
        grep -q "from posternd's running ruleset" "$T_TMP/c$f-daemon.err" ||
                die "$f: not from the daemon: $(cat "$T_TMP/c$f-daemon.err")"
        diff -u "$T_TMP/c$f-kernel.out" "$T_TMP/c$f-daemon.out" || die "$f: the two ways differ"
done
[ "$(cat "$T_TMP/c002-isa-frontend-backend-daemon.rc")" = 0 ] || die "002 against itself differs"
grep -q "^set forward_hosts_v4_tcp: " "$T_TMP/c001-citrix-exchange-rpc-daemon.out" ||
        die "001 against 002: no host-to-host set change: $(cat "$T_TMP/c001-citrix-exchange-rpc-daemon.out")"
bus call "${M[@]}" Apply susb "$P" 0 "" false >/dev/null || die "Apply(the list policy again)"

info "a foreign element, the daemon's heals held off: diff falls back to the kernel and shows it"
# posternd heals at most 10 times in 10 s (HEAL_BURST): the 11th change stays until the window ends
for i in $(seq 1 11); do
        nsx "$NS" nft add element inet postern list_partners_v4 "{ 198.18.200.$i }" || die "nft add element"
        [ "$i" = 11 ] && break
        for k in $(seq 1 250); do
                lset list_partners_v4 | grep -q "198\.18\.200\.$i\b" || break
                sleep 0.02
        done
        [ "$k" -lt 250 ] || die "posternd did not heal change $i"
done
t_wait_count "$DLOG" "keeps being changed by someone else" 1 5 || die "heals not held off"
ctl foreign -- --nft diff "$P"
ctl foreign-kernel "$NOBUS" -- --nft diff "$P"
lset list_partners_v4 | grep -q '198\.18\.200\.11\b' ||
        skip "posternd healed before both diffs ran (machine too slow for the 10 s window)"
grep -qx "posternctl diff: live set elements from the kernel (changed since posternd's last commit)" \
        "$T_TMP/foreign.err" || die "foreign: $(cat "$T_TMP/foreign.err")"
diff -u - "$T_TMP/foreign.out" <<'EOT' || die "foreign: output"
set list_partners_v4: 0 added, 1 removed
- 198.18.200.11
EOT
diff -u "$T_TMP/foreign-kernel.out" "$T_TMP/foreign.out" || die "foreign: the two ways differ"
info "without POSTERN_DIFF_DEBUG: one note on stderr"
nsx "$NS" "$POSTERNCTL" --catalog "$CATALOG" --nft diff "$P" >/dev/null 2>"$T_TMP/note.err"
lset list_partners_v4 | grep -q '198\.18\.200\.11\b' || skip "posternd healed before the note was checked"
diff -u - "$T_TMP/note.err" <<'EOT' || die "the note"
posternctl diff: note: the ruleset changed since posternd's last commit; reading every set element from the kernel, which takes minutes for a list of a million entries
EOT
t_alive
t_stop
[ "$DRC" = 0 ] || die "exit status $DRC"
echo "PASS"
