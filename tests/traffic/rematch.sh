#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# options.rematch (README, "Rematch on reload"): live TCP sessions from the
# LAN, to the host (input, tcp/2222) and through it to a server (forward,
# tcp/8080), in IPv4 and IPv6, across reloads (`posternctl apply` of another
# policy, without flushing conntrack, as an administrator reloads):
#   keep    another policy that still allows them (a new stamp: their next
#           packets go through the rules again and are stamped anew): pass
#   again   the same policy once more: pass
#   remove  a policy without their rules: the next message is dropped,
#           "timeout" with rematch = true; "pass" with rematch = false
#           (today's behaviour: an established flow outlives its rule).
# Then rematch = true once more with posternd reloading on SIGHUP.
# Arguments: PROBE SESSION (the two helpers, from meson).
. "$(dirname "$0")/topo.sh"

SESSION=${2:-${POSTERN_BUILD_ROOT:-$TOPO_DIR/../../build}/tests/traffic/session}
case "$SESSION" in /*) ;; *) SESSION="$PWD/$SESSION" ;; esac
[ "${POSTERN_BACKEND:-nftables}" = nftables ] || skip "options.rematch needs the nftables backend"

topo_require
trap '' PIPE # a client that has given up must not kill the test when it is told to go on
[ -x "$SESSION" ] || die "session helper not built: $SESSION"
topo_build

# policy FILE REMATCH INPUT-ALLOW FORWARD-ALLOW
policy() {
        cat > "$1" <<EOP
options = { rematch = $2; };
zones = { lan = { interfaces = ["eth1"]; }; srv = { interfaces = ["eth2"]; }; };
input = ( { allow = $3; from = "lan"; } );
forward = ( { allow = $4; from = "lan"; to = "srv"; } );
EOP
}

# reload FILE: posternctl apply in the hut, or (APPLY=daemon) the file copied over
# posternd's policy and SIGHUP; conntrack left as it is
APPLY=ctl
DAEMON_PID=
reload() {
        if [ "$APPLY" = ctl ]; then
                echo "== reload: posternctl apply $(basename "$1")"
                nsx hut "$POSTERNCTL" apply --catalog "$POSTERN_CATALOG" "$1" || die "posternctl apply $1 failed"
                return 0
        fi
        echo "== reload: $(basename "$1") over posternd's policy, SIGHUP"
        cp "$1" "$TOPO_TMP/live.conf"
        daemon_reported kill -HUP "$DAEMON_PID"
}

# daemon_reported CMD...: run CMD, wait (10 s at most) for posternd's next line saying
# it applied the policy (or that an unchanged one needs no kernel write)
DAEMON_DONE='^posternd: (applied |.*(unchanged|no change))'
daemon_reported() {
        local log="$TOPO_TMP/posternd.log" n
        : >> "$log"
        n=$(grep -cE "$DAEMON_DONE" "$log")
        "$@"
        for _ in $(seq 1 200); do
                [ "$(grep -cE "$DAEMON_DONE" "$log")" -gt "$n" ] && return 0
                kill -0 "$DAEMON_PID" 2>/dev/null || break
                sleep 0.05
        done
        cat "$log" >&2
        die "posternd did not report the reload"
}

daemon_start() {
        local posternd
        posternd="$(dirname "$POSTERNCTL")/posternd"
        [ -x "$posternd" ] || die "posternd not built: $posternd"
        cp "$1" "$TOPO_TMP/live.conf"
        echo "== posternd --no-bus --policy live.conf (in $NS_HUT)"
        daemon_reported daemon_spawn "$posternd"
        nsx hut "$PROBE" ct-flush || die "cannot flush conntrack in $NS_HUT"
}

daemon_spawn() {
        ip netns exec "$NS_HUT" "$1" --no-bus --policy "$TOPO_TMP/live.conf" --catalog "$POSTERN_CATALOG" \
                --runtime-dir "$TOPO_TMP/run" --state-dir "$TOPO_TMP/state" >> "$TOPO_TMP/posternd.log" 2>&1 &
        DAEMON_PID=$!
        TOPO_PIDS+=($!)
}

stamp() {
        nsx hut nft list chain inet postern rematch_stamp 2>/dev/null | sed -n 's/.* | \(0x[0-9a-f]*\) accept.*/\1/p'
}

# packets counted by the sessions' allow rules (tcp/2222 and tcp/8080)
allow_packets() {
        nsx hut nft list table inet postern |
                awk '/dport (2222|8080) / { for (i = 1; i < NF; i++) if ($i == "packets") s += $(i + 1) } END { print s + 0 }'
}

# check TITLE GOT OP WANT: one numeric assertion
check() {
        local ok=false
        case "$3" in
        ">=") [ "$2" -ge "$4" ] && ok=true ;;
        "==") [ "$2" -eq "$4" ] && ok=true ;;
        esac
        if $ok; then
                echo "ok    $1: $2"; N_OK=$((N_OK + 1))
        else
                echo "FAIL  $1: $2, expected $3 $4"; N_FAIL=$((N_FAIL + 1))
        fi
}

SESSIONS=(in4 in6 fwd4 fwd6)
declare -A S_FD S_OUT S_LINES S_PID

# session_open NAME DST PORT: a client in the LAN, fed through a FIFO
session_open() {
        local name=$1 fifo="$TOPO_TMP/s-$1.in" fd
        S_OUT[$name]="$TOPO_TMP/s-$1.out"
        mkfifo "$fifo" || die "mkfifo"
        ip netns exec "$NS_LAN" "$SESSION" client "$2" "$3" --timeout-ms 1500 < "$fifo" > "${S_OUT[$name]}" 2>&1 &
        S_PID[$name]=$!
        TOPO_PIDS+=($!)
        exec {fd}>"$fifo"
        S_FD[$name]=$fd
        S_LINES[$name]=0
}

# session_wait NAME N: the session's output line N (bounded: 10 s)
session_wait() {
        local name=$1 n=$2 line
        for _ in $(seq 1 200); do
                line=$(sed -n "${n}p" "${S_OUT[$name]}")
                [ -n "$line" ] && { echo "$line"; return 0; }
                sleep 0.05
        done
        echo "no-answer"
}

# step TITLE EXPECTED [--no-send]: one message on every session at once, each must
# say EXPECTED (--no-send: only read the next line, e.g. "connected")
step() {
        local title=$1 want=$2 s got
        for s in "${SESSIONS[@]}"; do
                [ "${3:-}" = --no-send ] || echo 2>/dev/null 1>&"${S_FD[$s]}"
        done
        for s in "${SESSIONS[@]}"; do
                S_LINES[$s]=$((S_LINES[$s] + 1))
                got=$(session_wait "$s" "${S_LINES[$s]}")
                if [ "$got" = "$want" ]; then
                        echo "ok    $title: $s $got"
                        N_OK=$((N_OK + 1))
                else
                        echo "FAIL  $title: $s: $got, expected $want"
                        N_FAIL=$((N_FAIL + 1))
                fi
        done
}

sessions_close() {
        local s fd
        for s in "${SESSIONS[@]}"; do
                fd=${S_FD[$s]}
                exec {fd}>&-
                rm -f "$TOPO_TMP/s-$s.in"
        done
        # the clients reset their connections as they exit: wait for that, so nothing
        # of these sessions reaches the next mode's rules
        for s in "${SESSIONS[@]}"; do
                wait "${S_PID[$s]}" 2>/dev/null
        done
}

# start the echo servers: in the hut (input) and on srv (forward)
for role in hut srv; do
        out="$TOPO_TMP/echo-$role"
        port=2222; [ $role = srv ] && port=8080
        ip netns exec "$(ns_of $role)" "$SESSION" echo "$port" --lifetime 300 > "$out" 2>&1 &
        TOPO_PIDS+=($!)
        for _ in $(seq 1 100); do
                grep -q '^ready' "$out" 2>/dev/null && break
                sleep 0.05
        done
        grep -q '^ready' "$out" || die "echo server in $role did not start: $(cat "$out")"
done

run_mode() {
        local rematch=$1 removed=$2 s0 s1 c0 c1 c2
        echo "=== options.rematch = $rematch, reloads by $APPLY"
        policy "$TOPO_TMP/a.conf" "$rematch" '"tcp/2222"' '"tcp/8080"'
        policy "$TOPO_TMP/keep.conf" "$rematch" '["tcp/2222", "udp/53"]' '["tcp/8080", "udp/53"]'
        policy "$TOPO_TMP/remove.conf" "$rematch" '"udp/53"' '"udp/53"'
        if [ "$APPLY" = ctl ]; then apply_policy "$TOPO_TMP/a.conf"; else daemon_start "$TOPO_TMP/a.conf"; fi
        fam 4
        session_open in4 "$HUT_LAN" 2222
        session_open fwd4 "$SRV10" 8080
        fam 6
        session_open in6 "$HUT_LAN" 2222
        session_open fwd6 "$SRV10" 8080
        step "connect" connected --no-send
        step "before any reload" pass
        s0=$(stamp)
        reload "$TOPO_TMP/keep.conf"
        s1=$(stamp)
        if [ "$rematch" = true ]; then
                # the keep policy must really carry a new stamp, or "keep" proves nothing
                if [ -n "$s0" ] && [ -n "$s1" ] && [ "$s0" != "$s1" ]; then
                        echo "ok    stamp $s0 -> $s1"; N_OK=$((N_OK + 1))
                else
                        echo "FAIL  stamp '$s0' -> '$s1': expected two different stamps"; N_FAIL=$((N_FAIL + 1))
                fi
        elif [ -n "$s1" ]; then
                echo "FAIL  rematch = false and yet a stamp chain"; N_FAIL=$((N_FAIL + 1))
        fi
        c0=$(allow_packets)
        step "after a reload that keeps the rules" pass
        c1=$(allow_packets)
        step "the next message" pass
        c2=$(allow_packets)
        if [ "$rematch" = true ]; then
                # the first message of each session after the reload went through its rule
                # (and was stamped anew), the next one passed on the stamp alone
                check "allow-rule packets of the first message after the reload" "$((c1 - c0))" ">=" 4
                check "allow-rule packets of the next message" "$((c2 - c1))" "==" 0
        else
                check "allow-rule packets of established flows (rematch off)" "$((c2 - c0))" "==" 0
        fi
        reload "$TOPO_TMP/keep.conf"
        step "after the same policy again" pass
        if [ "$APPLY" = ctl ] && [ "$rematch" = true ]; then
                # what posternctl diff says of it first: the rules, the two stamp rules, and the
                # four sessions as the connections the reload cuts (the first mode: no other flows)
                cat > "$TOPO_TMP/diff-$rematch.expected" <<'EOD'
- forward tcp/8080 (http-proxy) from zone lan out eth2
- input tcp/2222 from zone lan
+ rematch ct mark 0x02f40000/16
- rematch ct mark 0x4bb10000/16
+ rematch_stamp ct mark set ct mark & 0x02f4ffff | 0x02f40000
- rematch_stamp ct mark set ct mark & 0x4bb1ffff | 0x4bb10000
conntrack: 4 of 4 tracked connections would not be let in as new
posternctl diff exit 1
EOD
                nsx hut "$POSTERNCTL" diff --catalog "$POSTERN_CATALOG" "$TOPO_TMP/remove.conf" > "$TOPO_TMP/diff.out"
                echo "posternctl diff exit $?" >> "$TOPO_TMP/diff.out"
                if diff -u "$TOPO_TMP/diff-$rematch.expected" "$TOPO_TMP/diff.out"; then
                        echo "ok    posternctl diff remove.conf"; N_OK=$((N_OK + 1))
                else
                        echo "FAIL  posternctl diff remove.conf:"; cat "$TOPO_TMP/diff.out"; N_FAIL=$((N_FAIL + 1))
                fi
        fi
        reload "$TOPO_TMP/remove.conf"
        step "after a reload that removes the rules" "$removed"
        sessions_close
}

run_mode true timeout
run_mode false pass
# the daemon's reload (SIGHUP) is the same compile and the same batch
APPLY=daemon
run_mode true timeout
summary
