#!/bin/bash
# posternctl diff against a live table, in fresh namespaces: exact output and
# exit status (0 same, 1 different, 2 system error), in the policy's words
# (newly allowed +, newly blocked -, per set element through the rule that
# uses the set, the conntrack count) and with --nft, for
#   - the same policy (no output),
#   - a list with entries removed and added: the structure is the same, the
#     set's elements are listed as +/- lines, the first 20 then "... and N more",
#   - a rule changed (pop3 dropped from seed 000's two rules): a unified diff of the
#     nft listings, without any named set's elements,
#   - no table at all, --json, and a caller without CAP_NET_ADMIN (exit 2),
#   - a rule whose anonymous set has 5,120 kernel elements: no difference,
#   - a zone made trusted: said by the zone ("trusted zone docker"), not by
#     its interfaces, in the text and in --json (trusted_zone).
set -u
. "$(dirname "$0")/lib.sh"
require_kernel
tmp=$(mktemp -d)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/data"
cp "$ROOT/tests/golden/lists-file.conf" "$tmp/lists.conf"
cp "$ROOT/tests/golden/data/partners.txt" "$tmp/data/partners.txt"
# lists2: 198.18.45.1 and 2001:db8:43::/64 gone, 198.18.5.0/24 and 24 single addresses new
sed -e 's/partners.txt/partners2.txt/' "$tmp/lists.conf" >"$tmp/lists2.conf"
{
        grep -v -e '^198.18.45.1$' -e '^2001:db8:43::/64$' "$tmp/data/partners.txt"
        echo 198.18.5.0/24
        for i in $(seq 1 24); do echo "198.18.6.$((i * 2))"; done
} >"$tmp/data/partners2.txt"
cp "$ROOT/conf/examples/000-safesquid-outlook.conf" "$tmp/seed000.conf"
sed -e 's/"ssh", "smtp", "dns", "pop3",/"ssh", "smtp", "dns",/' "$tmp/seed000.conf" >"$tmp/seed000-nopop3.conf"
cmp -s "$tmp/seed000.conf" "$tmp/seed000-nopop3.conf" && { fail "the seed 000 edit did not apply"; exit 1; }

# one rule with 2,560 port ranges: its anonymous set needs several NEWSETELEM
# messages when the live table is copied (one element list nest holds < 64 KiB)
python3 - "$tmp/anon.conf" <<'EOP'
import sys
svcs = ["  bulk%d = { tcp = [%s]; };" % (k, ", ".join('"%d-%d"' % (10000 + k * 300 + 4 * i, 10001 + k * 300 + 4 * i)
                                                      for i in range(64))) for k in range(40)]
allow = ", ".join('"bulk%d"' % k for k in range(40))
open(sys.argv[1], "w").write("services = {\n%s\n};\ninput = ( { allow = [%s]; } );\n" % ("\n".join(svcs), allow))
EOP

# a Docker host's bridges, then the same zone trusted
printf '%s\n' 'zones = {' '  wan = { interfaces = ["ppp0"]; };' '  docker = { interfaces = ["docker0", "br-+"]; };' '};' \
        'input = ( { allow = "ssh"; from = "wan"; } );' >"$tmp/docker.conf"
sed -e 's/"br-+"\]; }/"br-+"]; trusted = true; }/' "$tmp/docker.conf" >"$tmp/docker-trusted.conf"
cmp -s "$tmp/docker.conf" "$tmp/docker-trusted.conf" && { fail "the trusted edit did not apply"; exit 1; }

# run NAME CMD...: stdout+stderr to $tmp/NAME.out, exit status to $tmp/NAME.rc
cat >"$tmp/run.sh" <<EOS
cd '$tmp'
ctl() { '$CTL' --offline --catalog '$CATALOG' "\$@"; }
run() { n=\$1; shift; "\$@" >"\$n.out" 2>&1; echo \$? >"\$n.rc"; }
run none ctl --nft diff lists.conf
ctl apply lists.conf >/dev/null || exit 9
run same ctl diff lists.conf
run same-nft ctl --nft diff lists.conf
run list ctl --nft diff lists2.conf
run json ctl --nft --json diff lists2.conf
run speak-list ctl diff lists2.conf
run speak-json ctl --json diff lists2.conf
run eperm env POSTERN_UNSAFE_FILES=1 setpriv --reuid=65534 --regid=65534 --clear-groups \
        '$CTL' --offline --catalog '$CATALOG' diff lists.conf
ctl apply anon.conf >/dev/null || exit 9
run anon ctl diff anon.conf
ctl apply docker.conf >/dev/null || exit 9
run trusted ctl diff docker-trusted.conf
run trusted-json ctl --json diff docker-trusted.conf
ctl apply seed000.conf >/dev/null || exit 9
run rule ctl --nft diff seed000-nopop3.conf
ip link set lo up
echo x >/dev/udp/127.0.0.1/9 # one conntrack entry: the host's own, kept by any policy
run speak-rule ctl diff seed000-nopop3.conf
EOS
unshare -n bash "$tmp/run.sh" || { fail "applying in a namespace failed"; exit 1; }

check() { # NAME RC: exit status and exact output (expected on stdin)
        local got
        got=$(cat "$tmp/$1.rc")
        if [ "$got" = "$2" ]; then ok "$1: exit status $2"; else fail "$1: exit status $got, expected $2"; fi
        if diff -u - "$tmp/$1.out"; then ok "$1: output as expected"; else fail "$1: output differs"; fi
}

check same 0 </dev/null
check anon 0 </dev/null
check same-nft 0 </dev/null

check speak-list 1 <<'EOT'
+ input tcp/25 (smtp) from list partners: 198.18.5.0/24
+ input tcp/25 (smtp) from list partners: 198.18.6.2
+ input tcp/25 (smtp) from list partners: 198.18.6.4
+ input tcp/25 (smtp) from list partners: 198.18.6.6
+ input tcp/25 (smtp) from list partners: 198.18.6.8
+ input tcp/25 (smtp) from list partners: 198.18.6.10
+ input tcp/25 (smtp) from list partners: 198.18.6.12
+ input tcp/25 (smtp) from list partners: 198.18.6.14
+ input tcp/25 (smtp) from list partners: 198.18.6.16
+ input tcp/25 (smtp) from list partners: 198.18.6.18
+ input tcp/25 (smtp) from list partners: 198.18.6.20
+ input tcp/25 (smtp) from list partners: 198.18.6.22
+ input tcp/25 (smtp) from list partners: 198.18.6.24
+ input tcp/25 (smtp) from list partners: 198.18.6.26
+ input tcp/25 (smtp) from list partners: 198.18.6.28
+ input tcp/25 (smtp) from list partners: 198.18.6.30
+ input tcp/25 (smtp) from list partners: 198.18.6.32
+ input tcp/25 (smtp) from list partners: 198.18.6.34
+ input tcp/25 (smtp) from list partners: 198.18.6.36
+ input tcp/25 (smtp) from list partners: 198.18.6.38
- input tcp/25 (smtp) from list partners: 2001:db8:43::/64
... and 6 more set elements
conntrack: 0 of 0 tracked connections would not be let in as new
EOT

check speak-rule 1 <<'EOT'
- forward tcp/110 (pop3)
- input tcp/110 (pop3)
conntrack: 0 of 1 tracked connections would not be let in as new
EOT

check list 1 <<'EOT'
set list_partners_v4: 25 added, 1 removed
+ 198.18.5.0/24
+ 198.18.6.2
+ 198.18.6.4
+ 198.18.6.6
+ 198.18.6.8
+ 198.18.6.10
+ 198.18.6.12
+ 198.18.6.14
+ 198.18.6.16
+ 198.18.6.18
+ 198.18.6.20
+ 198.18.6.22
+ 198.18.6.24
+ 198.18.6.26
+ 198.18.6.28
+ 198.18.6.30
+ 198.18.6.32
+ 198.18.6.34
+ 198.18.6.36
+ 198.18.6.38
... and 6 more
set list_partners_v6: 0 added, 1 removed
- 2001:db8:43::/64
EOT

check rule 1 <<'EOT'
--- live
+++ seed000-nopop3.conf
@@ -5,7 +5,7 @@
 		iifname "lo" accept
 		icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept
 		meta l4proto { icmp, ipv6-icmp } accept
-		tcp dport { 22, 25, 53, 110, 389, 465, 587, 636, 953, 993, 995, 1023, 3268, 3269, 5222, 5269, 5280, 8080 } counter accept comment "Outlook through SafeSquid"
+		tcp dport { 22, 25, 53, 389, 465, 587, 636, 953, 993, 995, 1023, 3268, 3269, 5222, 5269, 5280, 8080 } counter accept comment "Outlook through SafeSquid"
 		udp dport { 53, 953 } counter accept comment "Outlook through SafeSquid"
 	}
 
@@ -13,7 +13,7 @@
 		type filter hook forward priority filter; policy drop;
 		ct state vmap { invalid : drop, established : accept, related : accept }
 		meta l4proto { icmp, ipv6-icmp } accept
-		tcp dport { 22, 25, 53, 110, 389, 465, 587, 636, 953, 993, 995, 1023, 3268, 3269, 5222, 5269, 5280, 8080 } counter accept comment "Outlook through SafeSquid"
+		tcp dport { 22, 25, 53, 389, 465, 587, 636, 953, 993, 995, 1023, 3268, 3269, 5222, 5269, 5280, 8080 } counter accept comment "Outlook through SafeSquid"
 		udp dport { 53, 953 } counter accept comment "Outlook through SafeSquid"
 	}
 }
EOT

check trusted 1 <<'EOT'
+ forward trusted zone docker
+ input trusted zone docker
conntrack: 0 of 0 tracked connections would not be let in as new
EOT

if python3 - "$tmp/trusted-json.out" <<'EOP'
import json, sys
d = json.load(open(sys.argv[1]))
want = [{"text": "%s trusted zone docker" % c, "chain": c, "what": "", "where": "trusted zone docker",
         "verdict": "accept", "element": None, "trusted_zone": "docker"} for c in ("forward", "input")]
assert d["allowed"] == want and d["blocked"] == [], d
EOP
then ok "trusted-json: trusted_zone names the zone"; else fail "trusted-json: shape"; cat "$tmp/trusted-json.out"; fi

check eperm 2 <<'EOT'
cannot read table inet postern from the kernel: Operation not permitted
EOT

if [ "$(cat "$tmp/none.rc")" = 1 ] && head -3 "$tmp/none.out" | grep -qx '@@ -0,0 +1,[0-9]* @@' &&
   grep -qx '+ 198.18.45.1' "$tmp/none.out"; then ok "none: no table: everything is added"
else fail "none: unexpected"; cat "$tmp/none.out"; fi

# --json: the documented shape
if python3 - "$tmp/json.out" <<'EOP'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is True and d["same"] is False, d
assert d["structure"] == "", d["structure"]
assert d["live"] == d["policy"] and d["live"].startswith("table inet postern {"), d["live"]
v4, v6 = d["sets"]
assert (v4["name"], v4["added"], v4["removed"]) == ("list_partners_v4", 25, 1), v4
assert v4["elements"][:2] == ["+ 198.18.5.0/24", "+ 198.18.6.2"] and len(v4["elements"]) == 20, v4
assert v6 == {"name": "list_partners_v6", "added": 0, "removed": 1, "elements": ["- 2001:db8:43::/64"]}, v6
EOP
then ok "json: documented shape"; else fail "json: shape"; cat "$tmp/json.out"; fi
[ "$(cat "$tmp/json.rc")" = 1 ] && ok "json: exit status 1" || fail "json: exit status $(cat "$tmp/json.rc")"

# --json without --nft: the policy's words as data
if python3 - "$tmp/speak-json.out" <<'EOP'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is True and d["same"] is False, d
first = {"text": "input tcp/25 (smtp) from list partners: 198.18.5.0/24", "chain": "input",
         "what": "tcp/25 (smtp)", "where": "from list partners", "verdict": "accept", "element": "198.18.5.0/24",
         "trusted_zone": None}
assert d["allowed"][0] == first and len(d["allowed"]) == 20, d
assert [b["text"] for b in d["blocked"]] == ["input tcp/25 (smtp) from list partners: 2001:db8:43::/64"], d
assert d["more"] == 6 and d["conntrack"] == {"cut": 0, "total": 0}, d
EOP
then ok "speak-json: documented shape"; else fail "speak-json: shape"; cat "$tmp/speak-json.out"; fi
[ "$(cat "$tmp/speak-json.rc")" = 1 ] && ok "speak-json: exit status 1" || fail "speak-json: exit status"
exit $failed
