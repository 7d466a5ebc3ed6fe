#!/bin/sh
# expect.sh fail/NAME.conf: print the error text the case expects, its
# "# expect: TEXT" lines in order, one line of stderr each.  These lines are
# the only copy of the expected text: run.sh and tests/kernel/fail-untouched.sh
# compare it, whole and exactly, against what posternctl prints.
# A line that starts like an expectation but is not one is an error, so that
# a typo cannot silently drop an assertion; so is a case without any.
exec awk '
/^#[ \t]*expect/ {
        if ($0 == "# expect:") { print ""; n++; next }
        if (substr($0, 1, 10) == "# expect: ") { print substr($0, 11); n++; next }
        printf "%s:%d: malformed expectation; write \"# expect: TEXT\"\n", FILENAME, FNR > "/dev/stderr"
        bad = 1
}
END {
        if (!n && !bad) printf "%s: no \"# expect: TEXT\" line\n", FILENAME > "/dev/stderr"
        exit (bad || !n) ? 2 : 0
}' "$1"
