/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * posternd's logging: structured journal entries when stderr is connected to
 * the journal (systemd sets JOURNAL_STREAM), the MESSAGE alone as a line on
 * stderr otherwise.  A leaf: it knows nothing of the manager.
 *
 *   log_struct(LOG_INFO, "GENERATION=%" PRIu64 "\nMESSAGE=applied ...", g);
 *   return log_errno(LOG_ERR, r, "cannot read links: %m");
 */

#include <syslog.h>

#include "diag.h"
#include "util.h"

/* "KEY=value" lines, the last (or any one) of them MESSAGE=...; PRIORITY is
 * added.  A MESSAGE field may contain newlines: it runs to the end. */
void log_struct(int priority, const char *format, ...) _printf_(2, 3);
#define log_msg(prio, fmt, ...) log_struct(prio, "MESSAGE=" fmt, ##__VA_ARGS__)

/* MESSAGE=format with ERRNO=-err, %m meaning strerror(-err).  Returns err,
 * so a caller can "return log_errno(LOG_ERR, r, "...: %m");". */
int log_errno(int priority, int err, const char *format, ...) _printf_(3, 4);

/* Every diagnostic once, with POLICY_FILE/POLICY_LINE fields; errors at
 * priority, warnings at LOG_WARNING. */
void log_diag(const struct pst_diag *d, int priority);

/*
 * At most per_minute lines a minute of one kind (the drop log, unparsed rpc
 * replies): log_limit() says whether this one may go out, and in
 * *ret_suppressed how many the last window left out when a new one starts
 * (0 otherwise) — for one line saying so. A window is the 60 s from its
 * first line, not a calendar minute: a burst across a minute's boundary
 * would otherwise get twice the limit.
 */
struct log_limit {
        uint64_t begin; /* the window's first line, µs; 0: none yet */
        unsigned lines;
        uint64_t suppressed;
};
bool log_limit(struct log_limit *l, unsigned per_minute, uint64_t now_usec, uint64_t *ret_suppressed);
