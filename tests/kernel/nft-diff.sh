#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# nf_tables backend against nft itself.  Every step runs in a fresh network
# namespace (unshare -n): nothing here touches the host's ruleset.
#
#   1. postern's batch and `nft -f` of the same ruleset (nft-diff-full.nft)
#      list identically, line for line;
#   2. and generate the same expressions and set elements (nft --debug=netlink);
#   3. applying twice gives the same listing;
#   4. another table survives an apply;
#   5. check mode leaves nothing behind (and leaves an applied table alone);
#   6. pst_nft_update_set() replaces a dynamic set's elements, nothing else;
#   7. OWNER|PERSIST: the table stays after the owner exits and can be
#      claimed again; while the owner lives nobody else can delete or
#      replace it;
#   8. a kernel error names the policy line of the object it refused;
#   9. pst_show_table() lists what nft lists.
#
# usage: nft-diff.sh PATH/TO/nft-diff      exit 0 ok, 1 failure, 77 skipped

set -u
BIN=${1:?usage: nft-diff.sh PATH/TO/nft-diff}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
SRC=$(cd "$(dirname "$0")" && pwd)
NFT_FILE=$SRC/nft-diff-full.nft

if [ "$(id -u)" != 0 ]; then
        echo "skipped: needs root (unshare -n, nf_tables)"
        exit 77
fi
if ! command -v nft >/dev/null 2>&1 || ! unshare -n nft list ruleset >/dev/null 2>&1; then
        echo "skipped: no nft, no network namespaces or no nf_tables"
        exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

fail() {
        echo "FAIL: $*"
        failed=1
}

ok() {
        echo "ok: $*"
}

# 1. listing identical
unshare -n sh -c "nft -f '$NFT_FILE' && nft list table inet postern" >"$tmp/theirs" 2>&1 ||
        fail "nft -f of the reference ruleset: $(cat "$tmp/theirs")"
unshare -n sh -c "'$BIN' apply full && nft list table inet postern" >"$tmp/ours" 2>&1 ||
        fail "apply: $(cat "$tmp/ours")"
if diff -u "$tmp/theirs" "$tmp/ours" >"$tmp/diff"; then
        ok "listing identical to nft -f ($(wc -l <"$tmp/ours") lines)"
else
        fail "listing differs from nft -f:"
        cat "$tmp/diff"
fi

# 2. the same expressions and elements as nft generates
filter() {
        grep -E '^[[:space:]]*\[|element|userdata'
}
unshare -n nft --debug=netlink -c -f "$NFT_FILE" 2>&1 | filter >"$tmp/theirs.nl"
"$BIN" dump full | filter >"$tmp/ours.nl"
if [ -s "$tmp/ours.nl" ] && diff -u "$tmp/theirs.nl" "$tmp/ours.nl" >"$tmp/diff"; then
        ok "netlink expressions and elements identical to nft ($(wc -l <"$tmp/ours.nl") lines)"
else
        fail "netlink expressions differ from nft --debug=netlink:"
        cat "$tmp/diff"
fi

# 3. idempotent
unshare -n sh -c "'$BIN' apply full && '$BIN' apply full && nft list table inet postern" >"$tmp/twice" 2>&1
if diff -u "$tmp/ours" "$tmp/twice" >"$tmp/diff"; then
        ok "applying twice gives the same listing"
else
        fail "second apply differs:"
        cat "$tmp/diff"
fi

# 4. other tables untouched
unshare -n sh -c "nft add table ip other && nft add chain ip other c && '$BIN' apply full && nft list table ip other" \
        >"$tmp/other" 2>&1
if grep -q "chain c" "$tmp/other"; then
        ok "table ip other survives"
else
        fail "table ip other lost: $(cat "$tmp/other")"
fi

# 5. check mode
unshare -n sh -c "'$BIN' check full && nft list ruleset" >"$tmp/check" 2>&1
if [ $? -eq 0 ] && [ ! -s "$tmp/check" ]; then
        ok "check mode leaves nothing behind"
else
        fail "check mode: $(cat "$tmp/check")"
fi
unshare -n sh -c "nft -f '$NFT_FILE' && nft add rule inet postern in_lan drop &&
                  nft list table inet postern >'$tmp/before' && '$BIN' check full && nft list table inet postern" \
        >"$tmp/check2" 2>&1
if [ $? -eq 0 ] && grep -q drop "$tmp/before" && diff -u "$tmp/before" "$tmp/check2" >"$tmp/diff"; then
        ok "check mode leaves an existing table unchanged"
else
        fail "check mode changed an existing table:"
        cat "$tmp/check2" "$tmp/diff" 2>/dev/null
fi

# 6. dynamic set update
sed 's/elements = { 198.18.9.1 }/elements = { 198.18.9.2, 198.18.9.3 }/' "$tmp/ours" >"$tmp/expect-update"
unshare -n sh -c "'$BIN' update full && nft list table inet postern" >"$tmp/update" 2>&1
if ! cmp -s "$tmp/ours" "$tmp/expect-update" && diff -u "$tmp/expect-update" "$tmp/update" >"$tmp/diff"; then
        ok "pst_nft_update_set replaces the dynamic set's elements only"
else
        fail "update_set:"
        cat "$tmp/update" "$tmp/diff"
fi

# 7. ownership
unshare -n sh -c "
        '$BIN' owner full || exit 1
        nft list table inet postern | sed -n 2p
        '$BIN' owner full || { echo 'claim again failed'; exit 1; }
        echo claimed
        nft delete table inet postern && echo deleted" >"$tmp/owner" 2>&1
# nft 1.0.6 has no name for NFT_TABLE_F_PERSIST: an orphaned table lists as "flags " (nothing after it)
if [ $? -eq 0 ] && grep -q "flags" "$tmp/owner" && grep -q claimed "$tmp/owner" &&
        grep -q deleted "$tmp/owner"; then
        ok "OWNER|PERSIST: table stays orphaned after the owner exits ($(sed -n 1p "$tmp/owner" | tr -d '\t')), can be claimed again"
else
        fail "OWNER|PERSIST after exit: $(cat "$tmp/owner")"
fi

unshare -n sh -c "nft add table inet postern && '$BIN' owner full && nft list table inet postern | sed -n 2p" \
        >"$tmp/takeover" 2>&1
if [ $? -eq 0 ] && grep -q flags "$tmp/takeover"; then
        ok "OWNER|PERSIST apply takes over a plain table made by nft"
else
        fail "taking over a plain table: $(cat "$tmp/takeover")"
fi

unshare -n sh -c "
        cd '$tmp' && mkfifo ctl && mkfifo ready
        '$BIN' hold full <ctl >ready &
        exec 3>ctl
        read line <ready
        [ \"\$line\" = ready ] || { echo \"no ready: \$line\"; exit 1; }
        nft list table inet postern | sed -n 2p | tr -d '\t'
        nft delete table inet postern 2>/dev/null && echo 'foreign delete succeeded'
        '$BIN' apply full 2>/dev/null && echo 'foreign apply succeeded'
        nft flush ruleset
        nft list table inet postern >/dev/null 2>&1 || echo 'flush ruleset removed the owned table'
        exec 3>&-
        wait \$! || echo 'owner could not re-apply'
        true" >"$tmp/hold" 2>&1
if grep -q "flags owner" "$tmp/hold" && ! grep -q -e succeeded -e removed -e "could not" -e "no ready" "$tmp/hold"; then
        ok "OWNER|PERSIST while the owner lives: others cannot delete or replace it, flush ruleset keeps it"
else
        fail "OWNER|PERSIST while owned: $(cat "$tmp/hold")"
fi

# 9. pst_show_table(): the same text as nft list, JSON, a missing table
unshare -n sh -c "'$BIN' apply full && '$BIN' show && '$BIN' show-json | head -c 40 && echo && '$BIN' show other; echo rc=\$?" \
        >"$tmp/show" 2>&1
if head -n "$(wc -l <"$tmp/ours")" "$tmp/show" | cmp -s - "$tmp/ours" && grep -q '^{"nftables": \[{"metainfo"' "$tmp/show" &&
        grep -q "table inet other does not exist" "$tmp/show" && grep -q "rc=3" "$tmp/show"; then
        ok "pst_show_table: nft's listing, JSON, ENOENT for a missing table"
else
        fail "pst_show_table: $(cat "$tmp/show")"
fi

# 8. kernel errors map back to the policy line
unshare -n "$BIN" bad >"$tmp/bad" 2>&1
if [ $? -eq 0 ] && grep -q "^sample.conf:12: kernel rejected element 3 of set t4: File exists" "$tmp/bad"; then
        ok "kernel error mapped to its line: $(head -1 "$tmp/bad")"
else
        fail "bad ruleset: $(cat "$tmp/bad")"
fi
unshare -n sh -c "'$BIN' bad >/dev/null; nft list ruleset" >"$tmp/bad2" 2>&1
if [ ! -s "$tmp/bad2" ]; then
        ok "a rejected batch leaves nothing behind"
else
        fail "rejected batch left: $(cat "$tmp/bad2")"
fi

exit $failed
