/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Which backend installs the ruleset: nf_tables (nft.h) or legacy iptables
 * (iptc.h, when built with HAVE_IPTC).  The policy's options.backend says
 * which, a command line's --backend overrides it, and "auto" means
 * nf_tables when the kernel has it, else iptables.
 */

#include <stdbool.h>

#include "policy.h"

const char *pst_backend_name(enum pst_backend b);
/* "auto", "nftables", "iptables"; -EINVAL for anything else */
int pst_backend_from_string(const char *s, enum pst_backend *ret);

/* Does the kernel answer nf_tables (NFT_MSG_GETGEN)?  0 if so, else a negative errno. */
int pst_nft_probe(void);

/*
 * AUTO → NFTABLES when pst_nft_probe() succeeds, else IPTABLES (when built
 * with it and legacy iptables works here).  NFTABLES and IPTABLES are
 * returned as they are, except IPTABLES without HAVE_IPTC: -EOPNOTSUPP.
 */
int pst_backend_resolve(enum pst_backend want, enum pst_backend *ret);

/* Was this build made with the iptables backend? */
bool pst_backend_have_iptables(void);
