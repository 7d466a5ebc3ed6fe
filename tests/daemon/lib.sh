# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Shared helpers for the daemon tests.  Everything a test starts is recorded
# (T_PIDS, $T_TMP/netns) and removed by t_cleanup on exit; namespaces are named
# postern-d<name>-<pid>; only 198.18.0.0/15 and 2001:db8::/32 are used; every
# wait is bounded.  posternd always runs inside a namespace the test created,
# against a private dbus-daemon (DBUS_SYSTEM_BUS_ADDRESS) and a private
# NOTIFY_SOCKET receiver; nothing of the host's is touched.
set -u

T_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T_SRC=${POSTERN_SOURCE_ROOT:-$(cd "$T_HERE/../.." && pwd)}
T_BUILD=${POSTERN_BUILD_ROOT:-$T_SRC/build}
POSTERND=${POSTERND:-$T_BUILD/daemon/posternd}
POSTERNCTL=${POSTERNCTL:-$T_BUILD/daemon/posternctl}
CATALOG=${POSTERN_CATALOG:-$T_SRC/conf/services.conf}
PY=/usr/bin/python3 # Debian's: has python3-dbus, starts fast
T_NAME=$(basename "$0" .sh)
T_PIDS=()
T_TMP=$(mktemp -d "/tmp/postern-$T_NAME.XXXXXX")
chmod 755 "$T_TMP"
DLOG=$T_TMP/posternd.log
NLOG=$T_TMP/notify.log

skip() { echo "SKIP: $*"; exit 77; }
info() { echo "== $*"; }
die() {
        echo "FAIL: $*"
        if [ -f "$DLOG" ]; then echo "--- posternd log (tail)"; tail -40 "$DLOG"; fi
        if [ -f "$NLOG" ]; then echo "--- notify (tail)"; tail -10 "$NLOG"; fi
        exit 1
}

t_cleanup() {
        local p i
        for p in "${T_PIDS[@]}"; do kill "$p" 2>/dev/null; done
        for p in "${T_PIDS[@]}"; do
                for i in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
                kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null
        done
        if [ -f "$T_TMP/netns" ]; then
                while read -r p; do ip netns del "$p" 2>/dev/null; done <"$T_TMP/netns"
        fi
        [ -n "${T_KEEP:-}" ] && { echo "kept $T_TMP"; return; }
        rm -rf "$T_TMP"
}
trap t_cleanup EXIT
trap 'exit 1' INT TERM

t_require() {
        [ "$(id -u)" = 0 ] || skip "needs root (network namespaces, nf_tables)"
        [ -x "$POSTERND" ] || skip "posternd not built ($POSTERND)"
        command -v ip >/dev/null || skip "no ip(8)"
        command -v nft >/dev/null || skip "no nft(8)"
        unshare -n nft add table inet postern_probe 2>/dev/null || skip "no nf_tables in this kernel"
        # (PERSIST needs kernel >= 6.9; nft 1.0.6 cannot spell it, posternd says so if it is missing)
        unshare -n sh -c 'echo "table inet t { flags owner; }" | nft -f -' 2>/dev/null ||
                skip "kernel or nft lacks owned tables"
}

# t_netns NAME: create postern-d<NAME>-$$ with lo up; prints the name.  Runs
# in $(...), a subshell: the name is recorded in a file, not in a variable.
t_netns() {
        local ns=postern-d$1-$$
        ip netns add "$ns" || die "cannot create netns $ns"
        echo "$ns" >>"$T_TMP/netns"
        ip -n "$ns" link set lo up
        echo "$ns"
}

# (never background nsx: "$!" would be a subshell's pid, not the program's;
# use "ip netns exec NS PROGRAM &" so that T_PIDS holds the program itself)
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# t_bus_start [permissive] [include FILE]: private system bus; exports DBUS_SYSTEM_BUS_ADDRESS
t_bus_start() {
        local dir=$T_TMP/bus perm="" inc="" a
        command -v dbus-daemon >/dev/null || skip "no dbus-daemon"
        while [ $# -gt 0 ]; do
                case $1 in
                permissive) perm='<allow send_destination="org.postern1"/>' ;;
                include) inc="<include>$2</include>"; shift ;;
                esac
                shift
        done
        mkdir -p "$dir" && chmod 755 "$dir"
        sed -e "s|@SOCK@|$dir/bus.sock|" -e "s|@PERMISSIVE@|$perm|" -e "s|@INCLUDE@|$inc|" \
                "$T_HERE/bus.conf.in" >"$dir/bus.conf"
        # without the shipped policy nobody may own org.postern1: let root
        [ -n "$inc" ] || sed -i 's|<policy user="root">|<policy user="root"><allow own="org.postern1"/>|' "$dir/bus.conf"
        dbus-daemon --config-file="$dir/bus.conf" --fork --nopidfile \
                --print-address=3 --print-pid=4 3>"$dir/address" 4>"$dir/pid" || die "dbus-daemon failed"
        T_PIDS+=("$(cat "$dir/pid")")
        a=$(head -1 "$dir/address")
        export DBUS_SYSTEM_BUS_ADDRESS=$a
        BUS=$a
}

bus() { busctl --address="$BUS" "$@"; }
prop() { bus get-property org.postern1 /org/postern1 org.postern1.Manager "$1" 2>/dev/null | sed 's/^[st] //; s/^"//; s/"$//'; }

# t_wait_name NAME [seconds]
t_wait_name() {
        local i
        for i in $(seq 1 $((${2:-10} * 20))); do
                bus status "$1" >/dev/null 2>&1 && return 0
                sleep 0.05
        done
        return 1
}

# t_notify_start [SECONDS]: the receiver, gone after SECONDS (300) even when
# the test is killed; a test that runs longer (daemon-rpc-queue under TCG)
# passes its own bound, else its later notifications go unheard
t_notify_start() {
        "$PY" "$T_HERE/notify-recv.py" "$T_TMP/notify.sock" "${1:-300}" >"$NLOG" 2>&1 &
        T_PIDS+=($!)
        local i
        for i in $(seq 1 100); do grep -q listening "$NLOG" 2>/dev/null && return 0; sleep 0.05; done
        die "notify receiver did not start"
}

# t_daemon NS ARGS...: start posternd in NS (background); DPID
t_daemon() {
        local ns=$1
        shift
        NOTIFY_SOCKET=$T_TMP/notify.sock ip netns exec "$ns" "${T_WRAP[@]}" "$POSTERND" --catalog "$CATALOG" \
                --runtime-dir "$T_TMP/run" --state-dir "$T_TMP/state" "$@" \
                >>"$DLOG" 2>&1 &
        DPID=$!
        T_PIDS+=("$DPID")
}
T_WRAP=()

# t_wait_count FILE PATTERN N [seconds]: until FILE has >= N lines matching PATTERN
t_wait_count() {
        local i n
        for i in $(seq 1 $((${4:-10} * 50))); do
                n=$(grep -c -e "$2" "$1" 2>/dev/null) # nothing while FILE does not exist yet
                [ "${n:-0}" -ge "$3" ] && return 0
                sleep 0.02
        done
        return 1
}
t_wait_ready() { t_wait_count "$NLOG" "READY=1" "$1" "${2:-10}" || die "no READY=1 #$1"; }

# t_wait_prop NAME VALUE [seconds]
t_wait_prop() {
        local i
        for i in $(seq 1 $((${3:-10} * 20))); do
                [ "$(prop "$1")" = "$2" ] && return 0
                sleep 0.05
        done
        die "property $1 is '$(prop "$1")', expected '$2'"
}

# listing of our table, or "" when absent
t_table() { nsx "$1" nft list table inet postern 2>/dev/null; }
t_table_s() { nsx "$1" nft -s list table inet postern 2>/dev/null; } # without counters
# t_wait_table NS WANT [seconds]: until the stateless listing is WANT
t_wait_table() {
        local i
        for i in $(seq 1 $((${3:-5} * 50))); do
                [ "$(t_table_s "$1")" = "$2" ] && return 0
                sleep 0.02
        done
        return 1
}
t_set() { nsx "$1" nft list set inet postern "$2" 2>/dev/null | sed -n 's/.*elements = { \(.*\) }.*/\1/p'; }

# t_wait_set NS SET WANT [seconds]: until the set's elements are WANT ("" = empty)
t_wait_set() {
        local i
        for i in $(seq 1 $((${4:-5} * 100))); do
                [ "$(t_set "$1" "$2")" = "$3" ] && return 0
                sleep 0.01
        done
        die "set $2 is '$(t_set "$1" "$2")', expected '$3'"
}

t_alive() { kill -0 "$DPID" 2>/dev/null || die "posternd (pid $DPID) died"; }

# t_stop: SIGTERM, wait for exit; sets DRC
t_stop() {
        local i
        kill -TERM "$DPID"
        for i in $(seq 1 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.05; done
        kill -0 "$DPID" 2>/dev/null && die "posternd did not stop on SIGTERM"
        wait "$DPID"
        DRC=$?
}

# t_veth_ppp0 NS [ADDR]: a veth named ppp0 in NS (peer ppp0-peer), up, with ADDR/32 when given
t_veth_ppp0() {
        ip -n "$1" link add ppp0 type veth peer name ppp0-peer || die "cannot create ppp0 in $1"
        ip -n "$1" link set ppp0-peer up || die "cannot set ppp0-peer up in $1"
        [ -z "${2:-}" ] || ip -n "$1" addr add "$2/32" dev ppp0 || die "cannot add $2 to ppp0 in $1"
        ip -n "$1" link set ppp0 up || die "cannot set ppp0 up in $1"
}

# A policy that depends on ppp0's address: mail to "(ppp0)", ssh anywhere
policy_ppp0() {
        cat >"$1" <<'EOF'
options = { ipv6 = true; };
input = (
  { allow = ["smtp"]; to = "(ppp0)"; comment = "mail on ppp0's current address"; },
  { allow = ["ssh"]; comment = "admin"; }
);
EOF
}
