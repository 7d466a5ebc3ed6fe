/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * IR → nft syntax.  The text is self-contained: it creates the table if it
 * is missing, deletes it and defines it anew, so `nft -f` (or `nft -c -f`)
 * accepts it on any host and installs exactly what our batch installs.
 */

#include <stdio.h>

#include "ir.h"

int pst_render_nft(const struct pst_ruleset *rs, FILE *f);

/* One key of field f as nft writes it ("198.18.0.0/24", "1024-2000", "\"ppp*\""). */
void pst_render_key(FILE *f, enum pst_field field, const uint8_t *first, const uint8_t *last);
