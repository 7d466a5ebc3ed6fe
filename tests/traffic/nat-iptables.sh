# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by a nat-*.sh test for POSTERN_BACKEND=iptables: the iptables
# backend writes no nat table, so it must refuse the policy — each NAT
# statement at its line, exit status 2 — and leave the host as it was.
topo_require
x ip netns exec "$NS_HUT" iptables-legacy -P INPUT ACCEPT
if out=$(nsx hut "$POSTERNCTL" apply --backend iptables --catalog "$POSTERN_CATALOG" "$CONF" 2>&1); then
        echo "$out"
        die "the iptables backend applied a NAT policy"
fi
echo "$out"
n_want=$(grep -c "{ \(masquerade\|snat\|forward\) = {" "$CONF")
n_got=$(echo "$out" | grep -c "iptables backend: .* is not supported (it writes no nat table)")
[ "$n_got" = "$n_want" ] || die "expected $n_want NAT refusals, got $n_got"
fw_present && die "a firewall is in place after the refusal"
echo "== the iptables backend refuses the NAT policy ($n_got statements) and leaves the host as it was"
exit 0
