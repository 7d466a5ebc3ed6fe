# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by topo.sh when POSTERN_EVAL names tests/traffic/eval-probes: the
# seed scripts run unchanged, but nothing is built or sent.  `ip` becomes a
# recorder of what the hut would hold (its interfaces, addresses and
# routes), `apply_policy` notes the policy and the hut's addresses at that
# moment (what posternctl apply would compile with), and run_probes asks
# the evaluator, not the kernel, for each probe's verdict.  The expectations
# are the seeds' own: the evaluator must agree with the kernel on all of them.
#
# State file lines (the hut only; the other namespaces are not modelled):
#   link IFNAME ROLE          the hut's end of the veth towards ROLE (a veth
#                             enslaved to a bridge: the bridge, where the
#                             hut's chains see the packets arrive)
#   addr IFNAME LOCAL[/LEN] [PEER/LEN]
#   route PREFIX IFNAME

# shellcheck shell=bash
EVAL_STATE=""

topo_require() {
        trap topo_cleanup EXIT
        trap 'exit 130' INT TERM
        TOPO_TMP=$(mktemp -d /tmp/postern-eval.XXXXXX) || die "mktemp"
        EVAL_STATE="$TOPO_TMP/state"
        # what the kernel puts on lo by itself
        printf 'addr lo 127.0.0.1/8\naddr lo ::1/128\n' > "$EVAL_STATE"
        [ -x "$POSTERN_EVAL" ] || die "evaluator not built: $POSTERN_EVAL"
}

role_of_ns() {
        local r
        for r in hut out lan srv ctr; do
                [ "$(ns_of $r)" = "$1" ] && { echo $r; return; }
        done
}

# ip [-n NS] [-4|-6] ...: record what changes the hut, ignore the rest
ip() {
        local ns=""
        [ "${1:-}" = -n ] && { ns=$2; shift 2; }
        [ "${1:-}" = -4 ] || [ "${1:-}" = -6 ] && shift
        [ "$ns" = "$NS_HUT" ] || return 0
        case "$1 ${2:-}" in
        "link add") # link add IF type veth peer name X netns NS (a bridge: no peer)
                [ -n "${10:-}" ] && echo "link $3 $(role_of_ns "${10}")" >> "$EVAL_STATE" ;;
        "link set") # link set IF master BRIDGE
                if [ "${4:-}" = master ]; then
                        sed "s/^link $3 /link $5 /" "$EVAL_STATE" > "$EVAL_STATE.new"
                        mv "$EVAL_STATE.new" "$EVAL_STATE"
                fi ;;
        "addr add")
                shift 2
                eval_addr add "$@" ;;
        "addr del")
                shift 2
                eval_addr del "$@" ;;
        "route add" | "route replace")
                # route add|replace PREFIX [via GW] dev IF
                local pfx=$3 dev=""
                shift 3
                while [ $# -gt 0 ]; do
                        [ "$1" = dev ] && dev=$2
                        shift
                done
                grep -v "^route $pfx " "$EVAL_STATE" > "$EVAL_STATE.new"
                echo "route $pfx $dev" >> "$EVAL_STATE.new"
                mv "$EVAL_STATE.new" "$EVAL_STATE" ;;
        esac
        return 0
}

# eval_addr add|del LOCAL [peer PEER] dev IF [nodad]
eval_addr() {
        local op=$1 local=$2 peer="" dev=""
        shift 2
        while [ $# -gt 0 ]; do
                case "$1" in
                peer) peer=$2; shift ;;
                dev) dev=$2; shift ;;
                esac
                shift
        done
        local line="addr $dev $local${peer:+ $peer}"
        grep -vxF "$line" "$EVAL_STATE" > "$EVAL_STATE.new"
        [ "$op" = add ] && echo "$line" >> "$EVAL_STATE.new"
        mv "$EVAL_STATE.new" "$EVAL_STATE"
}

nsx() { :; }
nsysctl() { :; }
listen() { :; }
baseline() { echo "== $1: skipped (evaluator)"; }
fw_present() { [ -s "$TOPO_TMP/applied" ]; }
fw_remove() { rm -f "$TOPO_TMP/applied"; }
fw_list() { cat "$TOPO_TMP/applied" 2>/dev/null; }
show_ruleset() { :; }

apply_policy() {
        echo "== evaluate $1 (the hut's addresses as they are now)"
        { echo "policy $1"; grep '^addr ' "$EVAL_STATE"; } > "$TOPO_TMP/applied"
}

run_probes() {
        local dir=$1 i n=${#Q_EXP[@]} line
        fw_present || die "run_probes without a policy applied"
        {
                cat "$TOPO_TMP/applied"
                echo now
                cat "$EVAL_STATE"
                for ((i = 0; i < n; i++)); do
                        echo "probe $i ${Q_ROLE[$i]} ${Q_DST[$i]} ${Q_PROTO[$i]} ${Q_PORT[$i]} ${Q_SRC[$i]:--}"
                done
        } > "$dir/in"
        "$POSTERN_EVAL" --catalog "$POSTERN_CATALOG" < "$dir/in" > "$dir/results" ||
                die "eval-probes failed (input: $(cat "$dir/in"))"
}
