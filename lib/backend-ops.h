/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What a backend implements, for backend.c to dispatch to.  state is the
 * backend's own (a socket it keeps open, its options); NULL for one that
 * needs none.
 */

#include "backend.h"

struct pst_backend_ops {
        enum pst_backend_kind kind;
        /* 0 when the running kernel can use this backend, else a negative errno */
        int (*probe)(void);
        int (*open)(void **ret_state);
        void (*close)(void *state);
        int (*apply)(void *state, const struct pst_ruleset *rs, struct pst_diag *diag);
        /* NULL: always the whole ruleset (apply) */
        int (*reload)(void *state, const struct pst_ruleset *old, const struct pst_ruleset *rs,
                      struct pst_delta_stats *st, struct pst_diag *diag);
        int (*update_set)(void *state, const struct pst_ruleset *rs, uint32_t set, struct pst_diag *diag);
        int (*adopt)(void *state, const char *table, struct pst_diag *diag);
        int (*render)(const struct pst_ruleset *rs, FILE *f, struct pst_diag *diag);
        int (*generation)(void *state, uint32_t *ret); /* NULL: none */
        /* NULL: cannot be watched */
        int (*watch_open)(void *state, const char *table, int *ret_fd);
        int (*watch_read)(void *state, struct pst_drift *ret);
        int (*committed_by)(void *state, uint32_t portid); /* NULL: nothing to do */
};

extern const struct pst_backend_ops pst_backend_nft_ops;
extern const struct pst_backend_ops pst_backend_iptc_ops; /* only when built with HAVE_IPTC */
