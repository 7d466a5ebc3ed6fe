#!/bin/bash
# Every malformed policy of the golden suite, given to `posternctl apply`
# on a host whose firewall is installed: exit 1, the exact FILE:LINE error
# of its "# expect:" lines (tests/golden/expect.sh), and the live table byte
# for byte as it was.
set -u
. "$(dirname "$0")/lib.sh"
require_kernel
cd "$ROOT/tests/golden" || exit 99
catalog=../../conf/services.conf
unshare -n bash -c '
        failed=0 n=0
        "$0" apply --offline --catalog "$1" ../../conf/postern.conf >/dev/null || exit 1
        before=$(nft list table inet postern)
        for f in fail/*.conf; do
                n=$((n + 1))
                err=$("$0" apply --offline --catalog "$1" "$f" 2>&1 >/dev/null); rc=$?
                if [ $rc -ne 1 ]; then echo "FAIL: $f: exit $rc, expected 1"; failed=1; continue; fi
                expected=$(./expect.sh "$f") || { failed=1; continue; }
                if [ "$err" != "$expected" ]; then
                        echo "FAIL: $f: error text differs:"; echo "$err"; failed=1; continue
                fi
                if [ "$(nft list table inet postern)" != "$before" ]; then
                        echo "FAIL: $f: the live table changed"; failed=1; continue
                fi
        done
        echo "$n malformed policies refused, live table unchanged: $([ $failed = 0 ] && echo yes || echo NO)"
        exit $failed
' "$CTL" "$catalog"
