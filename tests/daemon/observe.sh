#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# issue 16, parts 2 and 3, with posternd in a namespace:
#  - another program (a copy of nft named rogue-fw) deletes or changes our
#    table: put back within 1 s, the journal line names rogue-fw and its pid;
#    a fight (11 deletions in a row, first: a fresh window) is held off
#    after 10 heals and healed once when the 10 s window ends;
#  - a foreign base chain (priority -10, policy drop; a forward chain with a
#    reject rule) → a warning in the log, in posternctl status and --json,
#    gone again when the table goes;
#  - known traffic from a peer namespace (3 UDP datagrams of 10 bytes to
#    8080) → posternctl stats / --json / metrics with exact lines, metrics
#    checked by an exposition-format parser; the same without the daemon.
. "$(dirname "$0")/lib.sh"
t_require
NS=$(t_netns obs)
PEER=$(t_netns obsp)
ip -n "$NS" link add o0 type veth peer name o1 netns "$PEER" || die "cannot create the veth pair"
ip -n "$NS" addr add 198.18.0.1/24 dev o0 && ip -n "$NS" link set o0 up &&
        ip -n "$PEER" addr add 198.18.0.2/24 dev o1 && ip -n "$PEER" link set o1 up || die "cannot set up o0/o1"
t_bus_start
t_notify_start
P=$T_TMP/postern.conf
cat >"$P" <<'EOF'
input = (
  { allow = ["ssh"]; comment = "admin"; },
  { allow = ["tcp/8080", "udp/8080"]; comment = "web"; }
);
EOF
t_daemon "$NS" --policy "$P"
t_wait_ready 1
t_wait_name org.postern1 || die "org.postern1 not on the bus"
before=$(t_table_s "$NS")
cp "$(command -v nft)" "$T_TMP/rogue-fw"

# heal_time: until the table is back as it was, in ms (at most 3 s)
heal_time() {
        local t0=$(date +%s%3N) i
        for i in $(seq 1 300); do
                [ "$(t_table_s "$NS")" = "$before" ] && { echo $(($(date +%s%3N) - t0)); return 0; }
                sleep 0.01
        done
        echo 3000
}

info "a fight: 11 deletions in a row → 10 heals, held off, healed when the 10 s window ends"
start=$(grep -c "put generation 1 back" "$DLOG")
t0=$(date +%s%3N)
for i in $(seq 1 11); do
        nsx "$NS" nft delete table inet postern 2>/dev/null
        t_wait_table "$NS" "$before" 2 || break
done
t_wait_count "$DLOG" "keeps being changed by someone else (10 times in 10 s): holding off" 1 5 ||
        die "no hold-off after 10 heals"
# the window opened at the first heal, after t0: while it is surely still open
# (8 s of its 10), the table stays deleted; on a machine so loaded that the 11
# deletions took longer, only the heal count below is checked
if [ $(($(date +%s%3N) - t0)) -lt 8000 ]; then
        [ -z "$(t_table_s "$NS")" ] || die "the table was put back while held off"
else
        echo "note: the deletions took $(($(date +%s%3N) - t0)) ms; the window may have ended, its hold-off not sampled"
fi
t_wait_table "$NS" "$before" 15 || die "the table was not put back when the window ended"
n=$(grep -c "put generation 1 back" "$DLOG")
[ "$n" = $((start + 11)) ] || die "$((n - start)) heals logged, expected 11"


# rogue WHAT VERB ARGS...: rogue-fw runs nft VERB ARGS; the table is back within 1 s and the
# log says it was WHAT by rogue-fw with rogue-fw's pid
rogue() {
        local what=$1 rpid ms
        shift
        info "rogue-fw $1 $2 ... → table inet postern back within 1 s, attributed"
        ip netns exec "$NS" "$T_TMP/rogue-fw" "$@" &
        rpid=$!
        wait "$rpid" || die "rogue-fw $* failed"
        ms=$(heal_time)
        [ "$ms" -le 1000 ] || die "after rogue-fw $*, the table was back after $ms ms (more than 1 s)"
        t_wait_count "$DLOG" "table inet postern was $what by rogue-fw (pid $rpid): put generation 1 back" 1 5 ||
                die "no log line naming rogue-fw (pid $rpid) after rogue-fw $*"
        echo "$what → restored in $ms ms (as measured by polling nft every 10 ms)"
}
rogue deleted delete table inet postern
rogue changed insert rule inet postern input tcp dport 2525 accept
[ "$(prop Generation)" = 1 ] || die "a heal changed the Generation"

t0=$(date +%s%6N)
info "known traffic: 3 UDP datagrams of 10 bytes from $PEER to 198.18.0.1:8080 (each its own flow)"
ip netns exec "$PEER" "$PY" - <<'EOF' || die "cannot send the datagrams"
import socket
for i in range(3):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"0123456789", ("198.18.0.1", 8080))
    s.close()
EOF
sleep 0.2
cat >"$T_TMP/stats.want" <<EOF
CHAIN      RULE       PACKETS          BYTES  LAST HIT             POLICY                           COMMENT
input      5                0              0  -                    $P:2 admin
input      6                0              0  -                    $P:3 web
input      7                3            114  T                    $P:3 web
EOF
# the POLICY column is 32 wide and the temporary path longer: compare with runs of blanks squeezed
squeeze() { sed 's/[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]/T/' | tr -s ' '; }
nsx "$NS" "$POSTERNCTL" stats >"$T_TMP/stats.out" 2>&1 || { cat "$T_TMP/stats.out"; die "posternctl stats failed"; }
diff -u <(squeeze <"$T_TMP/stats.want") <(squeeze <"$T_TMP/stats.out") || die "posternctl stats with posternd"
want_json='{"ok":true,"rules":[{"chain":"input","index":5,"handle":H,"file":"'$P'","line":2,"comment":"admin","packets":0,"bytes":0,"last_hit_usec":null},{"chain":"input","index":6,"handle":H,"file":"'$P'","line":3,"comment":"web","packets":0,"bytes":0,"last_hit_usec":null},{"chain":"input","index":7,"handle":H,"file":"'$P'","line":3,"comment":"web","packets":3,"bytes":114,"last_hit_usec":T}]}'
json=$(nsx "$NS" "$POSTERNCTL" --json stats)
got=$(echo "$json" | sed 's/"handle":[0-9]*/"handle":H/g; s/"last_hit_usec":[0-9][0-9]*/"last_hit_usec":T/')
[ "$got" = "$want_json" ] || die "posternctl --json stats: $got"
# posternd samples the counters when asked (RuleHits()): the hit lies between the send and the question
hit=$(echo "$json" | sed -n 's/.*"last_hit_usec":\([0-9][0-9]*\).*/\1/p')
[ "$hit" -ge "$t0" ] && [ "$hit" -le "$(date +%s%6N)" ] || die "last hit $hit is not between $t0 and now"

cat >"$T_TMP/metrics.want" <<EOF
postern_rule_packets_total{chain="input",rule="$P:2",comment="admin"} 0
postern_rule_packets_total{chain="input",rule="$P:3",comment="web"} 3
postern_rule_bytes_total{chain="input",rule="$P:2",comment="admin"} 0
postern_rule_bytes_total{chain="input",rule="$P:3",comment="web"} 114
postern_rule_last_hit_timestamp_seconds{chain="input",rule="$P:3",comment="web"} T
postern_rules 11
postern_generation 1
postern_address_set_updates_total 0
postern_rollbacks_total 0
EOF
# check_metrics FILE WANT: FILE parses as the text exposition format and has WANT's samples
check_metrics() {
        "$PY" "$T_HERE/expo-check.py" "$1" >"$T_TMP/samples" || die "posternctl metrics: not valid exposition format"
        grep -v -e '^postern_last_apply' "$T_TMP/samples" |
                sed 's/^\(postern_rule_last_hit_timestamp_seconds{.*}\) [0-9]\{10\}\.[0-9]\{6\}$/\1 T/' |
                diff -u "$2" - || die "posternctl metrics: other samples"
}
nsx "$NS" "$POSTERNCTL" metrics >"$T_TMP/metrics.out" || die "posternctl metrics failed"
check_metrics "$T_TMP/metrics.out" "$T_TMP/metrics.want"
grep -q '^postern_last_apply_duration_seconds 0\.[0-9]\{6\}$' "$T_TMP/metrics.out" ||
        die "no postern_last_apply_duration_seconds below 1 s"
grep -q '^postern_last_apply_timestamp_seconds [0-9]\{10\}\.[0-9]\{6\}$' "$T_TMP/metrics.out" ||
        die "no postern_last_apply_timestamp_seconds"

info "a foreign base chain: table ip rogue, chain input, priority -10, policy drop → warning"
nsx "$NS" nft add table ip rogue &&
        nsx "$NS" nft add chain ip rogue input '{ type filter hook input priority -10; policy drop; }' ||
        die "cannot add table ip rogue"
w1="table ip rogue, chain input (hook input, priority -10): policy drop"
t_wait_count "$DLOG" "another table's base chain can drop what table inet postern accepts: $w1" 1 5 ||
        die "no warning in the log for $w1"
nsx "$NS" nft add chain ip rogue screen '{ type filter hook forward priority 10; }' &&
        nsx "$NS" nft add rule ip rogue screen tcp dport 25 reject &&
        nsx "$NS" nft add rule ip rogue screen counter || die "cannot add chain ip rogue screen"
w2="table ip rogue, chain screen (hook forward, priority 10): 1 rule that drops"
t_wait_count "$DLOG" "can drop what table inet postern accepts: $w2" 1 5 || die "no warning in the log for $w2"
nsx "$NS" nft add table inet harmless &&
        nsx "$NS" nft add chain inet harmless input '{ type filter hook input priority -20; policy accept; }' &&
        nsx "$NS" nft add rule inet harmless input counter accept || die "cannot add table inet harmless"
sleep 0.3
out=$(nsx "$NS" "$POSTERNCTL" status | grep Warning)
want="     Warning: $w1 — can drop what postern accepts
     Warning: $w2 — can drop what postern accepts"
[ "$out" = "$want" ] || die "posternctl status warnings: '$out'"
got=$(nsx "$NS" "$POSTERNCTL" --json status | sed -n 's/.*"foreign_drops":\(\[[^]]*\]\).*/\1/p')
[ "$got" = "[\"$w1\",\"$w2\"]" ] || die "posternctl --json status foreign_drops: $got"
nsx "$NS" nft delete table ip rogue
t_wait_count "$DLOG" "no longer there: $w1" 1 5 || die "the warning's end is not logged"
sleep 0.3
nsx "$NS" "$POSTERNCTL" status | grep -q Warning && die "posternctl status still warns after the table went"
got=$(nsx "$NS" "$POSTERNCTL" --json status | sed -n 's/.*"foreign_drops":\(\[[^]]*\]\).*/\1/p')
[ "$got" = "[]" ] || die "posternctl --json status foreign_drops after the table went: $got"
nsx "$NS" nft delete table inet harmless

info "without posternd (not on the private bus): stats and metrics map through the policy compiled here"
t_stop
[ "$DRC" = 0 ] || die "posternd exited $DRC"
nsx "$NS" "$POSTERNCTL" --catalog "$CATALOG" stats "$P" >"$T_TMP/stats.out" 2>&1 ||
        { cat "$T_TMP/stats.out"; die "posternctl stats without posternd failed"; }
sed -i 's/  T  /  -  /' "$T_TMP/stats.want" # no posternd: no last hit
diff -u <(squeeze <"$T_TMP/stats.want") <(squeeze <"$T_TMP/stats.out") || die "posternctl stats without posternd"
nsx "$NS" "$POSTERNCTL" --catalog "$CATALOG" metrics "$P" >"$T_TMP/metrics.out" || die "posternctl metrics failed"
sed -n '1,4p; /^postern_rules/p' "$T_TMP/metrics.want" >"$T_TMP/metrics.want5"
check_metrics "$T_TMP/metrics.out" "$T_TMP/metrics.want5"
echo "observe: all passed"
