#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vm check, run first in a freshly booted guest: the stock kernel has
# ip_tables, ip6_tables and the filter tables as modules, none loaded yet
# (as on a Debian host at boot, before anything used iptables).  postern's
# iptables backend must install the default policy by itself — iptables(8)
# would load the modules through /proc/sys/kernel/modprobe; libiptc does not.
set -u
CTL=${POSTERNCTL:?} CATALOG=${POSTERN_CATALOG:?} ROOT=${POSTERN_SOURCE_ROOT:?}
mods='^(x_tables|ip_tables|ip6_tables|iptable_filter|ip6table_filter) '
echo "loaded before: $(grep -E "$mods" /proc/modules | cut -d' ' -f1 | tr '\n' ' ')"
out=$(unshare -n "$CTL" apply --offline --backend iptables --catalog "$CATALOG" "$ROOT/conf/postern.conf" 2>&1)
rc=$?
echo "posternctl apply --backend iptables: exit $rc"
[ -n "$out" ] && echo "$out"
echo "loaded after: $(grep -E "$mods" /proc/modules | cut -d' ' -f1 | tr '\n' ' ')"
exit $rc
