#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Anti-lockout: run over SSH ($SSH_CONNECTION), `posternctl apply` refuses a
# policy that would drop the connection — exit 1, the exact message, the
# live ruleset byte for byte as it was — and applies it with --force.  In an
# unshare -n namespace with a veth pair (veth0 198.18.0.1/24, 2001:db8::1/64).
set -u
. "$(dirname "$0")/lib.sh"
require_kernel
tmp=$(mktemp -d /tmp/postern-lockout.XXXXXX) || exit 99
trap 'rm -rf "$tmp"' EXIT
cp "$ROOT/conf/postern.conf" "$tmp/ssh.conf"
printf 'input = ();\n' > "$tmp/nossh.conf"
printf 'input = ( { allow = "ssh"; from = "198.18.9.0/24"; } );\n' > "$tmp/admins.conf"
printf 'options = { ipv6 = false; };\ninput = ( { allow = "ssh"; } );\n' > "$tmp/v4only.conf"

unshare -n bash -c '
        ctl=$1 cat=$2 dir=$3 failed=0
        fail() { echo "FAIL: $*"; failed=1; }
        ok() { echo "ok: $*"; }
        ip link set lo up && ip link add veth0 type veth peer name veth1 &&
                ip link set veth0 up && ip link set veth1 up &&
                ip addr add 198.18.0.1/24 dev veth0 && ip addr add 2001:db8::1/64 dev veth0 nodad || exit 99
        apply() { "$ctl" apply --catalog "$cat" "$@"; }
        # refused SSH_CONNECTION POLICY EXPECTED-MESSAGE: exit 1, that message, nothing changed
        refused() {
                local before after err rc
                before=$(nft list ruleset)
                err=$(SSH_CONNECTION=$1 apply "$dir/$2" 2>&1 >/dev/null); rc=$?
                after=$(nft list ruleset)
                [ $rc = 1 ] || fail "SSH_CONNECTION=\"$1\" apply $2: exit $rc, expected 1"
                [ "$err" = "$3" ] || fail "SSH_CONNECTION=\"$1\" apply $2: message differs:
$err
expected:
$3"
                [ "$after" = "$before" ] || fail "SSH_CONNECTION=\"$1\" apply $2: the ruleset changed"
                [ $rc = 1 ] && [ "$err" = "$3" ] && [ "$after" = "$before" ] && ok "refused: $1, $2"
        }

        apply "$dir/ssh.conf" >/dev/null || exit 1
        SSH_CONNECTION="198.18.0.5 50122 198.18.0.1 22" apply "$dir/ssh.conf" >/dev/null ||
                fail "a policy with ssh is refused"
        with_ssh=$(nft list ruleset)

        refused "198.18.0.5 50122 198.18.0.1 22" nossh.conf \
                "your SSH connection 198.18.0.5 port 50122 → 198.18.0.1 port 22 (via veth0) would be dropped by the new policy: no rule in input accepts tcp/22 from 198.18.0.5; use --force to apply it anyway"
        refused "2001:db8::5 50122 2001:db8::1 22" nossh.conf \
                "your SSH connection 2001:db8::5 port 50122 → 2001:db8::1 port 22 (via veth0) would be dropped by the new policy: no rule in input accepts tcp/22 from 2001:db8::5; use --force to apply it anyway"
        # ssh from the admins only: this client is not one
        refused "198.18.0.5 50122 198.18.0.1 22" admins.conf \
                "your SSH connection 198.18.0.5 port 50122 → 198.18.0.1 port 22 (via veth0) would be dropped by the new policy: no rule in input accepts tcp/22 from 198.18.0.5; use --force to apply it anyway"
        # sshd on another port: the packet is the one to that port
        refused "198.18.0.5 50122 198.18.0.1 2222" ssh.conf \
                "your SSH connection 198.18.0.5 port 50122 → 198.18.0.1 port 2222 (via veth0) would be dropped by the new policy: no rule in input accepts tcp/2222 from 198.18.0.5; use --force to apply it anyway"
        # IPv6 off: the built-in rule that drops it is named, and why
        refused "2001:db8::5 50122 2001:db8::1 22" v4only.conf \
                "your SSH connection 2001:db8::5 port 50122 → 2001:db8::1 port 22 (via veth0) would be dropped by the new policy: rule 3 of chain input (built in) drops all IPv6 (the policy says options.ipv6 = false); use --force to apply it anyway"
        refused "198.18.0.5 50122 198.18.0.1" nossh.conf \
                "SSH_CONNECTION \"198.18.0.5 50122 198.18.0.1\" has 3 fields: expected \"CLIENT_IP CLIENT_PORT SERVER_IP SERVER_PORT\""
        refused "198.18.0.5 50122 198.18.0.300 22" nossh.conf \
                "SSH_CONNECTION \"198.18.0.5 50122 198.18.0.300 22\": the server address \"198.18.0.300\" is not an IPv4 or IPv6 address"
        refused "198.18.0.5 0 198.18.0.1 22" nossh.conf \
                "SSH_CONNECTION \"198.18.0.5 0 198.18.0.1 22\": the client port \"0\" is not a port number 1..65535"

        # under sudo (env_reset drops SSH_CONNECTION): found in the parent'"'"'s environment
        before=$(nft list ruleset)
        err=$(SSH_CONNECTION="198.18.0.5 50122 198.18.0.1 22" bash -c '"'"'env -u SSH_CONNECTION "$@"; rc=$?; exit $rc'"'"' \
                sudo "$ctl" apply --catalog "$cat" "$dir/nossh.conf" 2>&1 >/dev/null); rc=$?
        want="your SSH connection 198.18.0.5 port 50122 → 198.18.0.1 port 22 (via veth0) would be dropped by the new policy: no rule in input accepts tcp/22 from 198.18.0.5; use --force to apply it anyway"
        if [ $rc = 1 ] && [ "$err" = "$want" ] && [ "$(nft list ruleset)" = "$before" ]; then
                ok "refused with SSH_CONNECTION in the parent only (sudo)"
        else
                fail "SSH_CONNECTION in the parent only: exit $rc: $err"
        fi
        # the admins are let in by admins.conf
        SSH_CONNECTION="198.18.9.7 50122 198.18.0.1 22" apply "$dir/admins.conf" >/dev/null &&
                ok "an admin keeps the connection: applied" || fail "admins.conf refused for an admin"
        apply "$dir/ssh.conf" >/dev/null || exit 1
        # from the host itself (over lo) nothing is cut
        SSH_CONNECTION="127.0.0.1 50122 127.0.0.1 22" apply "$dir/nossh.conf" >/dev/null &&
                ok "over lo: applied" || fail "nossh.conf refused over lo"
        apply "$dir/ssh.conf" >/dev/null || exit 1
        # to an address this namespace does not hold: the connection ends elsewhere
        SSH_CONNECTION="198.18.0.5 50122 198.18.7.1 22" apply "$dir/nossh.conf" >/dev/null &&
                ok "a connection to another host'"'"'s address: applied" ||
                fail "nossh.conf refused for a connection that does not end here"
        apply "$dir/ssh.conf" >/dev/null || exit 1
        # without SSH_CONNECTION: not over SSH
        env -u SSH_CONNECTION "$ctl" apply --catalog "$cat" "$dir/nossh.conf" >/dev/null &&
                ok "not over SSH: applied" || fail "nossh.conf refused without SSH_CONNECTION"
        apply "$dir/ssh.conf" >/dev/null || exit 1
        [ "$(nft list ruleset)" = "$with_ssh" ] || fail "ssh.conf re-applied lists differently"

        # --force: applied, and the ruleset is the one without ssh
        SSH_CONNECTION="198.18.0.5 50122 198.18.0.1 22" apply --force "$dir/nossh.conf" >/dev/null ||
                fail "--force: refused"
        if nft list ruleset | grep -q "dport 22"; then fail "--force: ssh still open"; else ok "--force: applied"; fi
        exit $failed
' lockout "$CTL" "$CATALOG" "$tmp"
