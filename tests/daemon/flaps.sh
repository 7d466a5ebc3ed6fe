#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Event storms.  1,000 link/address flaps of ppp0 (address add/del, link
# down/up, delete and re-create with a new ifindex, renames) converge to the
# right final set, with no fd growth; the same with a tiny rtnetlink receive
# buffer, so that the kernel drops events (ENOBUFS) and posternd re-reads
# everything; and once under valgrind (no leaks, no errors).  Also measures
# event→commit latency over isolated address changes (median / p99).
. "$(dirname "$0")/lib.sh"
t_require
NS=$(t_netns flap)
t_bus_start
t_notify_start
P=$T_TMP/postern.conf
policy_ppp0 "$P"
FLAPS=${FLAPS:-1000}

# flap_batch N FINAL: an `ip -batch` file of N flaps ending with ppp0 = FINAL
flap_batch() {
        local n=$1 final=$2 i a
        for i in $(seq 1 "$n"); do
                a=198.18.0.$((i % 200 + 1))
                echo "addr add $a/32 dev ppp0"
                case $((i % 10)) in
                0) echo "link del ppp0"
                   echo "link add ppp0 type veth peer name ppp0p"
                   echo "link set ppp0 up" ;;
                5) echo "link set ppp0 down"
                   echo "link set ppp0 name pppx"
                   echo "link set pppx name ppp0"
                   echo "link set ppp0 up" ;;
                *) echo "link set ppp0 down"
                   echo "link set ppp0 up"
                   echo "addr del $a/32 dev ppp0" ;;
                esac
        done
        echo "addr flush dev ppp0"
        echo "addr add $final/32 dev ppp0"
}
fds() { ls "/proc/$DPID/fd" | wc -l; }
rss() { sed -n 's/^VmRSS:\s*//p' "/proc/$DPID/status"; }

ip -n "$NS" link add ppp0 type veth peer name ppp0p
ip -n "$NS" link set ppp0 up

info "latency: isolated address changes, event → commit"
t_daemon "$NS" --policy "$P"
t_wait_ready 1
t_wait_name org.postern1 || die "no bus name"
fd0=$(fds)
for i in $(seq 1 60); do
        ip -n "$NS" addr replace 198.18.1.$i/32 dev ppp0
        ip -n "$NS" addr del 198.18.1.$i/32 dev ppp0 2>/dev/null
        sleep 0.02
done
sleep 0.1
grep "event to commit" "$DLOG" | sed 's/.*event to commit \([0-9]*\) us.*/\1/' | sort -n >"$T_TMP/lat.txt"
awk '{v[NR]=$1} END {if (NR < 20) exit 1; printf "event→commit over %d set updates: median %d us, p99 %d us, max %d us\n", NR, v[int((NR+1)/2)], v[int(NR*0.99+0.5)], v[NR]}' \
        "$T_TMP/lat.txt" || die "too few set updates logged ($(wc -l <"$T_TMP/lat.txt"))"

info "$FLAPS flaps → the final state, no fd growth"
flap_batch "$FLAPS" 198.18.0.250 >"$T_TMP/flaps.batch"
ops=$(wc -l <"$T_TMP/flaps.batch")
t0=$(date +%s%N)
ip -n "$NS" -force -batch "$T_TMP/flaps.batch" 2>/dev/null
t_wait_set "$NS" ifaddr_ppp0_v4 198.18.0.250 10
echo "$ops rtnetlink operations in $(( ($(date +%s%N) - t0) / 1000000 )) ms; $(prop SetUpdates) set updates, $(prop Resyncs) full re-reads"
t_alive
[ "$(fds)" = "$fd0" ] || die "fd count grew: $fd0 → $(fds)"
[ "$(prop Generation)" = 1 ] || die "flaps rebuilt the table (generation $(prop Generation))"
echo "fds $fd0, RSS $(rss)"
t_stop

info "the same with a 4 KiB receive buffer: ENOBUFS → full re-read → the final state"
POSTERN_RTNL_RCVBUF=4096 t_daemon "$NS" --policy "$P"
t_wait_ready 2
flap_batch 300 198.18.0.251 >"$T_TMP/flaps2.batch"
ip -n "$NS" -force -batch "$T_TMP/flaps2.batch" 2>/dev/null
t_wait_set "$NS" ifaddr_ppp0_v4 198.18.0.251 10
grep -q "receive queue overflow" "$DLOG" || echo "note: no overflow provoked this time"
t_alive
t_stop

# valgrind cannot run an AddressSanitizer binary; in the ASan pass of
# tools/test (ASAN_OPTIONS set) ASan itself checks leaks and memory errors
if [ -n "${ASAN_OPTIONS:-}" ]; then
        info "ASan build: its own leak and memory checks replace the valgrind run"
elif command -v valgrind >/dev/null && [ -z "${NO_VALGRIND:-}" ]; then
        info "under valgrind: 200 flaps, reload, SIGTERM → no leaks, no errors"
        T_WRAP=(valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect
                --error-exitcode=99 --log-file="$T_TMP/valgrind.txt")
        t_daemon "$NS" --policy "$P"
        T_WRAP=()
        t_wait_ready 3 60
        flap_batch 200 198.18.0.252 >"$T_TMP/flaps3.batch"
        ip -n "$NS" -force -batch "$T_TMP/flaps3.batch" 2>/dev/null
        t_wait_set "$NS" ifaddr_ppp0_v4 198.18.0.252 30
        kill -HUP "$DPID"
        t_wait_ready 4 30
        echo 'input = ( { allow = "nosuch"; } );' >"$P"
        kill -HUP "$DPID"
        t_wait_ready 5 30
        "$POSTERNCTL" reapply ppp0 >/dev/null 2>&1
        t_stop
        [ "$DRC" = 0 ] || { cat "$T_TMP/valgrind.txt"; die "valgrind: exit status $DRC"; }
        # "==PID==" lines are errors and leaks; "--PID--" ones are valgrind's own notes (3.19 does not
        # know pidfd_open, which sd-event tries for the feature probe's child, then falls back)
        grep -q '^==' "$T_TMP/valgrind.txt" && { cat "$T_TMP/valgrind.txt"; die "valgrind reported something"; }
        echo "valgrind: clean"
fi
echo "PASS"
