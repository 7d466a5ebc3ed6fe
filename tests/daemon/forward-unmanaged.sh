#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# posternd with options.forward = "unmanaged" next to a Docker-style
# iptables-nft table: our table has no forward chain, the log says so,
# Docker's table stays; a reload that adds a forward rule is refused with
# its file:line and leaves both tables byte-identical; a reload back to
# forward = "managed" installs the forward chain again.
. "$(dirname "$0")/lib.sh"
t_require
NS=$(t_netns fwd)
t_notify_start
P=$T_TMP/postern.conf
docker='table ip filter {
	chain FORWARD {
		type filter hook forward priority filter; policy drop;
		iifname "docker0" oifname != "docker0" accept
	}
}'
echo "$docker" | nsx "$NS" nft -f - || die "cannot install the Docker-style table"
theirs() { nsx "$NS" nft -s list table ip filter; }
before_theirs=$(theirs)
cat >"$P" <<'POLICY'
options = { forward = "unmanaged"; };
zones = { docker = { interfaces = ["docker0", "br-+"]; trusted = true; }; };
input = ( { allow = "ssh"; } );
POLICY

info "start: no forward chain, said in the log"
t_daemon "$NS" --policy "$P" --no-bus
t_wait_ready 1
ours=$(t_table_s "$NS")
[ -n "$ours" ] || die "no table inet postern"
grep -q 'hook input' <<<"$ours" || { echo "$ours"; die "no input chain"; }
grep -q 'hook forward' <<<"$ours" && { echo "$ours"; die "a forward chain with forward = unmanaged"; }
grep -q 'applied .*; forwarding unmanaged (no forward chain)$' "$DLOG" || { cat "$DLOG"; die "the log does not say unmanaged"; }
[ "$(theirs)" = "$before_theirs" ] || die "Docker's table changed"

info "SIGHUP with a forward rule: refused at its line, both tables unchanged"
good=$(cat "$P")
printf '%s\nforward = ( { allow = "all"; from = "docker"; } );\n' "$good" >"$P"
kill -HUP "$DPID"
t_wait_ready 2
grep -q 'postern.conf:4: a forward rule, but options.forward = "unmanaged"' "$DLOG" ||
        { cat "$DLOG"; die "no file:line error logged"; }
[ "$(t_table_s "$NS")" = "$ours" ] || die "a refused reload changed our table"
[ "$(theirs)" = "$before_theirs" ] || die "a refused reload changed Docker's table"
t_alive

info "SIGHUP with forward managed: the forward chain is back"
sed '1d' <<<"$good" >"$P"
kill -HUP "$DPID"
t_wait_ready 3
t_table_s "$NS" | grep -q 'hook forward' || { t_table_s "$NS"; die "no forward chain after forward = managed"; }
[ "$(theirs)" = "$before_theirs" ] || die "Docker's table changed"
t_stop
[ "$DRC" = 0 ] || die "exit status $DRC"
echo "ok"
