/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Diagnostics: what went wrong, and where in which file.  Library code never
 * prints; it records here and returns a negative errno.  The caller decides
 * how to show them (text "FILE:LINE: message", or JSON).
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util.h"

#define PST_DIAG_MAX 100 /* stop collecting after this many; the rest are counted */

enum pst_severity {
        PST_ERROR,
        PST_WARNING,
};

struct pst_diag_item {
        enum pst_severity severity;
        char *file; /* NULL: not tied to a file (e.g. a kernel or system error) */
        unsigned line;
        char *msg;
};

struct pst_diag {
        struct pst_diag_item *items;
        size_t n, cap;
        size_t n_errors;
        size_t n_dropped;
};

void pst_diag_init(struct pst_diag *d);
void pst_diag_clear(struct pst_diag *d);

/* Record an error; always returns err (a negative errno) so callers can
 * write "return pst_error(d, -EINVAL, file, line, ...)".  %m in fmt is
 * strerror(-err). */
int pst_error(struct pst_diag *d, int err, const char *file, unsigned line, const char *fmt, ...)
        _printf_(5, 6);
void pst_warning(struct pst_diag *d, const char *file, unsigned line, const char *fmt, ...)
        _printf_(4, 5);
int pst_verror(struct pst_diag *d, int err, enum pst_severity sev, const char *file, unsigned line,
               const char *fmt, va_list ap) _printf_(6, 0);

static inline bool pst_diag_has_errors(const struct pst_diag *d) {
        return d->n_errors > 0;
}

/*
 * The one way a diagnostic is written: "FILE:LINE: message", "FILE: message"
 * (no line) or "message" (no file), warnings as "...: warning: message".
 * Returns a malloc()ed string, NULL when out of memory.
 */
char *pst_diag_item_format(const struct pst_diag_item *it);

/* Every item, one per line, as pst_diag_item_format() writes it. */
void pst_diag_print(const struct pst_diag *d, FILE *f);

/* The first error as pst_diag_item_format() writes it, with " (and more
 * errors, see the log)" when there are more: a one-line answer for a D-Bus
 * error reply or a status field.  malloc()ed; NULL when out of memory. */
char *pst_diag_summary(const struct pst_diag *d);
