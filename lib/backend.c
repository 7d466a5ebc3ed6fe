/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"
#include "backend-ops.h"

static const struct pst_backend_ops *const backends[_PST_BACKEND_MAX] = {
        [PST_BACKEND_NFTABLES] = &pst_backend_nft_ops,
#if HAVE_IPTC
        [PST_BACKEND_IPTABLES] = &pst_backend_iptc_ops,
#endif
};

static const char *const names[_PST_BACKEND_MAX] = {
        [PST_BACKEND_AUTO] = "auto",
        [PST_BACKEND_NFTABLES] = "nftables",
        [PST_BACKEND_IPTABLES] = "iptables",
};

struct pst_backend {
        const struct pst_backend_ops *ops;
        void *state;
};

const char *pst_backend_name(enum pst_backend_kind b) {
        return (unsigned) b < ELEMENTSOF(names) ? names[b] : "?";
}

int pst_backend_from_string(const char *s, enum pst_backend_kind *ret) {
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(s, names[i])) {
                        *ret = (enum pst_backend_kind) i;
                        return 0;
                }
        return -EINVAL;
}

/* AUTO → the first backend the kernel answers; the others as they are.
 * An explicit choice is not probed: applying says soon enough. */
static int resolve(enum pst_backend_kind want, struct pst_diag *diag, const struct pst_backend_ops **ret) {
        if (want != PST_BACKEND_AUTO) {
                if (!backends[want])
                        return pst_error(diag, -EOPNOTSUPP, NULL, 0,
                                         "no usable backend for '%s': this build has no %s backend",
                                         names[want], names[want]);
                *ret = backends[want];
                return 0;
        }
        for (enum pst_backend_kind k = PST_BACKEND_NFTABLES; k < _PST_BACKEND_MAX; k++)
                if (backends[k] && backends[k]->probe() == 0) {
                        *ret = backends[k];
                        return 0;
                }
        return pst_error(diag, -EPROTONOSUPPORT, NULL, 0,
                         "no usable backend for 'auto': the kernel has neither nf_tables nor legacy iptables");
}

int pst_backend_open(enum pst_backend_kind want, struct pst_diag *diag, struct pst_backend **ret) {
        _cleanup_(pst_backend_closep) struct pst_backend *b = NULL;
        const struct pst_backend_ops *ops = NULL;
        int r;

        r = resolve(want, diag, &ops);
        if (r < 0)
                return r;
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->ops = ops;
        r = ops->open(&b->state);
        if (r < 0)
                return pst_error(diag, r, NULL, 0, "cannot open the %s backend: %m", names[ops->kind]);
        *ret = TAKE_PTR(b);
        return 0;
}

void pst_backend_close(struct pst_backend *b) {
        if (!b)
                return;
        if (b->ops->close)
                b->ops->close(b->state);
        free(b);
}

enum pst_backend_kind pst_backend_kind(const struct pst_backend *b) {
        return b->ops->kind;
}

bool pst_backend_matches(const struct pst_backend *b, enum pst_backend_kind want) {
        return want == PST_BACKEND_AUTO || want == b->ops->kind;
}

int pst_backend_apply(struct pst_backend *b, const struct pst_ruleset *rs, struct pst_diag *diag) {
        return b->ops->apply(b->state, rs, diag);
}

int pst_backend_reload(struct pst_backend *b, const struct pst_ruleset *old, const struct pst_ruleset *rs,
                       struct pst_delta_stats *st, struct pst_diag *diag) {
        *st = (struct pst_delta_stats) { .full = true, .why = "no running ruleset to compare with" };
        if (old && b->ops->reload)
                return b->ops->reload(b->state, old, rs, st, diag);
        if (old)
                st->why = "this backend always replaces the whole ruleset";
        return b->ops->apply(b->state, rs, diag);
}

int pst_backend_update_set(struct pst_backend *b, const struct pst_ruleset *rs, uint32_t set, struct pst_diag *diag) {
        return b->ops->update_set(b->state, rs, set, diag);
}

int pst_backend_adopt(struct pst_backend *b, const char *table, struct pst_diag *diag) {
        return b->ops->adopt(b->state, table, diag);
}

int pst_backend_generation(struct pst_backend *b, uint32_t *ret) {
        return b->ops->generation ? b->ops->generation(b->state, ret) : -EOPNOTSUPP;
}

int pst_backend_watch_open(struct pst_backend *b, const char *table, int *ret_fd) {
        return b->ops->watch_open ? b->ops->watch_open(b->state, table, ret_fd) : -EOPNOTSUPP;
}

int pst_backend_watch_read(struct pst_backend *b, struct pst_drift *ret) {
        return b->ops->watch_read ? b->ops->watch_read(b->state, ret) : 0;
}

int pst_backend_committed_by(struct pst_backend *b, uint32_t portid) {
        return b->ops->committed_by ? b->ops->committed_by(b->state, portid) : 0;
}

int pst_backend_render(enum pst_backend_kind kind, const struct pst_ruleset *rs, FILE *f, struct pst_diag *diag) {
        const struct pst_backend_ops *ops = backends[kind == PST_BACKEND_AUTO ? PST_BACKEND_NFTABLES : kind];

        if (!ops)
                return pst_error(diag, -EOPNOTSUPP, NULL, 0, "this build has no %s backend", names[kind]);
        return ops->render(rs, f, diag);
}
