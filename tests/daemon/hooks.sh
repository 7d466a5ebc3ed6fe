#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The ppp hooks (systemd/ppp/hook.in → ip-up, ip-down, ipv6-up).
# 1. The decision table, with stubs for systemctl, logger and posternctl,
#    each hook run with no PATH (pppd's environment): what it runs, how it
#    exits and what it logs for each state of postern.service.  Disabled or
#    stopped → nothing but a debug line; running → Reapply; enabled but
#    failed / no systemd → one-shot apply, saying why.
# 2. Run the way pppd runs them: fake-pppd.py executes its ip-up/ip-down with
#    pppd's argv and pppd's environment only (no PATH).  Here those scripts
#    are wrappers standing in for Debian's /etc/ppp/ip-up → run-parts (which
#    adds PPP_IFACE=$1 ...), or for pppd's ip-up-script (no PPP_IFACE: the
#    hook takes $1); both add only DBUS_SYSTEM_BUS_ADDRESS (the private bus)
#    and POSTERN_CATALOG (the source tree's catalog).
#      unit active, posternd running: the hook calls Reapply(ppp0) (logged)
#      unit disabled and stopped:     the hooks install nothing (logged)
#      unit enabled but failed:       `posternctl apply POLICY`, the table
#                                     carries ppp0's address, none after ip-down
. "$(dirname "$0")/lib.sh"

# Stubs: systemctl answers from $T_TMP/state/{active,enabled}; logger appends
# its arguments to $T_TMP/syslog; the decision table's posternctl records its
# arguments in $T_TMP/calls and exits with $T_TMP/state/rc.VERB.
mkdir -p "$T_TMP/stub" "$T_TMP/state" "$T_TMP/ppp-debian" "$T_TMP/ppp-direct" "$T_TMP/ip-up.d"
cat >"$T_TMP/stub/systemctl" <<STUB
#!/bin/sh
case \$1 in
is-active | is-enabled)
        [ "\$2" = postern.service ] || { echo "stub systemctl: unit \$2" >&2; exit 2; }
        s=\$(/bin/cat "$T_TMP/state/\${1#is-}")
        echo "\$s"
        case \$s in active | enabled) exit 0 ;; *) exit 1 ;; esac ;;
*) echo "stub systemctl: \$*" >&2; exit 2 ;;
esac
STUB
cat >"$T_TMP/stub/logger" <<STUB
#!/bin/sh
echo "\$*" >>"$T_TMP/syslog"
STUB
cat >"$T_TMP/stub/posternctl" <<STUB
#!/bin/sh
echo "\$*" >>"$T_TMP/calls"
rc=0
[ -f "$T_TMP/state/rc.\$1" ] && read -r rc <"$T_TMP/state/rc.\$1"
echo "stub posternctl \$1: exit \$rc"
exit \$rc
STUB
chmod 755 "$T_TMP/stub/"*
P=$T_TMP/postern.conf

mkhooks() { # mkhooks POSTERNCTL DIR: the hooks as meson configures them, with the stubs
        local h
        mkdir -p "$2"
        for h in ip-up ip-down ipv6-up; do
                sed -e "s|@HOOK@|$h|g" -e "s|@POSTERNCTL@|$1|g" -e "s|@POSTERN_POLICY@|$P|g" \
                    -e "s|@SYSTEMCTL@|$T_TMP/stub/systemctl|g" -e "s|@LOGGER@|$T_TMP/stub/logger|g" \
                    "$T_SRC/systemd/ppp/hook.in" >"$2/$h"
                chmod 755 "$2/$h"
                head -1 "$2/$h" | grep -qx '#!/bin/sh' || die "$h: not #!/bin/sh"
                if grep -q '@' "$2/$h"; then die "$h: unsubstituted @VAR@"; fi
        done
}
mkhooks "$T_TMP/stub/posternctl" "$T_TMP/hooks-stub"

# hcase ACTIVE ENABLED RC_REAPPLY RC_APPLY EXIT CALLS PRIORITY
#   CALLS: the posternctl verbs the hook runs, in order ("-": none);
#   PRIORITY: of the one line it logs
ncase=0
hcase() {
        local active=$1 enabled=$2 want_rc=$5 want_calls=$6 want_prio=$7 h rc err calls
        echo "$active" >"$T_TMP/state/active"
        echo "$enabled" >"$T_TMP/state/enabled"
        echo "$3" >"$T_TMP/state/rc.reapply"
        echo "$4" >"$T_TMP/state/rc.apply"
        for h in ip-up ip-down ipv6-up; do
                ncase=$((ncase + 1))
                rm -f "$T_TMP/calls" "$T_TMP/syslog"
                # pppd's environment: no PATH (a command without an absolute path fails)
                err=$(/usr/bin/env -i PATH=/nonexistent PPP_IFACE=ppp9 /bin/sh "$T_TMP/hooks-stub/$h" 2>&1 >/dev/null)
                rc=$?
                calls=-
                [ -f "$T_TMP/calls" ] && calls=$(cut -d' ' -f1 "$T_TMP/calls" | paste -sd' ')
                local what="$h ($active, $enabled, reapply $3, apply $4)"
                [ -z "$err" ] || die "$what: stderr: $err"
                [ "$rc" = "$want_rc" ] || die "$what: exit $rc, expected $want_rc"
                [ "$calls" = "$want_calls" ] || die "$what: ran posternctl '$calls', expected '$want_calls'"
                [ "$(wc -l <"$T_TMP/syslog")" = 1 ] || die "$what: not one log line: $(cat "$T_TMP/syslog")"
                grep -qF -- "-t postern-ppp -p daemon.$want_prio -- $h ppp9: " "$T_TMP/syslog" ||
                        die "$what: logged '$(cat "$T_TMP/syslog")', expected daemon.$want_prio naming $h ppp9"
                case $want_calls in
                apply | *" apply") grep -qx "apply $P" "$T_TMP/calls" || die "$what: not 'apply $P': $(cat "$T_TMP/calls")" ;;
                esac
                case $want_calls in
                reapply*) grep -qx "reapply ppp9" "$T_TMP/calls" || die "$what: not 'reapply ppp9'" ;;
                esac
                case $want_calls in -) grep -q "nothing to do" "$T_TMP/syslog" || die "$what: the no-op does not say so" ;; esac
        done
}
offline="System has not been booted with systemd as init system (PID 1). Can't operate.
Failed to connect to bus: Host is down"
info "decision table: what each hook runs and logs for each state of postern.service"
hcase active enabled 0 0 0 reapply debug
hcase active disabled 0 0 0 reapply debug            # started by hand: the admin wants it running
hcase reloading enabled 0 0 0 reapply debug
hcase activating enabled 0 0 0 reapply debug
hcase active enabled 1 0 0 reapply debug             # no such interface (ip-down)
hcase active enabled 3 0 0 "reapply apply" notice    # not on the bus: one-shot apply, says why
hcase active enabled 3 1 1 "reapply apply" err
hcase active enabled 2 0 2 reapply err
hcase failed enabled 0 0 0 apply notice              # enabled but crashed: one-shot apply
hcase failed enabled 0 1 1 apply err                 # ... a broken policy is an error
hcase "$offline" enabled 0 0 0 apply notice          # systemd not running: one-shot apply
hcase inactive enabled 0 0 0 - debug                 # stopped by the administrator
hcase deactivating enabled 0 0 0 - debug
hcase inactive disabled 0 0 0 - debug                # disabled and stopped
hcase failed disabled 0 0 0 - debug
hcase "$offline" disabled 0 0 0 - debug
hcase inactive masked 0 0 0 - debug
hcase "$offline" "Failed to get unit file state for postern.service: No such file or directory" 0 0 0 - debug
rm -f "$T_TMP/calls" "$T_TMP/syslog"
/usr/bin/env -i PATH=/nonexistent /bin/sh "$T_TMP/hooks-stub/ip-up" || die "no interface: exit $?"
[ ! -f "$T_TMP/calls" ] || die "no interface: ran posternctl"
sed -i "s|$T_TMP/stub/systemctl|$T_TMP/no-such/systemctl|g" "$T_TMP/hooks-stub/ip-up"
rm -f "$T_TMP/syslog"
/usr/bin/env -i PATH=/nonexistent PPP_IFACE=ppp9 /bin/sh "$T_TMP/hooks-stub/ip-up" || die "no systemctl: exit $?"
[ ! -f "$T_TMP/calls" ] || die "no systemctl: ran posternctl"
grep -q "daemon.debug -- ip-up ppp9: postern.service is unknown (no $T_TMP/no-such/systemctl), inactive: nothing to do" \
        "$T_TMP/syslog" || die "no systemctl: logged $(cat "$T_TMP/syslog")"
rm -f "$T_TMP/calls" "$T_TMP/syslog"
mkhooks "$T_TMP/no-such/posternctl" "$T_TMP/hooks-removed"
/usr/bin/env -i PATH=/nonexistent PPP_IFACE=ppp9 /bin/sh "$T_TMP/hooks-removed/ip-up" ||
        die "package removed (no posternctl): exit $?"
[ ! -f "$T_TMP/calls" ] && [ ! -f "$T_TMP/syslog" ] || die "package removed (no posternctl): the hook did something"
echo "$ncase hook runs: what they run, exit status and log line as expected, without PATH"

t_require
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
command -v run-parts >/dev/null || skip "no run-parts"
NS=$(t_netns hook)
t_bus_start
t_notify_start
policy_ppp0 "$P"

mkhooks "$POSTERNCTL" "$T_TMP/hooks"
cp "$T_TMP/hooks/ip-up" "$T_TMP/ip-up.d/postern"
[ "$(run-parts --list "$T_TMP/ip-up.d")" = "$T_TMP/ip-up.d/postern" ] || die "run-parts would skip the hook's installed name"
for h in ip-up ip-down; do
        cat >"$T_TMP/ppp-debian/$h" <<EOF
#!/bin/sh
# like Debian's /etc/ppp/$h + run-parts: PPP_* from the arguments, 6 arguments
exec /usr/bin/env -i \$(/usr/bin/env | /bin/grep -E '^(IFNAME|IPLOCAL|IPREMOTE|DEVICE|PPPD_PID|PPPLOGNAME|ORIG_UID|UNIT|SPEED|CONNECT_TIME|BYTES_SENT|BYTES_RCVD)=') \\
    DBUS_SYSTEM_BUS_ADDRESS=$BUS POSTERN_CATALOG=$CATALOG PPP_IFACE="\$1" PPP_TTY="\$2" PPP_SPEED="\$3" PPP_LOCAL="\$4" PPP_REMOTE="\$5" \\
    PPP_IPPARAM="\${6:-}" $T_TMP/hooks/$h "\$1" "\$2" "\$3" "\$4" "\$5" "\${6:-}"
EOF
        cat >"$T_TMP/ppp-direct/$h" <<EOF
#!/bin/sh
# like pppd's ip-up-script: pppd's environment (no PATH; the decision table
# above shows the hooks need none)
DBUS_SYSTEM_BUS_ADDRESS=$BUS POSTERN_CATALOG=$CATALOG exec $T_TMP/hooks/$h "\$@"
EOF
        chmod 755 "$T_TMP/ppp-debian/$h" "$T_TMP/ppp-direct/$h"
done

pppd() { # pppd SCRIPTS LOCAL: bring ppp0 up (ip-up runs asynchronously, like pppd's)
        ip netns exec "$NS" "$PY" "$T_HERE/fake-pppd.py" --local "$2" --remote 198.18.0.2 --scripts "$1" \
                >>"$T_TMP/pppd.log" 2>&1 &
        PPPD=$!
        T_PIDS+=("$PPPD")
}
ppp_down() { # ip-down is waited for by fake-pppd
        local i
        kill -TERM "$PPPD"
        for i in $(seq 1 100); do kill -0 "$PPPD" 2>/dev/null || break; sleep 0.05; done
        kill -0 "$PPPD" 2>/dev/null && die "fake-pppd did not stop"
}

info "unit active, posternd running: Debian-style hook (PPP_IFACE) → Reapply(ppp0)"
echo active >"$T_TMP/state/active"
echo enabled >"$T_TMP/state/enabled"
rm -f "$T_TMP/syslog"
t_daemon "$NS" --policy "$P"
t_wait_ready 1
t_wait_name org.postern1 || die "no bus name"
pppd "$T_TMP/ppp-debian" 198.18.0.1
t_wait_count "$DLOG" "re-check (Reapply(ppp0))" 1 10 || die "the ip-up hook did not call Reapply(ppp0)"
t_wait_set "$NS" ifaddr_ppp0_v4 198.18.0.1
ppp_down
t_wait_count "$DLOG" "re-check (Reapply(ppp0))" 2 10 || die "the ip-down hook did not call Reapply(ppp0)"
t_wait_set "$NS" ifaddr_ppp0_v4 ""
grep -q "daemon.debug -- ip-up ppp0: posternd re-checked the interface" "$T_TMP/syslog" ||
        die "ip-up did not log the Reapply: $(cat "$T_TMP/syslog")"

info "unit active, posternd running: pppd-style hook (no PPP_IFACE, no PATH) → Reapply(ppp0) from \$1"
pppd "$T_TMP/ppp-direct" 198.18.0.3
t_wait_count "$DLOG" "re-check (Reapply(ppp0))" 3 10 || die "the hook did not use \$1"
t_wait_set "$NS" ifaddr_ppp0_v4 198.18.0.3
ppp_down
t_stop

info "unit disabled and stopped: the hooks install nothing"
nsx "$NS" nft delete table inet postern
echo inactive >"$T_TMP/state/active"
echo disabled >"$T_TMP/state/enabled"
rm -f "$T_TMP/syslog"
pppd "$T_TMP/ppp-debian" 198.18.0.6
t_wait_count "$T_TMP/syslog" "ip-up ppp0: postern.service is disabled, inactive: nothing to do" 1 10 ||
        die "ip-up did not log its no-op: $(cat "$T_TMP/syslog" 2>&1)"
ppp_down
t_wait_count "$T_TMP/syslog" "ip-down ppp0: postern.service is disabled, inactive: nothing to do" 1 10 ||
        die "ip-down did not log its no-op: $(cat "$T_TMP/syslog")"
if t_table "$NS" >/dev/null; then die "a hook installed the table although postern.service is disabled"; fi

info "unit enabled but failed, no posternd: the hook applies the policy itself"
echo failed >"$T_TMP/state/active"
echo enabled >"$T_TMP/state/enabled"
rm -f "$T_TMP/syslog"
pppd "$T_TMP/ppp-debian" 198.18.0.7
t_wait_set "$NS" ifaddr_ppp0_v4 198.18.0.7 10
ppp_down
t_wait_set "$NS" ifaddr_ppp0_v4 "" 10
pppd "$T_TMP/ppp-direct" 198.18.0.8
t_wait_set "$NS" ifaddr_ppp0_v4 198.18.0.8 10
ppp_down
grep -q "daemon.notice -- ip-up ppp0: postern.service is enabled but failed: applied $P once" "$T_TMP/syslog" ||
        die "the one-shot apply is not logged with its reason: $(cat "$T_TMP/syslog")"
echo "PASS"
