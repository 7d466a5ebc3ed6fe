#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vm step after iptables-cold: load what iptables-legacy(8) loads on first
# use (ip_tables, ip6_tables, their filter tables) and what ipset(8) loads
# (ip_set), as on a host where anything has used them since boot, so the
# iptables tests that follow test the backend's rules, not module loading
# (that is iptables-cold).  Without ip_set loaded, postern's SO_IP_SET probe
# fails and the backend silently compiles sets to rules instead.
set -u
rc=0
for m in ip_tables iptable_filter ip6_tables ip6table_filter ip_set; do
        modprobe -d /run/vm/kernel "$m" || { echo "modprobe $m failed"; rc=1; }
done
grep -E '^(ip_tables|ip6_tables|iptable_filter|ip6table_filter|ip_set) ' /proc/modules
exit $rc
