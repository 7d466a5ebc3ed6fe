#!/bin/bash
# The iptables backend (libiptc + ipset), each seed example in a fresh
# namespace (unshare -n):
#   - iptables-legacy-save / ip6tables-legacy-save (counters and "#" lines
#     dropped) equal expected-iptc/NAME.v4 / NAME.v6, ipset's view equals
#     NAME.ipset;
#   - the -A lines equal those of `posternctl compile --backend iptables`
#     (the differential test: our libiptc entries == our text);
#   - a second apply changes nothing (idempotent);
#   - OUTPUT, another user chain and its rule jumping from OUTPUT survive,
#     a stale postern-* chain and its ipset are removed;
#   - a policy the backend refuses (a LOG prefix over 29 bytes) and a
#     commit the kernel refuses leave the previous rules byte-identical;
#   - `iptables-legacy-restore --noflush` of our text installs the same.
# POSTERN_GOLDEN_UPDATE=1 rewrites expected-iptc/* (review the diff).
set -u
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ]; then
        echo "skipped: needs root for unshare -n and legacy iptables"
        exit 77
fi
for t in iptables-legacy-save ip6tables-legacy-save iptables-legacy-restore ip6tables-legacy-restore; do
        command -v $t >/dev/null || { echo "skipped: $t not found"; exit 77; }
done
if ! unshare -n iptables-legacy-save -t filter >/dev/null 2>&1 ||
   ! unshare -n ip6tables-legacy-save -t filter >/dev/null 2>&1; then
        echo "skipped: no legacy iptables (ip_tables / ip6_tables) in this kernel"
        exit 77
fi
command -v ipset >/dev/null || { echo "skipped: ipset not found"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
expected_dir=$ROOT/tests/kernel/expected-iptc
APPLY="'$CTL' apply --backend iptables --offline --catalog '$CATALOG' $IFADDRS"

# What we compare: the filter tables without counters and comments (and
# the nat tables where the kernel has them: a policy without NAT must not
# create one), and the ipsets without their random initval.
cat > "$tmp/dump" <<'DUMP'
#!/bin/sh
save() { # SAVE NAMES: table filter, and nat if it exists
        { "$1" -t filter; ! grep -qx nat "$2" || "$1" -t nat; } | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]$/[0:0]/'
}
save iptables-legacy-save /proc/net/ip_tables_names > "$1.v4"
save ip6tables-legacy-save /proc/net/ip6_tables_names > "$1.v6"
ipset save | sed 's/ initval 0x[0-9a-f]*//' | sort > "$1.ipset"
DUMP
chmod +x "$tmp/dump"

# Someone else's rules: OUTPUT, a chain of theirs (and INPUT jumping to it,
# which is ours to replace), a stale chain and set of an older postern.
others='*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:f2b-sshd - [0:0]
:postern-input-old - [0:0]
-A INPUT -j f2b-sshd
-A INPUT -j postern-input-old
-A OUTPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A OUTPUT -j f2b-sshd
-A f2b-sshd -s 198.18.99.9/32 -j DROP
-A postern-input-old -m set --match-set postern-list_old_v4-00000000 src -j ACCEPT
COMMIT'

# and log_drops: NFLOG targets and the per-zone log chains; nat-ipv6:
# ip6tables nat (MASQUERADE, SNAT, DNAT to [ADDR]:PORT)
for policy in "$ROOT"/conf/examples/*.conf "$ROOT/tests/golden/log-drops.conf" "$ROOT/tests/golden/nat-ipv6.conf"; do
        name=$(basename "$policy" .conf)
        case $name in *-pinholes)
                # rpc pinholes need nftables: refused, with the line of the rpc option
                # shellcheck disable=SC2086
                if "$CTL" compile --backend iptables --offline --catalog "$CATALOG" $IFADDRS "$policy" \
                        >/dev/null 2>"$tmp/err" || ! grep -q ':[0-9]*: iptables backend: rpc pinholes need the nftables backend' "$tmp/err"; then
                        fail "$name: the iptables backend did not refuse rpc pinholes"; cat "$tmp/err"
                fi
                continue ;;
        esac
        # shellcheck disable=SC2086
        "$CTL" compile --backend iptables --offline --catalog "$CATALOG" $IFADDRS "$policy" >"$tmp/$name.rules" \
                2>"$tmp/err" || { fail "$name: compile --backend iptables"; cat "$tmp/err"; continue; }
        unshare -n bash -c "
                set -e
                $APPLY '$policy' >/dev/null
                '$tmp/dump' '$tmp/$name'
                $APPLY '$policy' >/dev/null
                '$tmp/dump' '$tmp/$name.again'
        " 2>"$tmp/err" || { fail "$name: apply in a namespace"; cat "$tmp/err"; continue; }
        if [ "${POSTERN_GOLDEN_UPDATE:-}" = 1 ]; then
                for s in v4 v6 ipset; do cp "$tmp/$name.$s" "$expected_dir/$name.$s"; done
        fi
        for s in v4 v6 ipset; do
                if diff -u "$expected_dir/$name.$s" "$tmp/$name.$s"; then ok "$name: $s = expected-iptc/$name.$s"
                else fail "$name: $s differs from expected-iptc/$name.$s"; fi
                if cmp -s "$tmp/$name.$s" "$tmp/$name.again.$s"; then ok "$name: $s idempotent"
                else fail "$name: second apply changed $s"; diff -u "$tmp/$name.$s" "$tmp/$name.again.$s"; fi
        done
        # differential: the kernel's -A lines are our text's
        awk '/^# postern: iptables/{p=1;next} /^# postern: ip6tables/{p=0} p && /^-A/' "$tmp/$name.rules" > "$tmp/r4"
        awk '/^# postern: ip6tables/{p=1;next} p && /^-A/' "$tmp/$name.rules" > "$tmp/r6"
        if grep '^-A' "$tmp/$name.v4" | diff -u - "$tmp/r4" && grep '^-A' "$tmp/$name.v6" | diff -u - "$tmp/r6"; then
                ok "$name: libiptc entries = compile --backend iptables text"
        else fail "$name: libiptc entries and our text differ"; fi
        # restore of our own text (in a namespace that has the sets) installs the same
        unshare -n bash -c "
                set -e
                awk '/^# postern: ipset/{p=1;next} /^# postern: iptables/{p=0} p' '$tmp/$name.rules' | ipset -exist restore
                awk '/^# postern: iptables/{p=1;next} /^# postern: ip6tables/{p=0} p' '$tmp/$name.rules' | iptables-legacy-restore --noflush
                awk '/^# postern: ip6tables/{p=1;next} p' '$tmp/$name.rules' | ip6tables-legacy-restore --noflush
                '$tmp/dump' '$tmp/$name.restored'
        " 2>"$tmp/err" || { fail "$name: iptables-legacy-restore of our text"; cat "$tmp/err"; continue; }
        if cmp -s "$tmp/$name.v4" "$tmp/$name.restored.v4" && cmp -s "$tmp/$name.v6" "$tmp/$name.restored.v6"; then
                ok "$name: iptables-restore of our text = our apply"
        else fail "$name: iptables-restore of our text differs"; diff -u "$tmp/$name.v4" "$tmp/$name.restored.v4"; fi

        # other chains survive, stale ones of ours go
        unshare -n bash -c "
                set -e
                ipset create postern-list_old_v4-00000000 hash:net
                echo '$others' | iptables-legacy-restore
                iptables-legacy-save -t filter | grep -E '^-A (OUTPUT|f2b-sshd)' > '$tmp/theirs.before'
                $APPLY '$policy' >/dev/null
                iptables-legacy-save -t filter > '$tmp/after'
                grep -E '^-A (OUTPUT|f2b-sshd)' '$tmp/after' > '$tmp/theirs.after'
                ! grep -q postern-input-old '$tmp/after'
                ! ipset list -n | grep -q postern-list_old_v4
        " 2>"$tmp/err" || { fail "$name: apply over other rules"; cat "$tmp/err"; continue; }
        if cmp -s "$tmp/theirs.before" "$tmp/theirs.after" && [ -s "$tmp/theirs.after" ]; then
                ok "$name: OUTPUT and f2b-sshd untouched, stale postern chain and set removed"
        else fail "$name: other chains changed"; diff -u "$tmp/theirs.before" "$tmp/theirs.after"; fi
done

# options.forward = "unmanaged": FORWARD (policy and rules, such as
# Docker's jumps) is another tool's and stays as it was; INPUT is ours.
docker_fwd='*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A DOCKER-USER -j RETURN
COMMIT'
unshare -n bash -c "
        set -e
        echo '$docker_fwd' | iptables-legacy-restore
        iptables-legacy-save -t filter | grep -E '^(:FORWARD|-A FORWARD|-A DOCKER-USER)' | sed 's/ \[.*//' > '$tmp/fwd.before'
        $APPLY '$ROOT/tests/golden/forward-unmanaged.conf' >/dev/null
        $APPLY '$ROOT/tests/golden/forward-unmanaged.conf' >/dev/null
        iptables-legacy-save -t filter > '$tmp/fwd.all'
        grep -E '^(:FORWARD|-A FORWARD|-A DOCKER-USER)' '$tmp/fwd.all' | sed 's/ \[.*//' > '$tmp/fwd.after'
        grep -q '^:INPUT DROP' '$tmp/fwd.all'
        grep -q '^-A INPUT -i docker0 -m comment --comment \"trusted zone docker\" -j ACCEPT' '$tmp/fwd.all'
" 2>"$tmp/err" || { fail "forward-unmanaged: apply over Docker's FORWARD"; cat "$tmp/err"; }
if [ -s "$tmp/fwd.before" ] && cmp -s "$tmp/fwd.before" "$tmp/fwd.after"; then
        ok "forward = unmanaged: FORWARD's policy and Docker's rules untouched, INPUT ours"
else fail "forward = unmanaged: FORWARD changed"; diff -u "$tmp/fwd.before" "$tmp/fwd.after"; fi

# NAT and Docker's nat table: Docker's chains and rules in PREROUTING /
# POSTROUTING stay, our jumps go first; a policy without NAT afterwards
# removes our nat chains and jumps, and leaves Docker's as they were.
docker_nat='*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A DOCKER -i docker0 -j RETURN
COMMIT'
unshare -n bash -c "
        set -e
        echo '$docker_nat' | iptables-legacy-restore
        iptables-legacy-save -t nat | grep -E '^(:DOCKER|-A)' > '$tmp/dnat.before'
        $APPLY '$ROOT/conf/examples/004-dialup-masquerade.conf' >/dev/null
        $APPLY '$ROOT/conf/examples/004-dialup-masquerade.conf' >/dev/null
        iptables-legacy-save -t nat | grep -E '^-A (PREROUTING|POSTROUTING)' > '$tmp/dnat.hooks'
        $APPLY '$ROOT/conf/examples/004-dialup-mail-server.conf' >/dev/null
        iptables-legacy-save -t nat | grep -E '^(:DOCKER|-A)' > '$tmp/dnat.after'
        ! iptables-legacy-save -t nat | grep -q postern-
" 2>"$tmp/err" || { fail "nat over Docker's nat table"; cat "$tmp/err"; }
printf '%s\n' '-A PREROUTING -j postern-prerouting' '-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER' \
        '-A POSTROUTING -j postern-postrouting' '-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE' \
        > "$tmp/dnat.want"
if diff -u "$tmp/dnat.want" "$tmp/dnat.hooks"; then ok "nat: one jump each, first, before Docker's rules"
else fail "nat: PREROUTING / POSTROUTING not as expected"; fi
if [ -s "$tmp/dnat.before" ] && cmp -s "$tmp/dnat.before" "$tmp/dnat.after"; then
        ok "nat: Docker's nat chains and rules untouched, ours removed with the NAT policy"
else fail "nat: Docker's nat rules changed"; diff -u "$tmp/dnat.before" "$tmp/dnat.after"; fi
# a policy without NAT does not create a nat table
unshare -n bash -c "$APPLY '$ROOT/conf/examples/004-dialup-mail-server.conf' >/dev/null &&
        ! grep -qx nat /proc/net/ip_tables_names && ! grep -qx nat /proc/net/ip6_tables_names" &&
        ok "nat: no nat table created for a policy without NAT" || fail "nat: a nat table appeared without NAT"

# refused_unchanged WHAT POLICY MESSAGE: over seed 004's rules, POLICY is
# refused with MESSAGE and the rules and sets stay byte-identical
refused_unchanged() {
        local what=$1 policy=$2 msg=$3 s same=1
        unshare -n bash -c "
                $APPLY '$ROOT/conf/examples/004-dialup-mail-server.conf' >/dev/null || exit 3
                '$tmp/dump' '$tmp/before'
                $APPLY '$policy' > '$tmp/out' 2>&1 && exit 4
                '$tmp/dump' '$tmp/after'
                exit 0
        " || { fail "$what: setup (status $?)"; return; }
        for s in v4 v6 ipset; do cmp -s "$tmp/before.$s" "$tmp/after.$s" || same=0; done
        if grep -qF "$msg" "$tmp/out" && [ $same = 1 ]; then ok "$what: refused, rules unchanged"
        else fail "$what: not refused as expected, or the rules changed"; cat "$tmp/out"; fi
}

# managed → unmanaged while FORWARD still jumps into postern-forward-*:
# refused with what to do (FORWARD is not ours to flush)
refused_unchanged "managed → unmanaged with postern's jumps in FORWARD" \
        "$ROOT/tests/golden/forward-unmanaged.conf" 'FORWARD still jumps to it, and with forward = "unmanaged"'

# A policy the backend refuses leaves the rules as they were.
sed 's/^options = {/options = { log_drops = true; log_prefix = "a prefix longer than NFLOG takes, which is sixty-three bytes long: ";/' \
        "$ROOT/conf/examples/000-safesquid-outlook.conf" > "$tmp/longprefix.conf"
refused_unchanged "a policy the iptables backend refuses (NFLOG prefix)" "$tmp/longprefix.conf" \
        "NFLOG target takes at most 63"

exit $failed
