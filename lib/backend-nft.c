/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The nf_tables backend's operations (backend-ops.h) over nft.c: one
 * NETLINK_NETFILTER socket, kept open as long as the backend is (the daemon
 * keeps it for its lifetime: closing a socket after a batch that deleted
 * objects waits for an RCU grace period), and, when watched, a second one
 * subscribed to the kernel's notifications (nft-watch.c).
 */
#include "backend-ops.h"
#include "kernel-features.h"
#include "nft-delta.h"
#include "nft.h"
#include "render.h"

struct nft_backend {
        struct pst_nft *nft;
        struct pst_nft_watch *watch; /* NULL: not watched */
        bool committed;
        uint32_t own_genid;          /* the kernel's generation after our last commit */
        /* when watched: the handles of the rules of handles_rs, the ruleset
         * we committed last (NULL: not known, the next reload is whole) */
        struct pst_nft_handles *handles;
        const struct pst_ruleset *handles_rs;
};

static void nft_close(void *state) {
        struct nft_backend *s = state;

        if (!s)
                return;
        pst_nft_watch_close(s->watch);
        pst_nft_handles_free(s->handles);
        pst_nft_close(s->nft);
        free(s);
}

static int nft_open(void **ret_state) {
        struct nft_backend *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        r = pst_nft_open(&s->nft);
        if (r < 0) {
                free(s);
                return r;
        }
        *ret_state = s;
        return 0;
}

/* After each of our commits, when watched (the daemon): where the kernel's
 * generation is, to tell our own lost notifications from someone else's
 * (nft_watch_read) and for nft_generation().  A one-shot apply is not
 * watched and pays no extra round trip. */
static int committed(struct nft_backend *s, int r) {
        if (r >= 0 && s->watch)
                s->committed = pst_nft_genid(s->nft, &s->own_genid) >= 0;
        return r;
}

static int nft_generation(void *state, uint32_t *ret) {
        struct nft_backend *s = state;

        if (s->committed) {
                *ret = s->own_genid;
                return 0;
        }
        return pst_nft_genid(s->nft, ret);
}

/*
 * The kernel refused the batch: if that is because it lacks something the
 * policy needs, say which feature, which Linux brought it and which policy
 * line needs it (kernel-features.h).  Probed only now, on the way out of a
 * failure: a successful apply pays nothing for it.
 */
static void explain_refusal(const struct pst_ruleset *rs, int r, struct pst_diag *diag) {
        struct pst_features f;

        if (r == -EPERM || r == -ENOMEM || r == -ENOBUFS || pst_features_probe(&f) < 0)
                return;
        (void) pst_features_explain(&f, rs, diag);
}

/* After a whole apply, when watched (the daemon reloads): the rules'
 * handles, for the next reload's delta.  One dump of the table's rules;
 * without them the next reload is whole again. */
static void remember(struct nft_backend *s, const struct pst_ruleset *rs) {
        pst_nft_handles_free(s->handles);
        s->handles = NULL;
        s->handles_rs = NULL;
        if (s->watch && pst_nft_handles_read(rs, &s->handles) >= 0)
                s->handles_rs = rs;
}

static int nft_apply(void *state, const struct pst_ruleset *rs, struct pst_diag *diag) {
        struct nft_backend *s = state;
        int r;

        r = pst_nft_apply(s->nft, rs, &(struct pst_apply_opts) {}, diag);
        if (r < 0)
                explain_refusal(rs, r, diag);
        r = committed(s, r);
        if (r >= 0)
                remember(s, rs);
        return r;
}

/* The delta when the handles describe old and our last commit is the
 * kernel's last (the batch is guarded by that generation); whatever stops
 * it — something it cannot express, someone else's commit since, a refusal
 * — the whole ruleset instead, which says what is wrong if anything is. */
static int nft_reload(void *state, const struct pst_ruleset *old, const struct pst_ruleset *rs,
                      struct pst_delta_stats *st, struct pst_diag *diag) {
        struct nft_backend *s = state;
        struct pst_diag dd;
        int r;

        if ((!s->handles || s->handles_rs != old) && s->committed) {
                /* the first apply came before the watch (nft_watch_open): read them now */
                pst_nft_handles_free(s->handles);
                s->handles = NULL;
                s->handles_rs = pst_nft_handles_read(old, &s->handles) >= 0 ? old : NULL;
        }
        if (!s->handles || s->handles_rs != old || !s->committed) {
                st->why = "the running table's rule handles are not known";
                return nft_apply(state, rs, diag);
        }
        pst_diag_init(&dd);
        r = pst_nft_apply_delta(s->nft, old, rs, s->own_genid, &s->handles, st, &dd);
        pst_diag_clear(&dd);
        s->handles_rs = s->handles ? rs : NULL;
        if (r >= 0)
                return st->nothing ? 0 : committed(s, r);
        *st = (struct pst_delta_stats) { .full = true,
                                         .why = r == -EOPNOTSUPP ? st->why
                                                : r == -ERESTART ? "the ruleset changed since our last commit"
                                                                 : "the kernel refused the delta" };
        return nft_apply(state, rs, diag);
}

static int nft_update_set(void *state, const struct pst_ruleset *rs, uint32_t set, struct pst_diag *diag) {
        struct nft_backend *s = state;

        return committed(s, pst_nft_update_set(s->nft, rs, set, diag));
}

static int nft_adopt(void *state, const char *table, struct pst_diag *diag) {
        struct nft_backend *s = state;
        bool exists;
        uint32_t flags;
        int r;

        r = pst_nft_table_query(s->nft, table, diag, &exists, &flags);
        return r < 0 ? r : exists;
}

static int nft_render(const struct pst_ruleset *rs, FILE *f, struct pst_diag *diag) {
        return pst_render_nft(rs, f);
}

static int nft_watch_open(void *state, const char *table, int *ret_fd) {
        struct nft_backend *s = state;
        int r;

        if (!s->watch) {
                r = pst_nft_watch_open(table, &s->watch);
                if (r < 0)
                        return r;
                /* opened just after our first commit: the generation it left */
                if (!s->committed)
                        s->committed = pst_nft_genid(s->nft, &s->own_genid) >= 0;
        }
        *ret_fd = pst_nft_watch_fd(s->watch);
        return 0;
}

/*
 * Our own big replace (P2: ~100k element notifications) overflows the
 * watch socket, and then nothing says whose commits were lost.  The
 * generation does: if the kernel is still where our last commit left it,
 * the lost notifications were ours.  (A foreign commit squeezed between our
 * commit and our reading of the generation would be missed: microseconds.)
 */
static int nft_watch_read(void *state, struct pst_drift *ret) {
        struct nft_backend *s = state;
        uint32_t now;
        int r;

        r = pst_nft_watch_read(s->watch, pst_nft_portid(s->nft), ret);
        if (r != -ENOBUFS)
                return r;
        r = pst_nft_genid(s->nft, &now);
        if (r >= 0 && now == s->own_genid)
                return 0;
        *ret = (struct pst_drift) { .unknown = true };
        return 1;
}

/* A commit of the caller's other socket (the rpc reader) moved the generation:
 * follow it, as after our own (a foreign commit squeezed in between would be
 * missed by the guard, as in committed(), but not by the watch: its port is
 * not trusted). */
static int nft_committed_by(void *state, uint32_t portid) {
        struct nft_backend *s = state;

        if (s->watch)
                pst_nft_watch_trust(s->watch, portid);
        return committed(s, 0);
}

const struct pst_backend_ops pst_backend_nft_ops = {
        .kind = PST_BACKEND_NFTABLES,
        .probe = pst_nft_probe,
        .open = nft_open,
        .close = nft_close,
        .apply = nft_apply,
        .reload = nft_reload,
        .update_set = nft_update_set,
        .adopt = nft_adopt,
        .render = nft_render,
        .generation = nft_generation,
        .watch_open = nft_watch_open,
        .watch_read = nft_watch_read,
        .committed_by = nft_committed_by,
};
