#!/bin/bash
# Hostile and careless inputs (issue 11): each case a policy tree built in a
# private temporary directory, checked with `posternctl check` (no kernel),
# asserting the exact exit status and error text.
#   empty / rule-less policies, integers libconfig would wrap, NUL and
#   control bytes, FIFOs and other non-regular files, files and directories
#   others may write to, IPv4-mapped IPv6 addresses, and a digest that
#   covers @included and list files.
set -u
ctl=${POSTERNCTL:?POSTERNCTL must point at the posternctl binary}
catalog=${POSTERN_CATALOG:?}
tmp=$(mktemp -d /tmp/postern-hostile.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 99
unset POSTERN_UNSAFE_FILES
fails=0 n=0

# expect NAME STATUS EXPECTED-STDERR POLICY: check POLICY, exactly.
expect() {
        local name=$1 want_rc=$2 want=$3 policy=$4 err rc
        n=$((n + 1))
        err=$(timeout 10 "$ctl" check --catalog "$catalog" "$policy" 2>&1 >/dev/null)
        rc=$?
        if [ "$rc" != "$want_rc" ] || [ "$err" != "$want" ]; then
                echo "FAIL $name: exit $rc (want $want_rc)"
                echo "  got:  $err"
                echo "  want: $want"
                fails=$((fails + 1))
        else
                echo "ok $name"
        fi
}

# digest FILE: the digest `check --json` reports
digest() { "$ctl" check --json --catalog "$catalog" "$1" | sed -n 's/.*"digest": *"\([0-9a-f]*\)".*/\1/p'; }

mkdir -m 0700 p && cd p || exit 99
ok='input = ( { allow = "ssh"; } );'

# ---- item 1: an empty or rule-less main policy is an error, unless it says so
: >empty.conf
expect empty-file 1 "empty.conf: no input or forward rules: this policy would drop all new connections; write input = (); to mean that" empty.conf
printf 'zones = { lan = { interfaces = ["eth1"]; }; };\n' >norules.conf
expect no-rules 1 "norules.conf: no input or forward rules: this policy would drop all new connections; write input = (); to mean that" norules.conf
printf 'input = ();\n' >dropall.conf
expect explicit-drop-all 0 "" dropall.conf

# ---- item 2: integers libconfig 1.5 would wrap to 32 bits
printf 'input = ( { tcp = [4294967318]; } );\n' >wrap.conf
expect int-wrap-port 1 "wrap.conf:1: the number 4294967318 is too large: libconfig would wrap it; expected at most 2147483647" wrap.conf
printf 'services = { x = { icmp = [4294967304]; }; };\ninput = ( { allow = "x"; } );\n' >wrap2.conf
expect int-wrap-icmp 1 "wrap2.conf:1: the number 4294967304 is too large: libconfig would wrap it; expected at most 2147483647" wrap2.conf
printf 'options = {\n  log_rate = 9999999999999;\n};\n%s\n' "$ok" >wrap3.conf
expect int-wrap-big 1 "wrap3.conf:2: the number 9999999999999 is too large: libconfig would wrap it; expected at most 2147483647" wrap3.conf
printf 'input = ( { tcp = [0x10000000016]; } );\n' >wrap4.conf
expect int-wrap-hex 1 "wrap4.conf:1: the number 0x10000000016 is too large: libconfig would wrap it; expected at most 2147483647" wrap4.conf
printf '# 4294967318 in a comment is fine\n%s\n' "$ok" >comment-number.conf
expect int-in-comment 0 "" comment-number.conf

# ---- item 3: NUL bytes and control characters
printf 'hosts = { a = "198.18.2.1\0000"; };\ninput = ( { allow = "ssh"; from = "a"; } );\n' >nul.conf
expect nul-in-string 1 "nul.conf:1: contains a NUL byte: a string or list entry would silently end there; remove it" nul.conf
printf '198.18.2.1\n198.18.2.2\000\n198.18.2.3\n198.18.2.4\n' >list.txt
printf 'lists = { l = { file = "list.txt"; }; };\ninput = ( { allow = "ssh"; from = "l"; } );\n' >nul-list.conf
expect nul-in-list 1 "list.txt:2: contains a NUL byte: a string or list entry would silently end there; remove it" nul-list.conf
printf 'input = ( { allow = "ssh"; } );\001\n' >ctrl.conf
expect control-char 1 "ctrl.conf:1: contains the control character 0x01; only tab, CR and LF are allowed outside comments" ctrl.conf
printf '# a bell \a in a comment\n%s\n' "$ok" >ctrl-comment.conf
expect control-in-comment 0 "" ctrl-comment.conf

# ---- item 11: an IPv4-mapped IPv6 address never matches an IPv4 client
printf 'input = ( { allow = "ssh"; from = "::ffff:198.18.2.1"; } );\n' >mapped.conf
expect v4-mapped 1 "mapped.conf:1: '::ffff:198.18.2.1' is an IPv4-mapped IPv6 address, which never matches: IPv4 clients arrive as IPv4; write 198.18.2.1" mapped.conf

# ---- item 8: non-regular files are refused, without blocking
mkfifo fifo.conf
expect fifo-main 1 "fifo.conf: not a regular file" fifo.conf
mkfifo fifo.txt
printf 'lists = { l = { file = "fifo.txt"; }; };\ninput = ( { allow = "ssh"; from = "l"; } );\n' >fifo-list.conf
expect fifo-list 1 "fifo-list.conf:1: list file 'fifo.txt': not a regular file" fifo-list.conf
printf '@include "fifo.conf"\n%s\n' "$ok" >fifo-include.conf
expect fifo-include 1 "fifo-include.conf:1: @include './fifo.conf': not a regular file" fifo-include.conf
mkdir -m 0755 frag && printf '%s\n' "$ok" >frag/main.conf && mkdir -m 0755 frag/postern.d && mkfifo frag/postern.d/x.conf
expect fifo-fragment 1 "frag/postern.d/x.conf: not a regular file" frag/main.conf
expect directory 1 "frag: a directory, not a file" frag

# ---- item 9: files and directories others may write to
printf '%s\n' "$ok" >open.conf && chmod 0666 open.conf
expect world-writable 1 "open.conf: writable by group or others; chmod go-w it (POSTERN_UNSAFE_FILES=1 allows it)" open.conf
n=$((n + 1))
if POSTERN_UNSAFE_FILES=1 "$ctl" check --catalog "$catalog" open.conf >/dev/null 2>&1; then
        echo "ok unsafe-override"
else
        echo "FAIL unsafe-override: POSTERN_UNSAFE_FILES=1 did not allow it"; fails=$((fails + 1))
fi
mkdir -m 0777 opendir && printf '%s\n' "$ok" >opendir/p.conf
expect writable-dir 1 "opendir/p.conf: in directory $tmp/p/opendir, which group or others may write to (POSTERN_UNSAFE_FILES=1 allows it)" opendir/p.conf
if [ "$(id -u)" = 0 ]; then
        printf '0.0.0.0/0\n' >nobody.txt && chown 65534 nobody.txt
        printf 'lists = { l = { file = "nobody.txt"; }; };\ninput = ( { allow = "ssh"; from = "l"; } );\n' >nobody.conf
        expect list-owned-by-nobody 1 "nobody.conf:1: list file 'nobody.txt': owned by uid 65534; only root may own what the firewall is built from (POSTERN_UNSAFE_FILES=1 allows it)" nobody.conf
else
        echo "skip list-owned-by-nobody: needs root to chown"
fi

# ---- item 11: one list entry too many is one error, not a second "too many lists"
python3 -c 'import sys
for i in range(1000001): sys.stdout.write("198.%d.%d.%d\n" % (18 + (i >> 16) % 2, (i >> 8) & 255, i & 255))' >big.txt
printf 'lists = { l = { file = "big.txt"; }; };\ninput = ( { allow = "ssh"; from = "l"; } );\n' >big.conf
expect list-entries-max 1 "big.txt:1000001: too many entries (at most 1000000 per list)" big.conf

# ---- item 4: the digest covers @included files and list files
printf 'zones = { lan = { interfaces = ["eth1"]; }; };\n' >inc.conf
printf '@include "inc.conf"\n%s\n' "$ok" >with-inc.conf
printf '198.18.2.1\n' >l.txt
printf 'lists = { l = { file = "l.txt"; }; };\ninput = ( { allow = "ssh"; from = "l"; } );\n' >with-list.conf
d1=$(digest with-inc.conf) l1=$(digest with-list.conf)
printf 'zones = { lan = { interfaces = ["eth2"]; }; };\n' >inc.conf
printf '198.18.2.2\n' >l.txt
d2=$(digest with-inc.conf) l2=$(digest with-list.conf)
n=$((n + 1))
if [ -n "$d1" ] && [ -n "$l1" ] && [ "$d1" != "$d2" ] && [ "$l1" != "$l2" ]; then
        echo "ok digest-covers-includes-and-lists"
else
        echo "FAIL digest: include $d1 -> $d2, list $l1 -> $l2 (each must change)"; fails=$((fails + 1))
fi

echo "$((n - fails)) of $n hostile-input cases passed"
[ "$fails" = 0 ]
