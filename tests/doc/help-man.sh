#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every verb and option that PROG --help lists (parsed at test time, with the
# same functions as the bash completion) is documented in its man page
# (an item "*verb*" / "*--option*" in man/PROG.8.scd), in the README, and
# offered by the completion; the man page is rendered by man(1) without
# warnings when scdoc built it.
#   help-man.sh PROG_BINARY [BUILT_MAN_PAGE]
set -u
prog=$1 built=${2:-}
name=$(basename "$prog")
src=${POSTERN_SOURCE_ROOT:?}
scd=$src/man/$name.8.scd
readme=$src/README.md
# shellcheck source=completion/postern.bash
complete() { :; }   # the completion file registers itself; not needed here
. "$src/completion/postern.bash"
PATH=$(dirname "$prog"):$PATH
failed=0
fail() { echo "FAIL: $*"; failed=1; }

"$prog" --help >/dev/null || fail "$name --help exits $?"
verbs=$(_postern_verbs "$name")
opts=$(_postern_options "$name")
[ -n "$opts" ] || fail "$name --help: no options found"
[ "$name" = posternctl ] && [ -z "$verbs" ] && fail "posternctl --help: no verbs found"
for v in $verbs; do
        grep -qE "^\*$v\*( |$)" "$scd" || fail "verb '$v' has no item '*$v*' in man/$name.8.scd"
        grep -qE "\`$v( |\`)" "$readme" || fail "verb '$v' is not in README.md"
done
for o in $opts; do
        grep -qE "(^|, )\*$o\*" "$scd" || fail "option '$o' has no item '*$o*' in man/$name.8.scd"
        case $o in
        -h | --help | --version) ;;  # common to every program: not in the README's tables
        *) grep -qE "\`$o[ =\`\[]|\`$name \[--|\[$o[] =[]" "$readme" || fail "option '$o' is not in README.md" ;;
        esac
done
# and the other way round: every item of the man page's VERBS/OPTIONS is in --help
items=$(awk '/^# (VERBS|OPTIONS)$/ { on = 1; next } /^# / { on = 0 } on && /^\*/ { print }' "$scd" |
        grep -oE '^\*[a-z-]+\*|, \*-[a-z-]+\*' | tr -d '*, ')
for i in $items; do
        printf '%s\n' $verbs $opts | grep -qx -- "$i" || fail "man/$name.8.scd documents '$i', which $name --help does not list"
done
if [ -n "$built" ]; then
        w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$built" 2>&1 >/dev/null)
        [ -z "$w" ] || fail "man -l $built: $w"
fi
echo "$name: $(echo $verbs | wc -w) verbs, $(echo $opts | wc -w) options: in --help, man/$name.8.scd and README.md"
exit $failed
