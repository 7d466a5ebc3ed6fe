/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The legacy iptables backend's operations (backend-ops.h) over iptc.c.
 * It keeps no state: every apply opens libiptc handles and commits them.
 */
#include "backend-ops.h"
#include "iptc.h"

static int iptc_open(void **ret_state) {
        *ret_state = NULL;
        return 0;
}

static int iptc_apply(void *state, const struct pst_ruleset *rs, struct pst_diag *diag) {
        return pst_iptc_apply(rs, NULL, diag);
}

static int iptc_update_set(void *state, const struct pst_ruleset *rs, uint32_t set, struct pst_diag *diag) {
        return pst_iptc_update_set(rs, NULL, set, diag);
}

/* INPUT and FORWARD always exist, whoever filled them: nothing is ours to
 * keep, so the daemon fails closed. */
static int iptc_adopt(void *state, const char *table, struct pst_diag *diag) {
        return 0;
}

static int iptc_render(const struct pst_ruleset *rs, FILE *f, struct pst_diag *diag) {
        return pst_iptc_render(rs, NULL, f, diag);
}

const struct pst_backend_ops pst_backend_iptc_ops = {
        .kind = PST_BACKEND_IPTABLES,
        .probe = pst_iptc_available,
        .open = iptc_open,
        .apply = iptc_apply,
        .update_set = iptc_update_set,
        .adopt = iptc_adopt,
        .render = iptc_render,
};
