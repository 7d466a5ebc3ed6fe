#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# start → READY=1 (STATUS with generation, digest, rules) → table installed and
# owned; SIGHUP with a good change → new generation, Applied signal; SIGHUP
# with several bad policies → each logged with file:line, the ruleset
# byte-identical, READY=1 again, LastError set, daemon alive; Reload() over
# D-Bus likewise; SIGTERM → exit 0 and the ruleset stays.
. "$(dirname "$0")/lib.sh"
t_require
NS=$(t_netns life)
t_bus_start
t_notify_start
P=$T_TMP/postern.conf
cp "$T_SRC/conf/examples/000-safesquid-outlook.conf" "$P"

info "start with seed 000's policy (conf/examples/000-safesquid-outlook.conf)"
t_daemon "$NS" --policy "$P"
t_wait_ready 1
grep -q "READY=1 | STATUS=applied: generation 1, digest [0-9a-f]\{16\}, [0-9]* rules" "$NLOG" || die "READY=1 without the expected STATUS"
t_wait_name org.postern1 || die "org.postern1 not on the bus"
[ "$(prop State)" = applied ] || die "State is $(prop State)"
[ "$(prop Generation)" = 1 ] || die "Generation is $(prop Generation)"
[ "$(prop PolicyPath)" = "$P" ] || die "PolicyPath is $(prop PolicyPath)"
want=$("$POSTERNCTL" --catalog "$CATALOG" --json check "$P" | sed -n 's/.*"digest": *"\([0-9a-f]*\)".*/\1/p')
[ -n "$want" ] && [ "$(prop PolicyDigest)" = "$want" ] || die "PolicyDigest $(prop PolicyDigest), posternctl says $want"
t_table "$NS" | grep -q "flags" && die "the table carries ownership flags (nft 1.0.6 could not save and restore it)"
sleep 0.2
echo "idle with the default policy: $(sed -n 's/^VmRSS:\s*/RSS /p' "/proc/$DPID/status"), $(ls "/proc/$DPID/fd" | wc -l) fds"
t_table "$NS" | grep -q "tcp dport" || die "table content missing"
at=$(prop AppliedAt)
now=$(date +%s%6N)
[ "$at" -gt $((now - 60000000)) ] && [ "$at" -le "$now" ] || die "AppliedAt $at not within the last minute ($now)"
info "someone else's nft flush ruleset / nft insert rule → our table is put back"
before=$(t_table_s "$NS")
nsx "$NS" nft flush ruleset
t_wait_table "$NS" "$before" || die "nft flush ruleset: our table was not put back"
t_wait_count "$DLOG" "table inet postern was deleted by nft (pid [0-9]*): put generation 1 back" 1 5 ||
        die "the heal after nft flush ruleset is not logged"
nsx "$NS" nft insert rule inet postern input tcp dport 2525 accept
t_wait_table "$NS" "$before" || die "a foreign rule (tcp dport 2525 accept) stayed in our table"
t_wait_count "$DLOG" "table inet postern was changed by nft (pid [0-9]*): put generation 1 back" 1 5 ||
        die "the heal after nft insert rule is not logged"
[ "$(prop Generation)" = 1 ] || die "a heal changed the Generation"

info "save and restore of the whole ruleset with nft (Debian 12's nft 1.0.6), other tables kept"
nsx "$NS" nft add table inet other
nsx "$NS" nft add chain inet other c
nsx "$NS" nft list ruleset >"$T_TMP/saved.nft"
nsx "$NS" nft flush ruleset
nsx "$NS" nft -f "$T_TMP/saved.nft" || die "nft -f of the saved ruleset failed"
nsx "$NS" nft list table inet other >/dev/null || die "the restore lost table inet other"
t_wait_table "$NS" "$before" || die "after save, flush and restore our table is not what it was"
nsx "$NS" nft delete table inet other

info "posternctl diff of the daemon's own policy: no difference"
nsx "$NS" "$POSTERNCTL" --catalog "$CATALOG" diff "$P" >"$T_TMP/diff.txt" 2>&1 ||
        { cat "$T_TMP/diff.txt"; die "posternctl diff reports a difference for the table posternd installed"; }

info "posternctl apply beside posternd goes through it: a broken FILE is refused with FILE:LINE, exit 1"
printf 'input = ( { allow = ["ssh"] } \n' >"$T_TMP/broken.conf"
out=$(cd "$T_TMP" && nsx "$NS" "$POSTERNCTL" apply broken.conf 2>&1)
rc=$?
[ "$rc" = 1 ] || die "posternctl apply of a broken policy through posternd: exit $rc ($out)"
case $out in "posternctl apply: $T_TMP/broken.conf:2: "*) ;; *) die "posternctl apply said: $out" ;; esac
[ "$(t_table_s "$NS")" = "$before" ] && [ "$(prop Generation)" = 1 ] || die "the refused apply changed the table"

info "SIGHUP with a good change → generation 2 and an Applied signal"
timeout 10 busctl --address="$BUS" monitor --match="type='signal',sender='org.postern1',member='Applied'" \
        >"$T_TMP/monitor.txt" 2>&1 &
T_PIDS+=($!)
sleep 0.3
sed -i 's/"ssh", "smtp", "dns"/"ssh", "smtp", "dns", "imap"/' "$P"
kill -HUP "$DPID"
t_wait_ready 2
grep -q "RELOADING=1.*MONOTONIC_USEC=[0-9]" "$NLOG" || die "no RELOADING=1 with MONOTONIC_USEC"
t_wait_prop Generation 2
t_table "$NS" | grep -q "143" || die "the reloaded rule (imap) is not installed"
t_wait_count "$T_TMP/monitor.txt" "UINT64 2" 1 5 || { cat "$T_TMP/monitor.txt"; die "no Applied(2, ...) signal"; }

info "SIGHUP with bad policies → logged with file:line, ruleset byte-identical"
before=$(t_table "$NS")
good=$(cat "$P")
n=2
bad_policies=(
        'input = ( { allow = ["smtp"] } ;'                                   # syntax
        'input = ( { allow = ["no-such-service"]; } );'                     # unknown service
        'options = { icmp = "sometimes"; }; input = ( { allow = "ssh"; } );' # bad value
        'input = ( { allow = "ssh"; from = "198.18.1.5/24"; } );'           # host bits
        'inptu = ( { allow = "ssh"; } );'                                    # unknown key
)
for b in "${bad_policies[@]}"; do
        printf '# bad\n%s\n' "$b" >"$P"
        lines=$(wc -l <"$DLOG")
        kill -HUP "$DPID"
        n=$((n + 1))
        t_wait_ready $n
        t_alive
        tail -n +$((lines + 1)) "$DLOG" | grep -q "$P:[0-9]*: " || die "no FILE:LINE error logged for: $b"
        tail -n +$((lines + 1)) "$DLOG" | grep -q "keeping generation 2" || die "no 'keeping generation 2' for: $b"
        [ "$(t_table "$NS")" = "$before" ] || die "ruleset changed after a bad reload: $b"
        [ "$(prop Generation)" = 2 ] || die "Generation changed after a bad reload"
        case $(prop LastError) in "$P:"[0-9]*": "*) ;; *) die "LastError is '$(prop LastError)'" ;; esac
done
[ "$(prop State)" = applied ] || die "State is $(prop State) after bad reloads"

info "SIGHUP with the policy emptied (or caught half-written) → refused, ruleset byte-identical"
: >"$P"
lines=$(wc -l <"$DLOG")
kill -HUP "$DPID"
n=$((n + 1))
t_wait_ready $n
tail -n +$((lines + 1)) "$DLOG" | grep -q "$P: no input or forward rules" || die "the empty policy is not refused"
[ "$(t_table "$NS")" = "$before" ] || die "ruleset changed after an empty policy"
[ "$(prop Generation)" = 2 ] || die "Generation changed after an empty policy"
[ "$(prop LastError)" = "$P: refused; the journal has the details (journalctl -u postern)" ] ||
        die "LastError is '$(prop LastError)'"

info "LastError says where, never what a file says there (anyone may read it)"
printf '# secret: s3cr3t\n' >"$T_TMP/root-only.txt" && chmod 0600 "$T_TMP/root-only.txt"
ln -s "$T_TMP/root-only.txt" "$T_TMP/list.txt"
printf 'lists = { l = { file = "list.txt"; }; };\ninput = ( { allow = "ssh"; from = "l"; } );\n' >"$P"
printf 's3cr3t-on-line-1\n' >"$T_TMP/root-only.txt"
n=$((n + 1))
kill -HUP "$DPID"
t_wait_ready $n
case $(prop LastError) in
*s3cr3t*) die "LastError discloses file content: $(prop LastError)" ;;
"$T_TMP/list.txt:1: refused; the journal has the details"*) ;;
*) die "LastError is '$(prop LastError)'" ;;
esac
grep -q "list.txt:1: 's3cr3t-on-line-1' is not an address" "$DLOG" || die "the journal lacks the whole error"
rm -f "$T_TMP/list.txt"

info "Reload() over D-Bus: bad → InvalidPolicy, good → generation 3"
out=$(bus call org.postern1 /org/postern1 org.postern1.Manager Reload 2>&1) && die "Reload of a bad policy succeeded"
echo "$out" | grep -q "$P:" || die "Reload error does not name the file: $out"
# what systemctl reload runs (ExecReload=): exit 1, FILE:LINE on stderr (the
# journal), the ruleset byte-identical
printf '# bad\ninput = ( { allow = ["no-such-service"]; } );\n' >"$P"
before=$(t_table_s "$NS")
"$POSTERNCTL" reload >"$T_TMP/reload.out" 2>"$T_TMP/reload.err"
rc=$?
[ $rc = 1 ] || die "posternctl reload of a bad policy: exit status $rc, not 1"
[ -s "$T_TMP/reload.out" ] && die "posternctl reload of a bad policy wrote to stdout: $(cat "$T_TMP/reload.out")"
grep -q "^posternctl reload: $P:2: .*no-such-service" "$T_TMP/reload.err" ||
        die "posternctl reload's stderr does not name $P:2 and the service: $(cat "$T_TMP/reload.err")"
[ "$(t_table_s "$NS")" = "$before" ] || die "ruleset changed after a failed posternctl reload"
echo "posternctl reload of a bad policy: exit 1, $(cat "$T_TMP/reload.err")"
echo "$good" >"$P"
bus call org.postern1 /org/postern1 org.postern1.Manager Reload || die "Reload failed"
[ "$(prop Generation)" = 3 ] || die "Generation $(prop Generation) after Reload"
[ -z "$(prop LastError)" ] || die "LastError not cleared: $(prop LastError)"
"$POSTERNCTL" reload || die "posternctl reload failed"
[ "$(prop Generation)" = 4 ] || die "Generation $(prop Generation) after posternctl reload"
"$POSTERNCTL" status | grep -q "State: applied" || die "posternctl status"
"$POSTERNCTL" --json status | grep -q '"generation": *4' || die "posternctl --json status"

info "posternctl apply through posternd speaks the bus itself (no libsystemd); an address it does not speak: sd-bus"
out=$(nsx "$NS" env LD_DEBUG=files "$POSTERNCTL" apply "$P" 2>&1) || die "posternctl apply through posternd: $out"
echo "$out" | grep -q "^$P: applied through posternd: generation 5$" || die "posternctl apply said: $out"
case $out in *libsystemd*) die "posternctl apply through posternd loaded libsystemd" ;; esac
out=$(DBUS_SYSTEM_BUS_ADDRESS="nosuch:x=1;$BUS" nsx "$NS" env LD_DEBUG=files "$POSTERNCTL" apply "$P" 2>&1) ||
        die "posternctl apply through sd-bus: $out"
echo "$out" | grep -q "^$P: applied through posternd: generation 6$" || die "posternctl apply (sd-bus) said: $out"
case $out in *libsystemd.so.0*) ;; *) die "an address list starting with nosuch: did not go through sd-bus" ;; esac

info "SIGTERM → exit 0, the ruleset stays"
# the owner's name and "flags owner" go with the owner; everything else stays
strip() { sed -e 's/ # progname .*//' -e '/^\tflags /d'; }
before=$(t_table "$NS" | strip)
t_stop
[ "$DRC" = 0 ] || die "exit status $DRC on SIGTERM"
grep -q "STOPPING=1" "$NLOG" || die "no STOPPING=1"
[ "$(t_table "$NS" | strip)" = "$before" ] || die "ruleset changed or vanished after SIGTERM"
"$POSTERNCTL" status >/dev/null 2>&1
[ $? = 3 ] || die "posternctl status without a daemon: exit status not 3"
echo "PASS"
