#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# nat.sh through posternd --backend iptables: table nat's DNAT matches the
# ipset behind "(ppp0)", a reconnect swaps that ipset only.
NAT_BACKEND=iptables . "$(dirname "$0")/nat.sh"
