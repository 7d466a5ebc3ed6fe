#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vm/systemd, step 2: run by systemd itself (postern-vm-check.service, after
# postern.service), with systemd as PID 1, journald and the system D-Bus.
# Asserts the unit's life cycle (README, "The service"), writes the log and
# "EXIT SECONDS" to SCRATCH/results/N.log and N.rc like every vm check, and
# powers the guest off.  postern.service runs in the guest's initial network
# namespace, as on a real host: the guest is a throwaway VM without a NIC.
#   check.sh SCRATCH N POLICY SBINDIR
set -u
S=$1 N=$2 POLICY=$3 SBIN=$4
R=$S/results

if [ "${5:-}" != --steps ]; then
        mkdir -p "$R"
        read -r up _ </proc/uptime
        echo "$(uname -r) $up" >"$S/started-systemd"
        echo "postern-vm: systemd up after ${up}s, running vm/systemd" >/dev/console
        t0=$(date +%s%N)
        timeout -k 5 280 /bin/bash "$0" "$@" --steps >"$R/$N.log" 2>&1
        rc=$?
        t1=$(date +%s%N)
        printf '%s %d.%03d\n' "$rc" $(((t1 - t0) / 1000000000)) $((((t1 - t0) / 1000000) % 1000)) >"$R/$N.rc"
        echo "postern-vm: vm/systemd exit $rc" >/dev/console
        sync
        systemctl poweroff -ff
        exit 0
fi

T=/run/postern-vm-check
mkdir -p "$T"
journal() { journalctl -u postern.service --no-pager -o cat "$@"; }
die() {
        echo "FAIL: $*"
        echo "--- systemctl status postern"
        systemctl status --no-pager -n 0 postern 2>&1
        echo "--- journalctl -u postern (tail)"
        journal -n 40
        exit 1
}
tbl() { nft -s list table inet postern 2>/dev/null; }
prop() { systemctl show -P "$1" postern.service; }
# wait_journal PATTERN: journald may file a line a moment after it was written
wait_journal() {
        for _ in $(seq 1 40); do
                journal | grep -q -e "$1" && return 0
                sleep 0.25
        done
        return 1
}
# wait_active: after a start or restart, until systemd says active (bounded)
wait_active() {
        local st
        for _ in $(seq 1 120); do
                st=$(systemctl is-active postern.service)
                case $st in active) return 0 ;; failed) break ;; esac
                sleep 0.25
        done
        die "postern.service is $st, not active"
}

echo "== started by systemd $(systemctl --version | head -1 | cut -d' ' -f2) as PID 1: Type=notify, READY=1"
[ "$(cat /proc/1/comm)" = systemd ] || die "PID 1 is $(cat /proc/1/comm), not systemd"
wait_active
[ "$(prop Type)" = notify ] || die "Type=$(prop Type)"
case $(prop StatusText) in "applied: generation 1, "*) ;; *) die "StatusText is '$(prop StatusText)'" ;; esac
tbl | grep -q 'tcp dport 22 ' || die "no table inet postern with the default policy's ssh rule"
busctl get-property org.postern1 /org/postern1 org.postern1.Manager State | grep -qx 's "applied"' ||
        die "org.postern1 on the system bus does not say applied"
pid1=$(prop MainPID)
echo "ok: active, $(prop StatusText), MainPID $pid1"

echo "== systemctl reload with a broken policy: fails, the journal names FILE:LINE, ruleset byte-identical"
cp "$POLICY" "$T/default.conf"
before=$(tbl)
printf '# broken on purpose\ninput = ( { allow = ["no-such-service"]; } );\n' >"$POLICY"
systemctl reload postern.service 2>"$T/reload.err"
rc=$?
[ $rc != 0 ] || die "systemctl reload with a broken policy exited 0"
wait_journal "^posternctl reload: $POLICY:2: unknown service 'no-such-service'" ||
        die "the journal has no 'posternctl reload: $POLICY:2: ...' line"
[ "$(tbl)" = "$before" ] || die "the broken reload changed the ruleset"
[ "$(systemctl is-active postern.service)" = active ] || die "postern.service is not active after the failed reload"
[ "$(prop MainPID)" = "$pid1" ] || die "MainPID changed on a failed reload"
case $(prop ExecReload) in *"path=$SBIN/posternctl ; argv[]=$SBIN/posternctl reload ;"*) ;;
*) die "ExecReload is not $SBIN/posternctl reload: $(prop ExecReload)" ;; esac
echo "ok: exit $rc ($(head -1 "$T/reload.err")); journal: $(journal | grep -m1 "^posternctl reload: $POLICY:2:")"

echo "== systemctl reload with a good changed policy: succeeds, the ruleset changes"
printf 'input = (\n  { allow = "ssh"; },\n  { allow = "smtp"; comment = "vm-systemd"; }\n);\n' >"$POLICY"
systemctl reload postern.service || die "systemctl reload with a good policy failed"
tbl | grep -q 'tcp dport 25 .*vm-systemd' || die "the reloaded rule (smtp) is not installed"
[ "$(tbl)" != "$before" ] || die "the ruleset did not change"
case $(prop StatusText) in "applied: generation 2, "*) ;; *) die "StatusText is '$(prop StatusText)'" ;; esac
echo "ok: $(prop StatusText)"

echo "== systemctl stop: the ruleset stays"
before=$(tbl)
systemctl stop postern.service || die "systemctl stop failed"
[ "$(systemctl is-active postern.service)" = inactive ] || die "postern.service is $(systemctl is-active postern.service) after stop"
[ "$(tbl)" = "$before" ] || die "systemctl stop changed or removed the ruleset"
echo "ok: inactive, table inet postern as it was"

echo "== systemctl kill -s KILL: Restart=on-failure brings it back, the host closed throughout"
systemctl start postern.service || die "systemctl start failed"
wait_active
pid2=$(prop MainPID)
# a poller of its own, as fast as nft runs here (one sample per exec), from
# before the kill until posternd is back; bounded (600 samples)
poll() {
        local o
        for _ in $(seq 1 600); do
                [ -e "$T/stop" ] && break
                o=$(nft list chain inet postern input 2>&1)
                case $o in
                *"policy drop;"*) echo "$(date +%s%N) closed" ;;
                *) echo "$(date +%s%N) OPEN $(echo "$o" | head -2 | tr '\n' ' ')" ;;
                esac
        done
}
poll >"$T/polls" &
poller=$!
for _ in $(seq 1 100); do [ -s "$T/polls" ] && break; sleep 0.1; done
t0=$(date +%s%N)
systemctl kill -s KILL postern.service || die "systemctl kill failed"
back=""
for _ in $(seq 1 200); do
        p=$(prop MainPID)
        if [ "$(systemctl is-active postern.service)" = active ] && [ "$p" != 0 ] && [ "$p" != "$pid2" ]; then
                back=$p
                break
        fi
        sleep 0.1
done
t1=$(date +%s%N)
touch "$T/stop"
wait "$poller"
rm -f "$T/stop"
[ -n "$back" ] || die "postern.service not back within 200 looks after kill -9"
grep -v ' closed$' "$T/polls" && die "the input chain was not 'policy drop' at some sample after kill -9 (above)"
gap=$(awk -v a="$t0" -v b="$t1" '$1 >= a && $1 <= b' "$T/polls" | wc -l)
[ "$gap" -ge 1 ] || die "no sample of the table between the kill and the restart"
[ "$(prop NRestarts)" -ge 1 ] || die "NRestarts is $(prop NRestarts)"
tbl | grep -q 'tcp dport 25 .*vm-systemd' || die "after the restart the policy's rules are missing"
case $(prop StatusText) in "applied: "*) ;; *) die "StatusText after the restart is '$(prop StatusText)'" ;; esac
echo "ok: MainPID $pid2 → $back, NRestarts $(prop NRestarts)"
echo "figure: kill -9 → active again in $(((t1 - t0) / 1000000)) ms; $gap samples of the input chain in the gap ($(wc -l <"$T/polls") in all), every one 'policy drop'"

echo "== the iptables backend under the unit (the README's drop-in loads ip_tables/ip6_tables)"
mods=$(for m in ip_tables ip6_tables; do [ -d /sys/module/$m ] && echo "$m"; done)
echo "before the drop-in: of ip_tables and ip6_tables loaded: $(echo ${mods:-none})"
printf 'options = { backend = "iptables"; };\ninput = (\n  { allow = "ssh"; },\n  { allow = "smtp"; comment = "vm-systemd"; }\n);\n' >"$POLICY"
mkdir -p /etc/systemd/system/postern.service.d
sed -n 's/^#   \(\[Service\]\|ExecStartPre=.*\)$/\1/p' /etc/systemd/system/postern.service \
        >/etc/systemd/system/postern.service.d/iptables.conf
grep -q '^ExecStartPre=+' /etc/systemd/system/postern.service.d/iptables.conf || die "the unit's comment has no drop-in"
systemctl daemon-reload
systemctl restart postern.service || die "systemctl restart with the iptables backend failed"
wait_active
case $(prop StatusText) in "applied: "*) ;; *) die "StatusText is '$(prop StatusText)'" ;; esac
for m in ip_tables ip6_tables; do [ -d /sys/module/$m ] || die "$m is not loaded after the drop-in's ExecStartPre"; done
rule='-A INPUT -p tcp -m tcp --dport 25 -m comment --comment vm-systemd -j ACCEPT'
for f in iptables ip6tables; do
        "$f-legacy-save" -t filter >"$T/$f.save" 2>&1 || die "$f-legacy-save failed: $(cat "$T/$f.save")"
        grep -qxF -- "$rule" "$T/$f.save" || { cat "$T/$f.save"; die "$f-legacy-save lacks: $rule"; }
        grep -q '^:INPUT DROP ' "$T/$f.save" || { cat "$T/$f.save"; die "$f-legacy-save: INPUT is not DROP"; }
done
echo "ok: iptables-legacy-save and ip6tables-legacy-save show the policy ($(grep -c '^-A' "$T/iptables.save") + $(grep -c '^-A' "$T/ip6tables.save") rules), INPUT DROP"

systemctl stop postern.service
rm -rf "$T"
echo "PASS"
