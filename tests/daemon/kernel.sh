#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# What the kernel offers, as posternd and posternctl status report it
# (lib/kernel-features.h): posternd writes one start-up entry with the
# kernel's features, from a child process after its first apply (READY=1
# does not wait for it, nor does D-Bus); posternctl status has a kernel
# section in text and JSON; the probe child is gone once posternd stops.
. "$(dirname "$0")/lib.sh"
t_require
NS=$(t_netns kernel)
t_bus_start
t_notify_start
t_daemon "$NS" --policy "$T_SRC/conf/postern.conf"
t_wait_ready 1
t_wait_name org.postern1 || die "org.postern1 not on the bus"
[ "$(prop State)" = applied ] || die "State is $(prop State)"

info "one start-up line with the kernel's features, after the first apply"
line="^posternd: Linux $(uname -r): nf_tables has inet_filter meta payload ct_state verdict_map interval_set concat concat_interval counter limit log "
t_wait_count "$DLOG" "$line" 1 60 || die "no start-up line with the kernel's features: $(grep 'nf_tables' "$DLOG")"
[ "$(grep -c -e "$line" "$DLOG")" = 1 ] || die "more than one start-up feature line"
[ "$(grep -n -e "$line" "$DLOG" | cut -d: -f1)" -gt "$(grep -n '^posternd: applied ' "$DLOG" | head -1 | cut -d: -f1)" ] ||
        die "the feature line came before the first apply"

info "posternctl status: the kernel section, text and JSON"
st=$(nsx "$NS" "$POSTERNCTL" status) || die "posternctl status failed"
echo "$st" | grep -q "^Kernel: Linux $(uname -r), supported (oldest supported: 5.10)$" || die "status: no kernel section: $st"
echo "$st" | grep -qE "^  concat_interval +yes +5\.6 +yes " || die "status: no concat_interval line: $st"
js=$(nsx "$NS" "$POSTERNCTL" --json status) || die "posternctl --json status failed"
echo "$js" | grep -q '"state":"applied".*"kernel":{"release":"'"$(uname -r)"'","oldest_supported":"5.10","supported":true' ||
        die "status --json: no kernel object: $js"

info "SIGTERM: posternd and its probe child are gone"
t_stop
[ "$DRC" = 0 ] || die "exit status $DRC on SIGTERM"
left=$(pgrep -f "^$POSTERND " | tr '\n' ' ')
[ -z "$left" ] || die "processes of posternd left: $left"
echo "PASS"
