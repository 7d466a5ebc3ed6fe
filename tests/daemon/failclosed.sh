#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Fail-closed boot.  An invalid policy and no table → the built-in emergency
# ruleset (state "emergency", SSH only as --emergency-ssh or the policy's
# emergency block allow), real packets checked; SIGHUP with a fixed policy →
# applied.  An invalid policy and a table left by a previous run → that table
# is kept byte for byte (state "degraded") — until someone else changes it:
# then nothing vouches for it, and the emergency ruleset replaces it.
. "$(dirname "$0")/lib.sh"
t_require
PROBE=$T_BUILD/tests/traffic/probe
[ -x "$PROBE" ] || skip "tests/traffic/probe not built"
NS=$(t_netns fc)
PEER=$(t_netns fcp)
t_bus_start
t_notify_start
P=$T_TMP/postern.conf

ip -n "$NS" link add veth0 type veth peer name veth1 netns "$PEER"
ip -n "$NS" addr add 198.18.9.1/24 dev veth0
ip -n "$NS" addr add 198.18.10.1/24 dev veth0
ip -n "$PEER" addr add 198.18.9.2/24 dev veth1
ip -n "$PEER" addr add 198.18.10.2/24 dev veth1
ip -n "$NS" link set veth0 up
ip -n "$PEER" link set veth1 up
ip netns exec "$NS" "$PROBE" listen --tcp 22,25 --lifetime 120 >"$T_TMP/listen.txt" 2>&1 &
T_PIDS+=($!)
t_wait_count "$T_TMP/listen.txt" ready 1 5 || die "probe listener did not start"
probe() { nsx "$PEER" "$PROBE" connect "$1" tcp "$2" --from "$3" --timeout-ms 400; }

info "invalid policy (syntax error), no table, --emergency-ssh=198.18.9.0/24 → emergency"
printf 'input = ( { allow = "ssh" }\n' >"$P"
t_daemon "$NS" --policy "$P" --emergency-ssh=198.18.9.0/24
t_wait_ready 1
grep -q "READY=1 | STATUS=EMERGENCY" "$NLOG" || die "READY=1 without an EMERGENCY status"
grep -q "EMERGENCY ruleset.*SSH from 198.18.9.0/24" "$DLOG" || die "the emergency is not logged loudly"
t_wait_name org.postern1 || die "no bus name"
[ "$(prop State)" = emergency ] || die "State is $(prop State)"
t=$(t_table "$NS")
echo "$t" | grep -q 'iifname "lo" accept' || die "no loopback rule"
echo "$t" | grep -q 'ct state vmap' || die "no ct state rule"
echo "$t" | grep -q 'nd-neighbor-solicit' || die "no neighbour discovery"
echo "$t" | grep -q 'ip saddr 198.18.9.0/24 tcp dport 22' || die "no SSH rule from 198.18.9.0/24"
[ "$(probe 198.18.9.1 22 198.18.9.2)" = pass ] || die "SSH from 198.18.9.2 refused in emergency"
[ "$(probe 198.18.10.1 22 198.18.10.2)" = timeout ] || die "SSH from 198.18.10.2 not dropped in emergency"
[ "$(probe 198.18.9.1 25 198.18.9.2)" = timeout ] || die "SMTP not dropped in emergency"

info "SIGHUP with a fixed policy → applied"
printf 'input = ( { allow = ["smtp", "ssh"]; } );\n' >"$P"
kill -HUP "$DPID"
t_wait_ready 2
t_wait_prop State applied
[ "$(prop Generation)" = 2 ] || die "Generation $(prop Generation)"
[ "$(probe 198.18.10.1 25 198.18.10.2)" = pass ] || die "SMTP refused after the fix"
t_stop

info "a bad rule, the policy's own emergency block (ssh_from 198.18.10.0/24), no table → emergency"
nsx "$NS" nft delete table inet postern
cat >"$P" <<'EOF'
emergency = { ssh_from = ["198.18.10.0/24"]; };
input = ( { allow = ["no-such-service"]; } );
EOF
t_daemon "$NS" --policy "$P"
t_wait_ready 3
t_wait_name org.postern1 || die "no bus name"
t_wait_prop State emergency
[ "$(probe 198.18.10.1 22 198.18.10.2)" = pass ] || die "SSH from 198.18.10.2 refused (policy emergency block)"
[ "$(probe 198.18.9.1 22 198.18.9.2)" = timeout ] || die "SSH from 198.18.9.2 not dropped"
t_stop

info "no emergency options at all → no SSH"
nsx "$NS" nft delete table inet postern
printf 'garbage\n' >"$P"
t_daemon "$NS" --policy "$P"
t_wait_ready 4
t_table "$NS" | grep -q "dport 22" && die "SSH allowed without being asked for"
[ "$(probe 198.18.9.1 22 198.18.9.2)" = timeout ] || die "SSH not dropped"
t_stop

info "invalid policy, and the table a previous run left was changed while no daemon ran → emergency"
printf 'input = ( { allow = ["smtp"]; } );\n' >"$P"
t_daemon "$NS" --policy "$P"
t_wait_ready 5
t_stop
nsx "$NS" nft insert rule inet postern input tcp dport 2525 accept
printf 'input = ( { allow = ["smtp"] } \n' >"$P"
t_daemon "$NS" --policy "$P" --emergency-ssh
t_wait_ready 6
t_wait_prop State emergency
t_table "$NS" | grep -q 2525 && die "the rule added while no daemon ran stayed"
grep -q "table inet postern exists, but the ruleset changed since posternd last committed" "$DLOG" ||
        die "the reason for not keeping the table is not logged"
[ "$(probe 198.18.10.1 25 198.18.10.2)" = timeout ] || die "SMTP of the changed table still open"
t_stop

info "invalid policy with a table from a previous run → degraded, the table kept"
printf 'input = ( { allow = ["smtp"]; } );\n' >"$P"
t_daemon "$NS" --policy "$P"
t_wait_ready 7
t_stop
strip() { sed -e 's/ # progname .*//' -e '/^\tflags /d'; }
before=$(t_table "$NS" | strip)
printf 'input = ( { allow = ["smtp"] } \n' >"$P"
t_daemon "$NS" --policy "$P" --emergency-ssh
t_wait_ready 8
grep -q "READY=1 | STATUS=DEGRADED" "$NLOG" || die "READY=1 without a DEGRADED status"
t_wait_name org.postern1 || die "no bus name"
[ "$(prop State)" = degraded ] || die "State is $(prop State)"
[ "$(t_table "$NS" | strip)" = "$before" ] || die "the previous table changed"
[ "$(probe 198.18.10.1 25 198.18.10.2)" = pass ] || die "the previous table's SMTP rule does not work"

info "degraded, and someone inserts a rule into the kept table → the emergency ruleset, not the tampered table"
nsx "$NS" nft insert rule inet postern input tcp dport 2525 accept
t_wait_prop State emergency
t_table "$NS" | grep -q 2525 && die "the tampered rule stayed"
grep -q "kept from a previous run, was changed by nft (pid [0-9]*): applied the built-in EMERGENCY" "$DLOG" ||
        die "the switch to the emergency ruleset is not logged with who changed the table"
[ "$(probe 198.18.10.1 25 198.18.10.2)" = timeout ] || die "SMTP of the tampered table still open"
[ "$(probe 198.18.10.1 22 198.18.10.2)" = pass ] || die "--emergency-ssh not honoured after the switch"

info "emergency, and someone flushes the ruleset → the emergency ruleset is put back"
em=$(t_table_s "$NS")
nsx "$NS" nft flush ruleset
t_wait_table "$NS" "$em" || die "nft flush ruleset left the host without the emergency ruleset"
printf 'input = ( { allow = ["ssh"]; } );\n' >"$P"
kill -HUP "$DPID"
t_wait_ready 9
t_wait_prop State applied
[ "$(probe 198.18.10.1 25 198.18.10.2)" = timeout ] || die "SMTP still open after the fixed reload"
t_stop
echo "PASS"
