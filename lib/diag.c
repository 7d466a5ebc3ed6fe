/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "diag.h"

void pst_diag_init(struct pst_diag *d) {
        *d = (struct pst_diag) {};
}

void pst_diag_clear(struct pst_diag *d) {
        for (size_t i = 0; i < d->n; i++) {
                free(d->items[i].file);
                free(d->items[i].msg);
        }
        free(d->items);
        pst_diag_init(d);
}

int pst_verror(struct pst_diag *d, int err, enum pst_severity sev, const char *file, unsigned line,
               const char *fmt, va_list ap) {
        struct pst_diag_item *it;
        char *msg = NULL;

        if (sev == PST_ERROR)
                d->n_errors++;
        if (d->n >= PST_DIAG_MAX || GROW(d->items, d->cap, d->n + 1, PST_DIAG_MAX) < 0) {
                d->n_dropped++;
                return err;
        }
        if (vasprintf(&msg, fmt, ap) < 0) {
                d->n_dropped++;
                return err;
        }
        it = &d->items[d->n++];
        *it = (struct pst_diag_item) {
                .severity = sev,
                .file = file ? strdup(file) : NULL,
                .line = line,
                .msg = msg,
        };
        return err;
}

int pst_error(struct pst_diag *d, int err, const char *file, unsigned line, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        pst_verror(d, err, PST_ERROR, file, line, fmt, ap);
        va_end(ap);
        return err;
}

void pst_warning(struct pst_diag *d, const char *file, unsigned line, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        pst_verror(d, 0, PST_WARNING, file, line, fmt, ap);
        va_end(ap);
}

void pst_diag_print(const struct pst_diag *d, FILE *f) {
        for (size_t i = 0; i < d->n; i++) {
                const struct pst_diag_item *it = &d->items[i];

                if (it->file && it->line)
                        fprintf(f, "%s:%u: ", it->file, it->line);
                else if (it->file)
                        fprintf(f, "%s: ", it->file);
                fprintf(f, "%s%s\n", it->severity == PST_WARNING ? "warning: " : "", it->msg);
        }
        if (d->n_dropped)
                fprintf(f, "(%zu more not shown)\n", d->n_dropped);
}
