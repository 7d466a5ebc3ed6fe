#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vm check (guest only): seed 004, the mail server on a dial-up line, with a
# real pppd.  posternd runs with conf/examples/004-dialup-mail-server.conf in
# its namespace; two real pppds joined by a pty (the peer, "the ISP", in a
# namespace of its own) bring up a real ppp0 (ppp_generic, ppp_async).
# pppd runs the project's ip-up hook (systemd/ppp/hook.in as meson configures it) as
# its ip-up-script, with pppd's own arguments and environment; the system
# bus is at its standard path (/run/dbus/system_bus_socket in the guest's
# own /run, a private dbus-daemon).  A thin wrapper only records when pppd
# started the hook and when it returned.  Then:
#   - the ifaddr set holds ppp0's address, SMTP to it passes from the ISP;
#   - pppd reconnects with another address: the new one is served, the old
#     one (moved to lo, routed from the ISP) is not, ping to it still passes;
#   - figures: posternd's event→commit, address event → hook start, hook
#     duration (Reapply returns after the kernel has the set), reconnect.
. "${POSTERN_SOURCE_ROOT:?}/tests/daemon/lib.sh"
[ -d /run/vm/kernel ] || skip "runs inside the vm suite's guest only (real pppd, a /run of its own)"
t_require
command -v pppd >/dev/null || skip "no pppd"
[ -c /dev/ppp ] || skip "no /dev/ppp (ppp_generic)"
PROBE=$T_BUILD/tests/traffic/probe
[ -x "$PROBE" ] || skip "probe not built"
NS=$(t_netns ppp)
ISP=$(t_netns isp)
t_bus_start
mkdir -p /run/dbus
ln -sf "$T_TMP/bus/bus.sock" /run/dbus/system_bus_socket
t_notify_start
P=$T_TMP/postern.conf
cp "$T_SRC/conf/examples/004-dialup-mail-server.conf" "$P"
# the hook as meson configures it (systemd/ppp/hook.in); systemd is not PID 1
# in the guest, so systemctl is a stub saying postern.service runs, and
# logger writes to a file
mkdir -p "$T_TMP/stub"
printf '#!/bin/sh\ncase $1 in is-active) echo active ;; is-enabled) echo enabled ;; esac\n' >"$T_TMP/stub/systemctl"
printf '#!/bin/sh\necho "$*" >>%s/hook-syslog.log\n' "$T_TMP" >"$T_TMP/stub/logger"
chmod 755 "$T_TMP/stub/systemctl" "$T_TMP/stub/logger"
sed -e "s|@HOOK@|ip-up|g" -e "s|@POSTERNCTL@|$POSTERNCTL|g" -e "s|@POSTERN_POLICY@|$P|g" \
    -e "s|@SYSTEMCTL@|$T_TMP/stub/systemctl|g" -e "s|@LOGGER@|$T_TMP/stub/logger|g" \
    "$T_SRC/systemd/ppp/hook.in" >"$T_TMP/ip-up"
HL=$T_TMP/hook.log
cat >"$T_TMP/ip-up-timed" <<EOF
#!/bin/sh
echo "start \$(/bin/date +%s.%N) \$*" >>$HL
$T_TMP/ip-up "\$@"
echo "end \$(/bin/date +%s.%N) rc=\$?" >>$HL
EOF
chmod 755 "$T_TMP/ip-up" "$T_TMP/ip-up-timed"
now() { date +%s.%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d", (b - a) * 1000 }'; }

t_daemon "$NS" --policy "$P"
t_wait_ready 1 30
t_wait_name org.postern1 30 || die "org.postern1 not on the bus"
ip netns exec "$NS" ip -ts -o monitor address >"$T_TMP/ipmon.log" 2>&1 &
T_PIDS+=($!)
ip netns exec "$NS" "$PROBE" listen --tcp 22,25 --lifetime 600 >"$T_TMP/listen.log" 2>&1 &
T_PIDS+=($!)
t_wait_count "$T_TMP/listen.log" ready 1 30 || die "listener did not start"

# ppp_up LOCAL: pppd here, its peer in $ISP over a pty; returns when the
# hook has returned (PPPD = our pppd)
ppp_up() {
        local n0 i
        n0=$(grep -c '^end' "$HL" 2>/dev/null)
        T_UP=$(now)
        ip netns exec "$NS" pppd noauth nodetach local nocrtscts nolock noipv6 "$1:198.18.0.2" \
                ip-up-script "$T_TMP/ip-up-timed" logfile "$T_TMP/pppd.log" \
                pty "ip netns exec $ISP pppd noauth nodetach notty local nocrtscts nolock noipv6 198.18.0.2:$1 logfile $T_TMP/pppd-isp.log" \
                >>"$T_TMP/pppd.out" 2>&1 &
        PPPD=$!
        T_PIDS+=("$PPPD")
        t_wait_count "$HL" '^end' $((n0 + 1)) 60 || { tail -20 "$T_TMP/pppd.log"; die "ppp0 with $1: no ip-up hook within 60 s"; }
        T_HOOKED=$(now)
}
ppp_down() {
        local i
        kill -TERM "$PPPD"
        for i in $(seq 1 200); do kill -0 "$PPPD" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$PPPD" 2>/dev/null && die "pppd did not stop"
        for i in $(seq 1 100); do ip -n "$NS" link show ppp0 >/dev/null 2>&1 || break; sleep 0.1; done
}
probe_from_isp() { ip netns exec "$ISP" "$PROBE" "$@" --timeout-ms 3000; }
figures() { # after ppp_up: the hook's start/end, the address event, posternd's event→commit
        local addr=$1 st en ev e2c
        st=$(grep '^start' "$HL" | tail -1 | cut -d' ' -f2)
        en=$(grep '^end' "$HL" | tail -1 | cut -d' ' -f2)
        # [2026-12-01T20:50:00.123456] 5: ppp0    inet 198.18.0.1 peer 198.18.0.2/32 ...
        ev=$(grep "inet $addr peer" "$T_TMP/ipmon.log" | grep -v Deleted | tail -1 | sed 's/^\[\([^]]*\)\].*/\1/')
        ev=$(date -d "${ev/T/ }" +%s.%N 2>/dev/null)
        e2c=$(grep "ifaddr_ppp0_v4 (ppp0) now $addr " "$DLOG" | tail -1 | sed -n 's/.*event to commit \([0-9]*\) us.*/\1/p')
        grep -q "re-check (Reapply(ppp0))" "$DLOG" || die "the hook did not call Reapply(ppp0)"
        echo "figure: ppp0 $addr: pppd start → hook returned $(ms "$T_UP" "$T_HOOKED") ms;" \
                "address event → commit ${e2c:-?} us (posternd);" \
                "address event → hook start $([ -n "$ev" ] && ms "$ev" "$st" || echo '?') ms;" \
                "hook start → hook returned (Reapply done, set committed) $(ms "$st" "$en") ms"
}

info "pppd up: ppp0 198.18.0.1 peer 198.18.0.2"
ppp_up 198.18.0.1
# with the pty option pppd passes "" as the tty
grep -Eq "^start [0-9.]+ ppp0 (/dev/pts/[0-9]+)? [0-9]+ 198.18.0.1 198.18.0.2$" "$HL" ||
        { cat "$HL"; die "the hook did not get pppd's arguments (ppp0 TTY SPEED LOCAL REMOTE)"; }
ip -n "$NS" -d link show ppp0 | grep -q 'link/ppp' || die "ppp0 is not a real PPP link"
t_wait_set "$NS" ifaddr_ppp0_v4 198.18.0.1
figures 198.18.0.1
[ "$(probe_from_isp connect 198.18.0.1 tcp 25)" = pass ] || die "smtp to ppp0's address 198.18.0.1 does not pass"
[ "$(probe_from_isp connect 198.18.0.1 tcp 22)" = timeout ] || die "ssh from the wan zone is not dropped"
echo "ok: 198.18.0.1 serves smtp, ssh from the ISP dropped"

info "reconnect: pppd down, up again with 198.18.0.5"
t_down=$(now)
ppp_down
t_wait_set "$NS" ifaddr_ppp0_v4 ""
ip -n "$NS" addr add 198.18.0.1/32 dev lo
ppp_up 198.18.0.5
ip -n "$ISP" route add 198.18.0.1/32 dev ppp0
t_wait_set "$NS" ifaddr_ppp0_v4 198.18.0.5
figures 198.18.0.5
echo "figure: reconnect: pppd stopped → new address served and hook returned $(ms "$t_down" "$T_HOOKED") ms"
[ "$(probe_from_isp connect 198.18.0.5 tcp 25)" = pass ] || die "smtp to the new address 198.18.0.5 does not pass"
[ "$(probe_from_isp ping 198.18.0.1)" = pass ] || die "ping to the old address fails: the route is broken, the next probe would prove nothing"
[ "$(probe_from_isp connect 198.18.0.1 tcp 25)" = timeout ] || die "smtp to the old address 198.18.0.1 is still served"
echo "ok: 198.18.0.5 serves smtp; the old 198.18.0.1 (on lo, routed) does not"
ppp_down
t_wait_set "$NS" ifaddr_ppp0_v4 ""
t_alive
t_stop
[ "$DRC" = 0 ] || die "posternd exit $DRC"
t_table "$NS" | grep -q 'chain input' || die "the ruleset did not stay after SIGTERM"
rm -f /run/dbus/system_bus_socket
echo "ok: seed 004 with a real pppd"
