#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The ppp hooks (systemd/ppp/ip-up, ip-down), run the way pppd runs them:
# fake-pppd.py executes its ip-up/ip-down with pppd's argv and pppd's
# environment only (no PATH).  Here those scripts are wrappers standing in
# for Debian's /etc/ppp/ip-up → run-parts (which adds PPP_IFACE=$1 ...), or
# for pppd's ip-up-script (no PPP_IFACE: the hook takes $1); both add only
# DBUS_SYSTEM_BUS_ADDRESS, for the private bus.
#   with posternd:    the hook calls Reapply(ppp0) (logged), the set follows
#   without posternd: the hook runs `posternctl apply POLICY` and the table
#                     carries ppp0's address, then none after ip-down
. "$(dirname "$0")/lib.sh"
t_require
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
command -v run-parts >/dev/null || skip "no run-parts"
NS=$(t_netns hook)
t_bus_start
t_notify_start
P=$T_TMP/postern.conf
policy_ppp0 "$P"

# the hooks as meson configures them, pointing at the build tree
mkdir -p "$T_TMP/hooks" "$T_TMP/ppp-debian" "$T_TMP/ppp-direct" "$T_TMP/ip-up.d"
for h in ip-up ip-down ipv6-up; do
        sed -e "s|@POSTERNCTL@|$POSTERNCTL|g" -e "s|@POSTERN_POLICY@|$P|g" "$T_SRC/systemd/ppp/$h" >"$T_TMP/hooks/$h"
        chmod 755 "$T_TMP/hooks/$h"
        head -1 "$T_TMP/hooks/$h" | grep -qx '#!/bin/sh' || die "$h: not #!/bin/sh"
        grep -q '@' "$T_TMP/hooks/$h" && die "$h: unsubstituted @VAR@"
        # every command the hook runs is a shell builtin or given by absolute path
        grep -vE '^\s*(#|$)' "$T_TMP/hooks/$h" | grep -oE '(^|[;&|]\s*|then\s+)[a-z][a-z-]*' |
                grep -vE '(iface|rc|if|then|fi|exit|exec|\[)$' && die "$h: a command without an absolute path"
done
cp "$T_TMP/hooks/ip-up" "$T_TMP/ip-up.d/postern"
[ "$(run-parts --list "$T_TMP/ip-up.d")" = "$T_TMP/ip-up.d/postern" ] || die "run-parts would skip the hook's installed name"
for h in ip-up ip-down; do
        cat >"$T_TMP/ppp-debian/$h" <<EOF
#!/bin/sh
# like Debian's /etc/ppp/$h + run-parts: PPP_* from the arguments, 6 arguments
exec /usr/bin/env -i \$(/usr/bin/env | /bin/grep -E '^(IFNAME|IPLOCAL|IPREMOTE|DEVICE|PPPD_PID|PPPLOGNAME|ORIG_UID|UNIT|SPEED|CONNECT_TIME|BYTES_SENT|BYTES_RCVD)=') \\
    DBUS_SYSTEM_BUS_ADDRESS=$BUS PPP_IFACE="\$1" PPP_TTY="\$2" PPP_SPEED="\$3" PPP_LOCAL="\$4" PPP_REMOTE="\$5" \\
    PPP_IPPARAM="\${6:-}" $T_TMP/hooks/$h "\$1" "\$2" "\$3" "\$4" "\$5" "\${6:-}"
EOF
        cat >"$T_TMP/ppp-direct/$h" <<EOF
#!/bin/sh
# like pppd's ip-up-script: pppd's environment (no PATH; dash then uses a
# built-in default, so the hook's absolute paths are checked by grep below)
DBUS_SYSTEM_BUS_ADDRESS=$BUS exec $T_TMP/hooks/$h "\$@"
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

info "with posternd: Debian-style hook (PPP_IFACE) → Reapply(ppp0)"
t_daemon "$NS" --policy "$P"
t_wait_ready 1
t_wait_name org.postern1 || die "no bus name"
pppd "$T_TMP/ppp-debian" 198.18.0.1
t_wait_count "$DLOG" "re-check (Reapply(ppp0))" 1 10 || die "the ip-up hook did not call Reapply(ppp0)"
t_wait_set "$NS" ifaddr_ppp0_v4 198.18.0.1
ppp_down
t_wait_count "$DLOG" "re-check (Reapply(ppp0))" 2 10 || die "the ip-down hook did not call Reapply(ppp0)"
t_wait_set "$NS" ifaddr_ppp0_v4 ""

info "with posternd: pppd-style hook (no PPP_IFACE, no PATH) → Reapply(ppp0) from \$1"
pppd "$T_TMP/ppp-direct" 198.18.0.3
t_wait_count "$DLOG" "re-check (Reapply(ppp0))" 3 10 || die "the hook did not use \$1"
t_wait_set "$NS" ifaddr_ppp0_v4 198.18.0.3
ppp_down
t_stop

info "without posternd: the hook applies the policy itself"
nsx "$NS" nft delete table inet postern
pppd "$T_TMP/ppp-debian" 198.18.0.7
t_wait_set "$NS" ifaddr_ppp0_v4 198.18.0.7 10
ppp_down
t_wait_set "$NS" ifaddr_ppp0_v4 "" 10
pppd "$T_TMP/ppp-direct" 198.18.0.8
t_wait_set "$NS" ifaddr_ppp0_v4 198.18.0.8 10
ppp_down
echo "PASS"
