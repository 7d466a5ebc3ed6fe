#!/bin/bash
# The default policy, each seed example and golden policy, applied by posternctl in a fresh
# namespace:
#   - `nft list table inet postern` equals expected/NAME.list (the kernel's view);
#   - it equals, line for line, what `nft -f` installs from our rendered text
#     (the differential test: our batch == nft's own reading of our text);
#   - applying again changes nothing (idempotent), `posternctl diff` agrees;
#   - tables of other tools (iptables-nft, docker-like) survive untouched.
# POSTERN_GOLDEN_UPDATE=1 rewrites expected/*.list (review the diff).
set -u
. "$(dirname "$0")/lib.sh"
require_kernel
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$ROOT/tests/golden" || exit 99

others='table ip filter {
	chain INPUT { type filter hook input priority filter; policy accept; tcp dport 22 accept; }
}
table ip docker {
	chain DOCKER {
	}
}
table inet other {
	set s { type ipv4_addr; elements = { 198.18.9.9 }; }
}'

# POSTERN_EXAMPLES=kernel-sensitive (the VM suite sets it, tests/vm/plan.py):
# under TCG every case costs ~4 s, so inside Debian's kernels only the default
# policy, the seeds and the golden cases whose kernel side differs between
# kernel versions run — dynamic and interval sets, concatenated ranges
# (many-host-rules, 5.6), NFLOG and limits, NAT, ct mark (rematch), timeout
# sets (rpc), wildcard interface names, "all" (no layer-4 match).  The other
# golden cases use only what the seeds already exercise.
sensitive() {
        local p
        for p in allow-all ifaddr-link lists-file log-drops many-host-rules 'nat-*' rematch 'rpc-*' zones-wildcard; do
                # shellcheck disable=SC2053
                [[ $1 == $p ]] && return 0
        done
        return 1
}
for policy in ../../conf/postern.conf ../../conf/examples/*.conf *.conf; do
        name=$(basename "$policy" .conf)
        if [ "${POSTERN_EXAMPLES:-all}" = kernel-sensitive ] && [ "${policy#../..}" = "$policy" ] &&
                ! sensitive "$name"; then
                continue
        fi
        if grep -q '^# requires: nft_queue' "$policy" && ! "$ROOT/tests/have-nft-queue.sh"; then
                echo "# $name: skipped, this kernel has no nft_queue (the VM suite's 6.1 and 6.12 do)"
                continue
        fi
        expected=$ROOT/tests/kernel/expected/$name.list
        # and the case's own addresses (tests/golden/run.sh)
        ifaddrs="$IFADDRS $(sed -n 's/^# ifaddr: /--ifaddr /p' "$policy" | tr '\n' ' ')"
        # shellcheck disable=SC2086
        "$CTL" compile --offline --catalog "$CATALOG" $ifaddrs "$policy" >"$tmp/$name.nft" 2>"$tmp/err" ||
                { fail "$name: compile"; cat "$tmp/err"; continue; }
        # shellcheck disable=SC2086
        unshare -n bash -c "
                set -e
                echo '$others' | nft -f -
                nft list ruleset > '$tmp/others.before'
                '$CTL' apply --offline --catalog '$CATALOG' $ifaddrs '$policy' >/dev/null
                nft list table inet postern > '$tmp/$name.ours'
                '$CTL' apply --offline --catalog '$CATALOG' $ifaddrs '$policy' >/dev/null
                nft list table inet postern > '$tmp/$name.again'
                '$CTL' diff --offline --catalog '$CATALOG' $ifaddrs '$policy' > '$tmp/$name.diff'
                nft delete table inet postern
                nft list ruleset > '$tmp/others.after'
        " 2>"$tmp/err" || { fail "$name: apply in a namespace"; cat "$tmp/err"; continue; }
        # nft 1.0.6's type checker refuses the key of a dynamic-set update that
        # mixes addresses with a raw load (the endpoint mapper's replies read in the
        # kernel, options.rpc_mechanism kernel+*), which the kernel takes from our
        # batch: the differential leaves those rules out of both sides
        grep -v ' update @' "$tmp/$name.nft" >"$tmp/$name.nft-f"
        grep -v ' update @' "$tmp/$name.ours" >"$tmp/$name.ours-f"
        unshare -n bash -c "nft -f '$tmp/$name.nft-f' && nft list table inet postern" >"$tmp/$name.theirs" 2>"$tmp/err" ||
                { fail "$name: nft -f rejects our text"; cat "$tmp/err"; continue; }

        if [ "${POSTERN_GOLDEN_UPDATE:-}" = 1 ]; then
                mkdir -p "$(dirname "$expected")"
                cp "$tmp/$name.ours" "$expected"
        fi
        if diff -u "$expected" "$tmp/$name.ours"; then ok "$name: listing = expected/$name.list"
        else fail "$name: listing differs from expected/$name.list"; fi
        if diff -u "$tmp/$name.theirs" "$tmp/$name.ours-f"; then ok "$name: our batch = nft -f of our text"
        else fail "$name: our batch and nft -f of our text differ"; fi
        if cmp -s "$tmp/$name.ours" "$tmp/$name.again"; then ok "$name: idempotent"
        else fail "$name: second apply changed the table"; fi
        if [ ! -s "$tmp/$name.diff" ]; then ok "$name: posternctl diff: no difference"
        else fail "$name: posternctl diff reports a difference"; cat "$tmp/$name.diff"; fi
        if diff -u "$tmp/others.before" "$tmp/others.after" >/dev/null; then ok "$name: other tables untouched"
        else fail "$name: other tables changed"; diff -u "$tmp/others.before" "$tmp/others.after"; fi
done
exit $failed
