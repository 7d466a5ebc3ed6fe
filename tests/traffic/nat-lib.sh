# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by tests/traffic/nat-*.sh after topo.sh: what a NAT test needs on
# top of pass/drop — the exact word of one probe, and counters in the
# namespaces at either end that say which address a packet really had.
# Every nft command here runs in a namespace topo.sh created.

# want WORD ROLE DST tcp|udp PORT [SRC]: one probe, now, must print WORD
# (pass, timeout, refused); counted like run_table's probes
want() {
        local word=$1 role=$2 dst=$3 proto=$4 port=$5 src=${6:-} got from=()
        [ -n "$src" ] || src=$(default_src "$role" "$dst")
        [ -n "$src" ] && from=(--from "$src")
        got=$(nsx "$role" "$PROBE" connect "$dst" "$proto" "$port" "${from[@]}" --timeout-ms "$PROBE_TIMEOUT_MS")
        if [ "$got" = "$word" ]; then
                printf 'ok   %-7s %s → %s %s/%s from %s\n' "$word" "$role" "$dst" "$proto" "$port" "$src"
                N_OK=$((N_OK + 1))
        else
                printf 'FAIL %-7s %s → %s %s/%s from %s   (got: %s)\n' "$word" "$role" "$dst" "$proto" "$port" \
                        "$src" "${got:-nothing}"
                N_FAIL=$((N_FAIL + 1))
        fi
}

# seen_setup ROLE "MATCH" ...: a counter per match in ROLE's input hook (a
# table of its own, "seen", that accepts everything); again to reset them
seen_setup() {
        local role=$1 m
        shift
        {
                nsx "$role" nft list table inet seen >/dev/null 2>&1 && echo "delete table inet seen"
                echo "table inet seen {"
                echo " chain in {"
                echo "  type filter hook input priority 0; policy accept;"
                for m in "$@"; do
                        echo "  $m counter"
                done
                echo " }"
                echo "}"
        } > "$TOPO_TMP/seen-$role.nft"
        nsx "$role" nft -f "$TOPO_TMP/seen-$role.nft" || die "cannot set up counters in $role"
        eval "SEEN_${role}=(\"\$@\")"
}

# seen_count ROLE "MATCH": packets the counter of MATCH has seen
seen_count() {
        nsx "$1" nft list chain inet seen in | grep -F "$2 counter" | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
}

# seen_reset ROLE: the counters of ROLE's seen_setup back to zero
seen_reset() {
        local -n matches="SEEN_$1"
        seen_setup "$1" "${matches[@]}"
}

# seen_expect ROLE "MATCH" none|some: did packets that match arrive?
seen_expect() {
        local n
        n=$(seen_count "$1" "$2")
        if { [ "$3" = none ] && [ "${n:-x}" = 0 ]; } || { [ "$3" = some ] && [ "${n:-0}" -gt 0 ]; }; then
                printf 'ok   seen    %s: %s: %s packets\n' "$1" "$2" "$n"
                N_OK=$((N_OK + 1))
        else
                printf 'FAIL seen    %s: %s: %s packets, expected %s\n' "$1" "$2" "${n:-no counter}" "$3"
                N_FAIL=$((N_FAIL + 1))
        fi
}
