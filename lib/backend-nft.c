/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The nf_tables backend's operations (backend-ops.h) over nft.c: one
 * NETLINK_NETFILTER socket, kept open as long as the backend is.  The
 * daemon keeps it for its lifetime: with NFT_TABLE_F_OWNER the table is
 * this socket's.
 */
#include "backend-ops.h"
#include "nft.h"
#include "render.h"

#define OWN_FLAGS (NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST)

struct nft_backend {
        struct pst_nft *nft;
        uint32_t table_flags;
};

static void nft_close(void *state) {
        struct nft_backend *s = state;

        if (!s)
                return;
        /* closing the socket releases ownership; PERSIST keeps the table */
        pst_nft_close(s->nft);
        free(s);
}

/* Own the table where the kernel lets us do so safely (backend.h). */
static int nft_own_flags(struct pst_nft *nft, struct pst_diag *diag, uint32_t *ret) {
        int r = pst_nft_table_flags_supported(nft, OWN_FLAGS);

        if (r < 0)
                return r;
        if (r == 0)
                pst_warning(diag, NULL, 0,
                            "this kernel has no nf_tables table flag PERSIST (Linux < 6.9): table inet %s is not "
                            "owned, so it outlives posternd but another tool's \"nft flush ruleset\" can remove it",
                            PST_TABLE);
        *ret = r > 0 ? OWN_FLAGS : 0;
        return 0;
}

static int nft_open(const struct pst_backend_opts *o, struct pst_diag *diag, void **ret_state) {
        struct nft_backend *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        r = pst_nft_open(&s->nft);
        if (r >= 0 && o && o->own)
                r = nft_own_flags(s->nft, diag, &s->table_flags);
        if (r < 0) {
                nft_close(s);
                return r;
        }
        *ret_state = s;
        return 0;
}

static int nft_apply(void *state, const struct pst_ruleset *rs, struct pst_diag *diag) {
        struct nft_backend *s = state;

        return pst_nft_apply(s->nft, rs, &(struct pst_apply_opts) { .table_flags = s->table_flags }, diag);
}

static int nft_update_set(void *state, const struct pst_ruleset *rs, uint32_t set, struct pst_diag *diag) {
        struct nft_backend *s = state;

        return pst_nft_update_set(s->nft, rs, set, diag);
}

/* A previous run's table is better than a generic ruleset: keep it, and own
 * it so that nobody else's "nft flush ruleset" takes it away while we run. */
static int nft_adopt(void *state, const char *table, struct pst_diag *diag) {
        struct nft_backend *s = state;
        struct pst_diag d;
        bool exists;
        uint32_t flags;
        int r;

        r = pst_nft_table_query(s->nft, table, diag, &exists, &flags);
        if (r < 0 || !exists)
                return r;
        if (!s->table_flags)
                return 1;
        pst_diag_init(&d);
        r = pst_nft_claim_table(s->nft, table, s->table_flags, &d);
        pst_diag_clear(&d);
        if (r < 0)
                pst_warning(diag, NULL, 0, "cannot take ownership of table inet %s (%s), keeping it as it is", table,
                            strerror(-r));
        return 1;
}

static int nft_render(const struct pst_ruleset *rs, FILE *f, struct pst_diag *diag) {
        return pst_render_nft(rs, f);
}

const struct pst_backend_ops pst_backend_nft_ops = {
        .kind = PST_BACKEND_NFTABLES,
        .probe = pst_nft_probe,
        .open = nft_open,
        .close = nft_close,
        .apply = nft_apply,
        .update_set = nft_update_set,
        .adopt = nft_adopt,
        .render = nft_render,
};
