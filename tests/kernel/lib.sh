# Shared by the kernel suite's shell tests.  Every kernel-touching command
# runs inside `unshare -n`: a private, empty network namespace per command
# group, gone when it exits.
ROOT=${POSTERN_SOURCE_ROOT:?}
CTL=${POSTERNCTL:?}
CATALOG=${POSTERN_CATALOG:-$ROOT/conf/services.conf}

require_kernel() {
        if [ "$(id -u)" != 0 ]; then
                echo "skipped: needs root for unshare -n and nf_tables"
                exit 77
        fi
        if ! command -v nft >/dev/null 2>&1 || ! unshare -n nft list ruleset >/dev/null 2>&1; then
                echo "skipped: no nft, no network namespaces or no nf_tables in this kernel"
                exit 77
        fi
}

failed=0
fail() { echo "FAIL: $*"; failed=1; }
ok() { echo "ok: $*"; }

# The interface addresses the golden files were made with.
IFADDRS="--ifaddr eth0=198.18.0.1 --ifaddr eth0=2001:db8::1 --ifaddr ppp0=198.18.0.1 --ifaddr ppp0=2001:db8::1"
