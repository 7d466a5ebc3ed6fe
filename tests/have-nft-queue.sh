#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Exit 0 when the running kernel takes an nft `queue` statement (nft_queue,
# CONFIG_NFT_QUEUE), 1 when not, 77 when this cannot be asked (no nft, not
# root).  Check mode in a private namespace: nothing is installed anywhere.
# Test-side only: posternd's own probe is lib/kernel-features.c.
command -v nft >/dev/null && [ "$(id -u)" = 0 ] || exit 77
unshare -n nft -c -f - 2>/dev/null <<'NFT'
table inet postern_probe {
	chain c {
		type filter hook forward priority filter; policy accept;
		queue flags bypass to 0
	}
}
NFT
