/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Comparing compiled rulesets in the unit tests: the nft text of one, and
 * two rulesets' named sets element for element.  Include after <cmocka.h>.
 */
#include <stdio.h>

#include "ir.h"
#include "render.h"

/* rs as nft text (to free). */
static inline char *render_text(const struct pst_ruleset *rs) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        assert_non_null(f);
        assert_int_equal(pst_render_nft(rs, f), 0);
        fclose(f);
        return text;
}

/* The same sets, in the same order, with the same elements byte for byte. */
static inline void assert_same_set_elems(const struct pst_ruleset *x, const struct pst_ruleset *y) {
        assert_int_equal(x->nsets, y->nsets);
        for (size_t i = 0; i < x->nsets; i++) {
                assert_string_equal(x->sets[i].name, y->sets[i].name);
                assert_int_equal(x->sets[i].flags, y->sets[i].flags);
                assert_int_equal(x->sets[i].n, y->sets[i].n);
                assert_int_equal(x->sets[i].klen, y->sets[i].klen);
                if (x->sets[i].n)
                        assert_memory_equal(x->sets[i].keys, y->sets[i].keys, x->sets[i].n * 2 * x->sets[i].klen);
        }
}
