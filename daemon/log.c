/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "log.h"

/* Is stderr the journal?  systemd sets JOURNAL_STREAM=dev:ino for it. */
static bool stderr_is_journal(void) {
        static int cached = -1;
        const char *e;
        struct stat st;
        unsigned long long dev, ino;

        if (cached >= 0)
                return cached;
        e = getenv("JOURNAL_STREAM");
        cached = e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
                 (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
        return cached;
}

static void log_text(int priority, char *text) {
        struct iovec iov[32];
        char prio[16];
        const char *message = NULL;
        size_t n = 0;

        snprintf(prio, sizeof(prio), "PRIORITY=%d", priority);
        iov[n++] = (struct iovec) { prio, strlen(prio) };
        for (char *line = text, *next; line && *line && n < ELEMENTSOF(iov); line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if (strncmp(line, "MESSAGE=", 8) == 0) {
                        message = line + 8;
                        /* the message is the last field: it may contain newlines of its own */
                        if (next) {
                                next[-1] = '\n';
                                next = NULL;
                        }
                }
                iov[n++] = (struct iovec) { line, strlen(line) };
        }
        if (stderr_is_journal()) {
                (void) sd_journal_sendv(iov, (int) n);
                return;
        }
        fprintf(stderr, "posternd: %s\n", message ? message : text);
}

void log_struct(int priority, const char *format, ...) {
        _cleanup_free_ char *text = NULL;
        va_list ap;
        int saved = errno;

        va_start(ap, format);
        errno = saved; /* %m */
        if (vasprintf(&text, format, ap) < 0)
                text = NULL;
        va_end(ap);
        if (text)
                log_text(priority, text);
}

int log_errno(int priority, int err, const char *format, ...) {
        _cleanup_free_ char *msg = NULL, *text = NULL;
        va_list ap;

        va_start(ap, format);
        errno = err < 0 ? -err : err;
        if (vasprintf(&msg, format, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (msg && asprintf(&text, "ERRNO=%d\nMESSAGE=%s", err < 0 ? -err : err, msg) >= 0)
                log_text(priority, text);
        return err;
}

void log_diag(const struct pst_diag *d, int priority) {
        for (size_t i = 0; i < d->n; i++) {
                const struct pst_diag_item *it = &d->items[i];
                int prio = it->severity == PST_ERROR ? priority : LOG_WARNING;
                _cleanup_free_ char *text = pst_diag_item_format(it);
                const char *msg = text ? text : it->msg;
                char line[32] = "";

                if (it->line)
                        snprintf(line, sizeof(line), "POLICY_LINE=%u\n", it->line);
                if (it->file)
                        log_struct(prio, "POLICY_FILE=%s\n%sMESSAGE=%s", it->file, line, msg);
                else
                        log_struct(prio, "MESSAGE=%s", msg);
        }
        if (d->n_dropped)
                log_msg(priority, "... and %zu more problems", d->n_dropped);
}

bool log_limit(struct log_limit *l, unsigned per_minute, uint64_t now_usec, uint64_t *ret_suppressed) {
        *ret_suppressed = 0;
        if (l->begin == 0 || now_usec < l->begin || now_usec - l->begin >= 60000000ULL) {
                *ret_suppressed = l->suppressed;
                l->begin = now_usec ? now_usec : 1;
                l->lines = 0;
                l->suppressed = 0;
        }
        if (l->lines >= per_minute) {
                l->suppressed++;
                return false;
        }
        l->lines++;
        return true;
}
