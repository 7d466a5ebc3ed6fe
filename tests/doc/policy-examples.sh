#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every policy example an administrator reads is a policy posternctl
# accepts: each ``` block of the README's "The policy language" section and
# of man/postern.conf.5.scd is written to a file of its own and checked with
# `posternctl check` (exit 0, and not a warning: an example shows the way a
# policy should be written).  The one file an example names, partners.txt
# (a list), is given one address.
set -u
src=${POSTERN_SOURCE_ROOT:?} ctl=${POSTERNCTL:?} catalog=${POSTERN_CATALOG:?}
tmp=$(mktemp -d /tmp/postern-doc.XXXXXX) || exit 99
trap 'rm -rf "$tmp"' EXIT
failed=0 n=0

# extract FILE FIRST_LINE_RE END_LINE_RE PREFIX: the blocks between the lines
# matching the two patterns, as PREFIX-LINE.conf (LINE: the block's first line)
extract() {
        awk -v start="$2" -v end="$3" -v out="$tmp/$4" '
                $0 ~ start { on = 1; next }
                on && end != "" && $0 ~ end { on = 0 }
                on && /^```/ { if (f) { close(f); f = "" } else f = out "-" NR + 1 ".conf"; next }
                f { print > f }' "$1"
}
extract "$src/README.md" '^## The policy language' '^## ' README
extract "$src/man/postern.conf.5.scd" '^# NAME' '' postern.conf.5
echo "198.18.5.0/24" > "$tmp/partners.txt"
cd "$tmp" || exit 99
for f in *.conf; do
        n=$((n + 1))
        where=${f%-*}:${f##*-}
        where=${where%.conf}
        if ! "$ctl" check --catalog "$catalog" "$f" >out 2>err; then
                echo "FAIL: the example at $where is not a valid policy:"
                sed 's/^/    /' err
                failed=1
        elif [ -s err ]; then
                echo "FAIL: the example at $where draws a warning:"
                sed 's/^/    /' err
                failed=1
        else
                echo "ok   $where"
        fi
done
[ "$n" -ge 7 ] || { echo "FAIL: only $n examples found (the extraction is broken)"; failed=1; }
exit $failed
