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
        errno = err < 0 ? -err : 0; /* %m means this error, not whatever errno held */
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

char *pst_diag_item_format(const struct pst_diag_item *it) {
        const char *warn = it->severity == PST_WARNING ? "warning: " : "";
        char *s = NULL;
        int k;

        if (it->file && it->line)
                k = asprintf(&s, "%s:%u: %s%s", it->file, it->line, warn, it->msg);
        else if (it->file)
                k = asprintf(&s, "%s: %s%s", it->file, warn, it->msg);
        else
                k = asprintf(&s, "%s%s", warn, it->msg);
        return k < 0 ? NULL : s;
}

void pst_diag_print(const struct pst_diag *d, FILE *f) {
        for (size_t i = 0; i < d->n; i++) {
                _cleanup_free_ char *line = pst_diag_item_format(&d->items[i]);

                fprintf(f, "%s\n", line ? line : d->items[i].msg);
        }
        if (d->n_dropped)
                fprintf(f, "(%zu more not shown)\n", d->n_dropped);
}

char *pst_diag_summary(const struct pst_diag *d) {
        for (size_t i = 0; i < d->n; i++) {
                _cleanup_free_ char *line = NULL;
                char *s = NULL;

                if (d->items[i].severity != PST_ERROR)
                        continue;
                line = pst_diag_item_format(&d->items[i]);
                if (!line)
                        return NULL;
                if (d->n_errors <= 1)
                        return TAKE_PTR(line);
                return asprintf(&s, "%s (and more errors, see the log)", line) < 0 ? NULL : s;
        }
        return strdup(d->n_errors ? "(error not recorded: too many diagnostics)" : "unknown error");
}
