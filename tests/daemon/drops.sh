#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# posternctl drops (issue 16, part 1): a client namespace probes closed
# ports of the server namespace through zone wan; posternd reads the NFLOG
# group, and posternctl drops reports the exact count, zone and sources,
# what listens on the port (a real socket in the server namespace, found by
# sock_diag, named from /proc) and the rule to add.  Then a flood of distinct
# IPv6 sources against a table of 64 entries: the table stays at 64, the
# entry with many drops survives, and the report says what it left out.
# Last, posternd --backend iptables in a new pair of namespaces: -j NFLOG
# feeds the same report.
. "$(dirname "$0")/lib.sh"
t_require
# pair NAME: server NS and client NC joined by wan0 / cli0
pair() {
        NS=$(t_netns "$1")
        NC=$(t_netns "$1"c)
        ip link add wan0 netns "$NS" type veth peer name cli0 netns "$NC" || die "veth"
        nsx "$NS" ip addr add 198.18.0.1/24 dev wan0
        nsx "$NC" ip addr add 198.18.0.2/24 dev cli0
        nsx "$NS" ip addr add 2001:db8:16::1/64 dev wan0 nodad
        nsx "$NC" ip addr add 2001:db8:16::2/64 dev cli0 nodad
        nsx "$NS" ip link set wan0 up
        nsx "$NC" ip link set cli0 up
        nsx "$NS" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.wan0.rp_filter=0
        nsx "$NC" ip -6 route add 2001:db8::/32 dev cli0
        # static neighbours: under load an ARP answer can take longer than a
        # probe waits, and a SYN still waiting for one goes with its socket
        nsx "$NC" ip neigh replace 198.18.0.1 lladdr "$(nsx "$NS" cat /sys/class/net/wan0/address)" dev cli0
        nsx "$NS" ip neigh replace 198.18.0.2 lladdr "$(nsx "$NC" cat /sys/class/net/cli0/address)" dev wan0
}
# probe PORT N: N SYNs from the client, one per connect: it gives up after
# 0.2 s, before the first retransmission (1 s)
probe() {
        nsx "$NC" "$PY" -c '
import socket, sys
for i in range(int(sys.argv[2])):
    s = socket.socket(); s.settimeout(0.2)
    try: s.connect(("198.18.0.1", int(sys.argv[1])))
    except OSError: pass
    s.close()' "$1" "$2" || die "probe $1"
}
pair drops
t_bus_start
t_notify_start
P=$T_TMP/postern.conf
cat >"$P" <<'CONF'
options = { ipv6 = true; log_drops = true; log_rate = 10000; };
zones = { wan = { interfaces = ["wan0"]; }; };
input = ( { allow = "ssh"; from = "wan"; } );
CONF

# a listener on 993 in the server namespace, one that only the policy keeps out
ip netns exec "$NS" "$PY" -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 993)); s.listen(); time.sleep(80)' &
T_PIDS+=($!)
POSTERN_DROPS_ENTRIES=64 t_daemon "$NS" --policy "$P"
t_wait_ready 1
t_wait_name org.postern1 || die "no bus name"
t_wait_count "$DLOG" "reading dropped packets from NFLOG group" 1 5 || die "posternd does not read the group"

info "probes: 12 SYNs to tcp/993, 3 to tcp/23, from 198.18.0.2 through wan0"
probe 993 12
probe 23 3
want() { # the text, seconds normalised
        cat <<'TXT'
tcp/993 (imaps): 12 drops from zone wan, 1 source, last N s ago — python3 listens on *:993 — add: { allow = "imaps"; from = "wan"; }
tcp/23: 3 drops from zone wan, 1 source, last N s ago — nothing listens on it
TXT
}
got() { nsx "$NS" "$POSTERNCTL" --catalog "$CATALOG" drops "$@" | sed -E 's/last [0-9]+ s ago/last N s ago/'; }
for i in $(seq 1 50); do [ "$(got)" = "$(want)" ] && break; sleep 0.1; done
diff -u <(want) <(got) || die "posternctl drops output"
nsx "$NS" "$POSTERNCTL" --catalog "$CATALOG" drops >/dev/null 2>"$T_TMP/err" || die "drops: exit $?: $(cat "$T_TMP/err")"
[ -s "$T_TMP/err" ] && die "drops: stderr: $(cat "$T_TMP/err")"
info "posternctl metrics: the same counts as postern_drops_total, valid exposition format"
nsx "$NS" "$POSTERNCTL" metrics >"$T_TMP/metrics" || die "posternctl metrics failed"
"$PY" "$T_HERE/expo-check.py" "$T_TMP/metrics" >"$T_TMP/samples" || die "posternctl metrics: not valid exposition format"
diff -u <(printf '%s\n' 'postern_drops_total{zone="wan",protocol="tcp",port="993"} 12' \
                'postern_drops_total{zone="wan",protocol="tcp",port="23"} 3') \
        <(grep '^postern_drops_total' "$T_TMP/samples") || die "posternctl metrics: other drop samples"
info "--json: the same, exactly"
nsx "$NS" "$POSTERNCTL" --catalog "$CATALOG" drops --json >"$T_TMP/drops.json" || die "drops --json"
"$PY" - "$T_TMP/drops.json" <<'PYEOF' || { cat "$T_TMP/drops.json"; die "drops --json content"; }
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] and d["total"] == 15 and d["evicted"] == 0 and d["lost"] == 0, d
r = d["drops"][0]
want = {"what": "tcp/993", "service": "imaps", "zone": "wan", "drops": 12, "sources": 1, "prefixes": 1,
        "top_prefix": "198.18.0.0/24", "listeners": "python3 listens on *:993",
        "suggestion": '{ allow = "imaps"; from = "wan"; }'}
for k, v in want.items():
    assert r[k] == v, (k, r[k], v)
assert r["first_seen_usec"] <= r["last_seen_usec"]
assert d["drops"][1]["what"] == "tcp/23" and d["drops"][1]["suggestion"] is None, d["drops"][1]
PYEOF
info "--since: a window after the probes holds none of them"
sleep 2.2
[ "$(nsx "$NS" "$POSTERNCTL" --catalog "$CATALOG" drops --since 2s)" = "no drops logged in that time (posternd logs them with options.log_drops = true)" ] ||
        die "--since 2s: $(nsx "$NS" "$POSTERNCTL" --catalog "$CATALOG" drops --since 2s)"
nsx "$NS" "$POSTERNCTL" --catalog "$CATALOG" drops --since 1x 2>"$T_TMP/err"; rc=$?
[ $rc = 4 ] && grep -q "^posternctl: --since '1x': expected a duration" "$T_TMP/err" || die "--since 1x: $rc $(cat "$T_TMP/err")"
grep -q "MESSAGE=dropped tcp/993 from 198.18.0.2 in zone wan\|dropped tcp/993 from 198.18.0.2 in zone wan" "$DLOG" ||
        die "no journal line for the drop"
[ "$(grep -c "dropped tcp/" "$DLOG")" -le 10 ] || die "more than 10 journal lines a minute"

info "flood: 300 distinct IPv6 /64 sources to udp/5000, paced under the limit, into a table of 64"
nsx "$NC" "$PY" - <<'PYEOF' || die "flood"
import socket, struct, time
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
dst = socket.inet_pton(socket.AF_INET6, "2001:db8:16::1")
for i in range(300):
    src = socket.inet_pton(socket.AF_INET6, "2001:db8:%x::5" % (0x1000 + i))
    udp = struct.pack("!HHHH", 40000, 5000, 8, 0)  # checksum 0: dropped before anyone checks it
    ip6 = struct.pack("!IHBB", 6 << 28, len(udp), 17, 64) + src + dst
    s.sendto(ip6 + udp, ("2001:db8:16::1", 0))
    time.sleep(0.007)  # 10000/minute is one per 6 ms
PYEOF
for i in $(seq 1 50); do
        nsx "$NS" "$POSTERNCTL" --catalog "$CATALOG" drops --json >"$T_TMP/flood.json" && grep -q '"evicted": [1-9]' "$T_TMP/flood.json" && break
        sleep 0.1
done
"$PY" - "$T_TMP/flood.json" <<'PYEOF' || { cat "$T_TMP/flood.json"; die "flood: table not bounded"; }
import json, sys
d = json.load(open(sys.argv[1]))
rows = {r["what"]: r for r in d["drops"]}
assert sum(r["prefixes"] for r in d["drops"]) == 64, sum(r["prefixes"] for r in d["drops"])
assert rows["tcp/993"]["drops"] == 12 and rows["tcp/23"]["drops"] == 3, rows
# what the kernel let through, all of it counted: shown or evicted
assert d["total"] == 15 + rows["udp/5000"]["drops"] + d["evicted"], d
assert d["evicted"] > 0 and rows["udp/5000"]["prefixes"] == 62
PYEOF
nsx "$NS" "$POSTERNCTL" --catalog "$CATALOG" drops | tail -1 | grep -q "more drops are not shown: the table was full" || die "text: no eviction note"
t_alive
t_stop
[ "$DRC" = 0 ] || die "posternd exited with $DRC"

if command -v iptables-legacy-save >/dev/null && "$POSTERND" --backend iptables --help >/dev/null 2>&1; then
        info "--backend iptables: -j NFLOG, the same report"
        pair dropsi
        ready=$(grep -c "READY=1" "$NLOG")
        t_daemon "$NS" --policy "$P" --backend iptables
        t_wait_ready $((ready + 1))
        t_wait_count "$DLOG" "reading dropped packets from NFLOG group" 2 5 || die "iptables: the group is not read"
        nsx "$NS" iptables-legacy-save -t filter | grep -q -- '-A postern-log-wan .*-j NFLOG --nflog-prefix "postern drop: wan" --nflog-group 5016 --nflog-size 128' ||
                die "iptables: no NFLOG rule in postern-log-wan"
        probe 993 4
        w='tcp/993 (imaps): 4 drops from zone wan, 1 source, last N s ago — nothing listens on it'
        for i in $(seq 1 50); do [ "$(got)" = "$w" ] && break; sleep 0.1; done
        [ "$(got)" = "$w" ] || die "iptables: drops: $(got)"
        t_stop
        [ "$DRC" = 0 ] || die "posternd (iptables) exited with $DRC"
else
        info "(no iptables-legacy or no iptables backend: that part skipped)"
fi
echo "PASS"
