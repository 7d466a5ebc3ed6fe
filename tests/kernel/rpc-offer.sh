#!/bin/bash
# options.rpc_mechanism against what this kernel offers (posternctl probes
# unless --offline; lib/pipeline.c): "auto" compiles the in-kernel rules
# exactly when the probe finds rpc_kernel, never a queue; a mechanism named
# explicitly that the probe did not find is an error at the option's line;
# --offline compiles what the policy says.  Every run in a fresh namespace.
set -u
. "$(dirname "$0")/lib.sh"
require_kernel
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2016
json=$(unshare -n "$CTL" --version --json) || { echo "FAIL: --version --json"; exit 1; }
feat() { printf '%s' "$json" | python3 -c 'import json, sys; print(str(json.load(sys.stdin)["kernel"]["features"][sys.argv[1]]).lower())' "$1"; }
rk=$(feat rpc_kernel) q=$(feat queue)
echo "this kernel: rpc_kernel=$rk queue=$q"
policy() { # policy MECHANISM: a pinhole rule with options.rpc_mechanism on line 2
        printf 'hosts = { exchange = "198.18.2.10"; cag = "198.18.3.5"; };\noptions = { rpc_mechanism = "%s"; };\n' "$1"
        printf 'forward = ( { allow = "msrpc-epmap"; from = "cag"; to = "exchange"; rpc = true; } );\n'
}
compile() { # compile MECHANISM [--offline]: the count of update rules, or the error
        policy "$1" > "$tmp/p.conf"
        if unshare -n "$CTL" compile ${2:-} --catalog "$CATALOG" "$tmp/p.conf" > "$tmp/out" 2> "$tmp/err"; then
                grep -c ' update @rpc_1_v4 ' "$tmp/out"
        else
                sed "s|^$tmp/||" "$tmp/err"
        fi
}
want() { [ "$1" = true ] && echo 2 || echo 0; }
lacks() { echo "p.conf:2: options.rpc_mechanism: this kernel does not offer $1"; }
kernel="reading the endpoint mapper's replies itself (rpc_kernel: a set update keyed by a raw payload load)"
queue="the queue expression (nft_queue, CONFIG_NFT_QUEUE)"
check() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: want '$2', got '$3'"; fi; }

check "auto: in-kernel rules iff rpc_kernel" "$(want "$rk")" "$(compile auto)"
check "log: no in-kernel rules" 0 "$(compile log)"
check "auto --offline: NFLOG only" 0 "$(compile auto --offline)"
check "kernel+log --offline: compiled as asked" 2 "$(compile kernel+log --offline)"
[ "$rk" = true ] && w=2 || w=$(lacks "$kernel")
check "kernel+log" "$w" "$(compile kernel+log)"
[ "$q" = true ] && w=0 || w=$(lacks "$queue")
check "queue" "$w" "$(compile queue)"
if [ "$rk" = true ] && [ "$q" = true ]; then w=2
elif [ "$rk" = true ]; then w=$(lacks "$queue")
elif [ "$q" = true ]; then w=$(lacks "$kernel")
else w=$(lacks "$kernel nor $queue"); fi
check "kernel+queue" "$w" "$(compile kernel+queue)"
exit $failed
