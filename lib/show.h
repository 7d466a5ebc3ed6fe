/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The live table as users know it: libnftables' listing, with counters. */

#include "diag.h"

/*
 * `nft list table inet <table>` through libnftables (loaded on first use),
 * with counters shown unless PST_SHOW_STATELESS; PST_SHOW_JSON selects nft's
 * JSON output.  -ENOENT (and a diag message) when the table does not exist.
 * *ret_text is malloc()ed.
 */
enum {
        PST_SHOW_JSON = 1 << 0,
        PST_SHOW_STATELESS = 1 << 1,
};
int pst_show_table(const char *table, unsigned flags, struct pst_diag *diag, char **ret_text);
