# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by tests/traffic/seed-*.sh: a throwaway network-namespace topology
# around a host under test, a probe runner and the policy loader.
#
#   out (Internet) ── hut0 ═══ ppp0 ─┐
#       198.18.0.2 peer .0.1         │ hut: the host under test, forwarding
#       2001:db8::2/64               │ on, postern applied here only
#       + on lo: 198.18.3.5 (cag),   ├─ eth1 ═══ hut0 ── lan   198.18.1.10
#         198.18.100.7 (random),     │  198.18.1.1/24    2001:db8:1::10
#         2001:db8:3::5, ...:100::7  │  2001:db8:1::1/64
#                                    └─ eth2 ═══ hut0 ── srv   198.18.2.10 .11 .20
#                                       198.18.2.1/24    2001:db8:2::10 ::11 ::20
#                                       2001:db8:2::1/64
#
# ppp0 is a veth (tun cannot carry packets between namespaces) with a
# point-to-point style address, like pppd sets it.  Only 198.18.0.0/15 and
# 2001:db8::/32 are used; nothing touches the caller's own namespace: every
# `ip` command runs with -n (or inside `ip netns exec`) on a namespace created
# here, and the EXIT trap removes them all.
#
# Environment: POSTERNCTL, POSTERN_SOURCE_ROOT, POSTERN_CATALOG (from meson),
# PROBE (or the first argument of the test; default: the build tree's),
# POSTERN_BACKEND (nftables, iptables or auto: `posternctl apply --backend`;
# unset: the policy's own choice).

# shellcheck shell=bash disable=SC2086 # word splitting of port lists is wanted
set -u

TOPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROBE=${1:-${PROBE:-${POSTERN_BUILD_ROOT:-$TOPO_DIR/../../build}/tests/traffic/probe}}
case "$PROBE" in /*) ;; *) PROBE="$PWD/$PROBE" ;; esac  # meson passes it relative to the build tree
POSTERN_SOURCE_ROOT=${POSTERN_SOURCE_ROOT:-$(cd "$TOPO_DIR/../.." && pwd)}
POSTERNCTL=${POSTERNCTL:-${POSTERN_BUILD_ROOT:-$POSTERN_SOURCE_ROOT/build}/daemon/posternctl}
POSTERN_CATALOG=${POSTERN_CATALOG:-$POSTERN_SOURCE_ROOT/conf/services.conf}

TOPO_ID="$$-$RANDOM"
NS_HUT="postern-hut-$TOPO_ID"
NS_OUT="postern-out-$TOPO_ID"
NS_LAN="postern-lan-$TOPO_ID"
NS_SRV="postern-srv-$TOPO_ID"
NS_CTR="postern-ctr-$TOPO_ID"   # a container behind a bridge in the hut (docker-host.sh)
TOPO_TMP=""
TOPO_PIDS=()
TOPO_CREATED=()
PROBE_TIMEOUT_MS=${PROBE_TIMEOUT_MS:-1000}     # a drop costs this much, once per phase
N_OK=0
N_FAIL=0
T_START=$SECONDS

skip() { echo "SKIP: $*"; exit 77; }
die() { echo "ERROR: $*" >&2; exit 1; }
x() { "$@" || die "failed: $*"; }

ns_of() {
        case "$1" in
        hut) echo "$NS_HUT" ;;
        out) echo "$NS_OUT" ;;
        lan) echo "$NS_LAN" ;;
        srv) echo "$NS_SRV" ;;
        ctr) echo "$NS_CTR" ;;
        *) die "unknown role $1" ;;
        esac
}

# nsx ROLE CMD...: run CMD inside ROLE's namespace
nsx() {
        local ns
        ns=$(ns_of "$1") || exit 1
        shift
        ip netns exec "$ns" "$@"
}

topo_cleanup() {
        local rc=$? pid ns
        trap - EXIT INT TERM
        for pid in "${TOPO_PIDS[@]}"; do
                kill "$pid" 2>/dev/null
        done
        for pid in "${TOPO_PIDS[@]}"; do
                wait "$pid" 2>/dev/null
        done
        for ns in "${TOPO_CREATED[@]}"; do
                ip netns del "$ns" 2>/dev/null
        done
        [ -n "$TOPO_TMP" ] && rm -rf "$TOPO_TMP"
        exit "$rc"
}

# Skip (77) unless we are root and can create a namespace with nf_tables in it.
topo_require() {
        [ "$(id -u)" = 0 ] || skip "needs root (network namespaces, nf_tables)"
        command -v ip >/dev/null || skip "iproute2 (ip) not found"
        [ -x "$PROBE" ] || die "probe not built: $PROBE"
        trap topo_cleanup EXIT
        trap 'exit 130' INT TERM
        TOPO_TMP=$(mktemp -d /tmp/postern-traffic.XXXXXX) || die "mktemp"
        ip netns add "$NS_HUT" 2>/dev/null || skip "cannot create a network namespace (ip netns add)"
        TOPO_CREATED+=("$NS_HUT")
        # one throwaway table, to know nf_tables works in a namespace
        printf 'table inet postern_probe {\n chain c {\n  type filter hook input priority 0;\n }\n}\ndelete table inet postern_probe\n' \
                > "$TOPO_TMP/feature.nft"
        if [ "${POSTERN_BACKEND:-}" = iptables ]; then
                command -v iptables-legacy-save >/dev/null || skip "iptables-legacy-save not found"
                nsx hut iptables-legacy-save -t filter >/dev/null 2>&1 ||
                        skip "legacy iptables unavailable in a namespace"
        elif command -v nft >/dev/null; then
                nsx hut nft -f "$TOPO_TMP/feature.nft" 2>/dev/null || skip "nf_tables unavailable in a namespace"
        fi
}

# The firewall as the backend under test holds it in the hut.
fw_list() {
        if [ "${POSTERN_BACKEND:-}" = iptables ]; then
                nsx hut iptables-legacy-save -t filter && nsx hut ip6tables-legacy-save -t filter &&
                        { nsx hut ipset list -t 2>/dev/null || true; }
        else
                nsx hut nft list table inet postern
        fi
}

# Is a postern firewall in place in the hut?
fw_present() {
        if [ "${POSTERN_BACKEND:-}" = iptables ]; then
                nsx hut iptables-legacy-save -t filter 2>/dev/null | grep -q '^:INPUT DROP'
        else
                nsx hut nft list table inet postern >/dev/null 2>&1
        fi
}

# Take the firewall away (policies back to ACCEPT, our chains and sets gone).
fw_remove() {
        if [ "${POSTERN_BACKEND:-}" = iptables ]; then
                local t
                for t in iptables-legacy ip6tables-legacy; do
                        nsx hut $t -P INPUT ACCEPT && nsx hut $t -P FORWARD ACCEPT &&
                                nsx hut $t -F && nsx hut $t -X || return 1
                done
                nsx hut ipset destroy 2>/dev/null || true
        else
                nsx hut nft delete table inet postern
        fi
}

# sysctl in a role's namespace only
nsysctl() {
        local role=$1
        shift
        nsx "$role" sysctl -qw "$@" >/dev/null || die "sysctl $* in $role"
}

topo_build() {
        local r
        for r in out lan srv; do
                ip netns add "$(ns_of $r)" || die "ip netns add $(ns_of $r)"
                TOPO_CREATED+=("$(ns_of $r)")
        done
        for r in hut out lan srv; do
                ip -n "$(ns_of $r)" link set lo up
                # no DAD: addresses are usable at once; no rp_filter surprises
                # inherited from the host's own settings
                nsysctl $r net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
                        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
        done
        nsysctl hut net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

        local H="x ip -n $NS_HUT" O="x ip -n $NS_OUT" L="x ip -n $NS_LAN" S="x ip -n $NS_SRV"
        # veth pairs created inside the hut's namespace, peer moved straight
        # into the other one: nothing ever appears in the caller's namespace
        $H link add ppp0 type veth peer name hut0 netns "$NS_OUT"
        $H link add eth1 type veth peer name hut0 netns "$NS_LAN"
        $H link add eth2 type veth peer name hut0 netns "$NS_SRV"
        for r in "$H" "$O" "$L" "$S"; do
                local ifc
                for ifc in $(${r#x } -o link show | awk -F': ' '$2 !~ /^lo/ {sub(/@.*/, "", $2); print $2}'); do
                        $r link set "$ifc" up
                done
        done

        # ppp0: point-to-point style addressing, as pppd sets it
        $H addr add 198.18.0.1 peer 198.18.0.2/32 dev ppp0
        $H addr add 2001:db8::1/64 dev ppp0 nodad
        $O addr add 198.18.0.2 peer 198.18.0.1/32 dev hut0
        $O addr add 2001:db8::2/64 dev hut0 nodad
        # other Internet hosts: the CAG of seed 001 and a random one
        $O addr add 198.18.3.5/32 dev lo
        $O addr add 198.18.100.7/32 dev lo
        $O addr add 2001:db8:3::5/128 dev lo nodad
        $O addr add 2001:db8:100::7/128 dev lo nodad
        topo_routes_wan 198.18.0.1 2001:db8::1

        $H addr add 198.18.1.1/24 dev eth1
        $H addr add 2001:db8:1::1/64 dev eth1 nodad
        $L addr add 198.18.1.10/24 dev hut0
        $L addr add 2001:db8:1::10/64 dev hut0 nodad
        $L route add default via 198.18.1.1
        $L -6 route add default via 2001:db8:1::1

        $H addr add 198.18.2.1/24 dev eth2
        $H addr add 2001:db8:2::1/64 dev eth2 nodad
        local a
        for a in 10 11 20; do
                $S addr add 198.18.2.$a/24 dev hut0
                $S addr add 2001:db8:2::$a/64 dev hut0 nodad
        done
        $S route add default via 198.18.2.1
        $S -6 route add default via 2001:db8:2::1
}

# Routes across ppp0 given the hut's current ppp0 addresses (v4 local, v6).
topo_routes_wan() {
        local v4=$1 v6=$2 p
        x ip -n "$NS_HUT" route replace 198.18.3.0/24 via 198.18.0.2 dev ppp0
        x ip -n "$NS_HUT" route replace 198.18.100.0/24 via 198.18.0.2 dev ppp0
        x ip -n "$NS_HUT" -6 route replace 2001:db8:3::/64 via 2001:db8::2 dev ppp0
        x ip -n "$NS_HUT" -6 route replace 2001:db8:100::/64 via 2001:db8::2 dev ppp0
        for p in 198.18.1.0/24 198.18.2.0/24; do
                x ip -n "$NS_OUT" route replace $p via "$v4" dev hut0
        done
        for p in 2001:db8:1::/64 2001:db8:2::/64; do
                x ip -n "$NS_OUT" -6 route replace $p via "$v6" dev hut0
        done
}

# listen ROLE probe-listen-args...: start a listener, wait until it is bound
listen() {
        local role=$1 out i
        shift
        out="$TOPO_TMP/listen-$role-${#TOPO_PIDS[@]}"
        # a plain command, not the nsx function: $! is then the listener
        # itself (ip netns exec execs it), not a subshell a kill would miss
        ip netns exec "$(ns_of "$role")" "$PROBE" listen --lifetime 300 "$@" > "$out" 2>&1 &
        TOPO_PIDS+=($!)
        for i in $(seq 1 100); do
                grep -q '^ready' "$out" 2>/dev/null && return 0
                kill -0 "${TOPO_PIDS[-1]}" 2>/dev/null || break
                sleep 0.05
        done
        cat "$out" >&2
        die "listener in $role ($*) did not start"
}

# ---- probe tables ----
#
# expect pass|drop ROLE DST tcp|udp PORT [SRC]
# expect pass|drop ROLE DST icmp - [SRC]        (echo request)
# expect pass|drop ROLE DST proto N [SRC]       (raw IP protocol N, e.g. 50 = ESP)
# expect refused ROLE DST udp PORT [SRC]        (no listener: the ICMP error came back)
#
# Probes are queued and run in parallel by `run_table TITLE`.  "pass" means
# a TCP handshake completed or a reply came back (so replies of an
# established connection pass too); "drop" means a timeout — not "refused",
# which would be a port without a listener, not the firewall's doing.
Q_EXP=()
Q_ROLE=()
Q_DST=()
Q_PROTO=()
Q_PORT=()
Q_SRC=()

default_src() {
        local role=$1 dst=$2
        case "$role:$dst" in
        out:*:*) echo 2001:db8::2 ;;
        out:*) echo 198.18.0.2 ;;
        lan:*:*) echo 2001:db8:1::10 ;;
        lan:*) echo 198.18.1.10 ;;
        srv:*:*) echo 2001:db8:2::10 ;;
        srv:*) echo 198.18.2.10 ;;
        *) echo "" ;;
        esac
}

expect() {
        [ $# -ge 5 ] || die "expect: $*"
        Q_EXP+=("$1")
        Q_ROLE+=("$2")
        Q_DST+=("$3")
        Q_PROTO+=("$4")
        Q_PORT+=("$5")
        Q_SRC+=("${6:-$(default_src "$2" "$3")}")
}

table_clear() {
        Q_EXP=() Q_ROLE=() Q_DST=() Q_PROTO=() Q_PORT=() Q_SRC=()
}

# probe_line INDEX: the `probe batch` line for queued probe INDEX
probe_line() {
        local i=$1 from=""
        [ -n "${Q_SRC[$i]}" ] && from="--from ${Q_SRC[$i]}"
        case "${Q_PROTO[$i]}" in
        tcp|udp) echo "$i connect ${Q_DST[$i]} ${Q_PROTO[$i]} ${Q_PORT[$i]} $from --timeout-ms $PROBE_TIMEOUT_MS" ;;
        icmp) echo "$i ping ${Q_DST[$i]} $from --timeout-ms $PROBE_TIMEOUT_MS" ;;
        proto) echo "$i proto ${Q_DST[$i]} ${Q_PORT[$i]} $from --timeout-ms $PROBE_TIMEOUT_MS" ;;
        *) die "unknown probe type ${Q_PROTO[$i]}" ;;
        esac
}

# run_probes DIR: run the queued probes (all at once: one `probe batch` per
# source namespace) and write "INDEX RESULT" lines to DIR/results.
# (eval.sh replaces it with the ruleset evaluator.)
run_probes() {
        local dir=$1 i n=${#Q_EXP[@]} role pids=()
        for role in hut out lan srv ctr; do
                for ((i = 0; i < n; i++)); do
                        [ "${Q_ROLE[$i]}" = "$role" ] && probe_line $i
                done > "$dir/in.$role"
                [ -s "$dir/in.$role" ] || continue
                nsx $role "$PROBE" batch < "$dir/in.$role" > "$dir/out.$role" 2> "$dir/err.$role" &
                pids+=($!)
        done
        # not a bare wait: the listeners are children of this shell too
        [ ${#pids[@]} = 0 ] || wait "${pids[@]}"
        cat "$dir"/out.* > "$dir/results"
        cat "$dir"/err.* >&2
}

# run_table TITLE: run the queued probes, print one line each, count, clear
# the queue.  Returns 1 if any expectation failed.
run_table() {
        local title=$1 i n=${#Q_EXP[@]} dir="$TOPO_TMP/run.$RANDOM" fails=0
        local t0=$SECONDS
        mkdir -p "$dir"
        echo "== $title"
        run_probes "$dir"
        local -A got_of=()
        local idx rest
        while read -r idx rest; do
                got_of[$idx]=$rest
        done < "$dir/results"
        for ((i = 0; i < n; i++)); do
                local got what verdict want=pass
                got=${got_of[$i]:-}
                [ "${Q_EXP[$i]}" = drop ] && want=timeout
                [ "${Q_EXP[$i]}" = refused ] && want=refused
                case "${Q_PROTO[$i]}" in
                icmp) what="icmp/echo" ;;
                proto) what="proto/${Q_PORT[$i]}" ;;
                *) what="${Q_PROTO[$i]}/${Q_PORT[$i]}" ;;
                esac
                what="${Q_ROLE[$i]} → ${Q_DST[$i]} $what"
                [ -n "${Q_SRC[$i]}" ] && what="$what from ${Q_SRC[$i]}"
                if [ "${got%% *}" = "$want" ]; then
                        verdict="ok  "
                        N_OK=$((N_OK + 1))
                else
                        verdict="FAIL"
                        N_FAIL=$((N_FAIL + 1))
                        fails=$((fails + 1))
                        what="$what   (got: ${got:-nothing})"
                fi
                printf '%s %-4s %s\n' "$verdict" "${Q_EXP[$i]}" "$what"
        done
        echo "-- $title: $n probes, $fails failed, $((SECONDS - t0)) s"
        [ $fails = 0 ] || show_ruleset
        rm -rf "$dir"
        table_clear
        [ $fails = 0 ]
}

# baseline TITLE: run the queued probes without any firewall, every one
# expected to pass (so each later "drop" is proven to be the firewall's doing,
# not a missing listener or route), and keep the queue for the real run.
baseline() {
        local saved_exp=("${Q_EXP[@]}") i
        for i in "${!Q_EXP[@]}"; do
                [ "${Q_EXP[$i]}" = refused ] || Q_EXP[$i]=pass
        done
        fw_present && die "baseline with a firewall in place"
        run_keep "$1"
        local rc=$?
        Q_EXP=("${saved_exp[@]}")
        return $rc
}

# run_keep TITLE: run_table, keeping the queue for another run
run_keep() {
        local saved_exp=("${Q_EXP[@]}") saved_role=("${Q_ROLE[@]}") saved_dst=("${Q_DST[@]}")
        local saved_proto=("${Q_PROTO[@]}") saved_port=("${Q_PORT[@]}") saved_src=("${Q_SRC[@]}")
        run_table "$1"
        local rc=$?
        Q_EXP=("${saved_exp[@]}") Q_ROLE=("${saved_role[@]}") Q_DST=("${saved_dst[@]}")
        Q_PROTO=("${saved_proto[@]}") Q_PORT=("${saved_port[@]}") Q_SRC=("${saved_src[@]}")
        return $rc
}

# apply_policy FILE: what an rc script or a ppp ip-up hook runs, in the hut
apply_policy() {
        local conf=$1 out backend=()
        [ -n "${POSTERN_BACKEND:-}" ] && backend=(--backend "$POSTERN_BACKEND")
        echo "== posternctl apply ${backend[*]} $conf (in $NS_HUT)"
        [ -x "$POSTERNCTL" ] || skip "posternctl not built: $POSTERNCTL"
        if ! out=$(nsx hut "$POSTERNCTL" apply "${backend[@]}" --catalog "$POSTERN_CATALOG" "$conf" 2>&1); then
                echo "$out"
                die "posternctl apply failed"
        fi
        [ -n "$out" ] && echo "$out"
        # Forget the flows the baseline opened: ESP/AH have no ports, so a
        # baseline packet would make every later one of the same host pair
        # "established" and hide a drop.
        nsx hut "$PROBE" ct-flush || die "cannot flush conntrack in $NS_HUT"
        # and the neighbour caches the baseline filled: IPv6 neighbour
        # discovery must work through the firewall, not be remembered
        local r
        for r in hut out lan srv; do
                ip -n "$(ns_of $r)" neigh flush all >/dev/null 2>&1
        done
        fw_list > "$TOPO_TMP/ruleset" 2>&1 && fw_present ||
                die "no firewall after apply: $(cat "$TOPO_TMP/ruleset")"
        return 0
}

show_ruleset() {
        fw_list > "$TOPO_TMP/ruleset" 2>/dev/null || return 0
        echo "== the ruleset in $NS_HUT"
        cat "$TOPO_TMP/ruleset"
}

summary() {
        echo "== $N_OK ok, $N_FAIL failed, $((SECONDS - T_START)) s"
        [ "$N_FAIL" = 0 ] || exit 1
        exit 0
}

example() {
        echo "$POSTERN_SOURCE_ROOT/conf/examples/$1"
}

# fam 4|6: the topology's addresses in one family, for writing a probe table
# once and running it for IPv4 and IPv6
# shellcheck disable=SC2034 # used by the seed scripts that source this file
fam() {
        if [ "$1" = 4 ]; then
                HUT_WAN=198.18.0.1 HUT_LAN=198.18.1.1 HUT_SRV=198.18.2.1
                OUT=198.18.0.2 CAG=198.18.3.5 RND=198.18.100.7 LAN=198.18.1.10
                SRV10=198.18.2.10 SRV11=198.18.2.11 SRV20=198.18.2.20
        else
                HUT_WAN=2001:db8::1 HUT_LAN=2001:db8:1::1 HUT_SRV=2001:db8:2::1
                OUT=2001:db8::2 CAG=2001:db8:3::5 RND=2001:db8:100::7 LAN=2001:db8:1::10
                SRV10=2001:db8:2::10 SRV11=2001:db8:2::11 SRV20=2001:db8:2::20
        fi
}

# POSTERN_EVAL=PATH: the same probe tables through the ruleset evaluator
# (tests/traffic/eval-probes) instead of the kernel: no root, no namespace
if [ -n "${POSTERN_EVAL:-}" ]; then
        . "$TOPO_DIR/eval.sh"
fi
