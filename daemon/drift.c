/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Other tables' base chains that can drop what ours accepts (nft-observe.h):
 * looked for after each of our applies and whenever someone else commits to
 * another table: the first at once, then at most one scan per 250 ms.  Each
 * chain is logged once when it appears (a warning naming table and chain)
 * and once when it goes; the current list is the ForeignDrops property,
 * which posternctl status shows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manager.h"
#include "nft-observe.h"

#define FOREIGN_TEXT_MAX (PST_FOREIGN_MAX * 640 + 64)
#define FOREIGN_SCAN_GAP_USEC (250 * 1000ULL)

static bool has_line(const char *text, const char *line) {
        size_t n = strlen(line);

        for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == 0))
                        return true;
        return false;
}

/* Log each line of now missing from before as appeared, each of before missing from now as gone. */
static void log_changes(const char *before, const char *now) {
        _cleanup_free_ char *copy = NULL;
        char *save = NULL;

        copy = strdup(now);
        for (char *l = copy ? strtok_r(copy, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save))
                if (!has_line(before, l))
                        log_struct(LOG_WARNING, "FOREIGN_CHAIN=%s\nMESSAGE=another table's base chain can drop what "
                                   "table inet %s accepts: %s", l, PST_TABLE, l);
        free(copy);
        copy = strdup(before);
        save = NULL;
        for (char *l = copy ? strtok_r(copy, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save))
                if (!has_line(now, l))
                        log_struct(LOG_INFO, "FOREIGN_CHAIN=%s\nMESSAGE=no longer there: %s", l, l);
}

static int foreign_text(const struct pst_foreign *f, char **ret) {
        _cleanup_free_ char *text = malloc(FOREIGN_TEXT_MAX);
        size_t len = 0;

        if (!text)
                return -ENOMEM;
        text[0] = 0;
        for (size_t i = 0; i < f->n; i++) {
                char line[640];

                pst_foreign_format(&f->v[i], line, sizeof(line));
                len += (size_t) snprintf(text + len, FOREIGN_TEXT_MAX - len, "%s%s", len ? "\n" : "", line);
        }
        if (f->more)
                snprintf(text + len, FOREIGN_TEXT_MAX - len, "%s... and %zu more such chains", len ? "\n" : "",
                         f->more);
        *ret = TAKE_PTR(text);
        return 0;
}

void manager_foreign_check(struct manager *m) {
        _cleanup_free_ char *text = NULL;
        struct pst_foreign f;
        int r;

        if (!m->watch)
                return; /* the iptables backend: xtables has other hooks' chains, not ours to judge */
        r = pst_foreign_scan(PST_TABLE, &f);
        if (r >= 0)
                r = foreign_text(&f, &text);
        if (r < 0) {
                log_errno(LOG_WARNING, r, "cannot look for other tables' dropping base chains: %m");
                return;
        }
        if (streq(text, m->foreign ? m->foreign : ""))
                return;
        log_changes(m->foreign ? m->foreign : "", text);
        free(m->foreign);
        m->foreign = TAKE_PTR(text);
}

static int on_foreign_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;

        m->foreign_scanned = now_usec();
        manager_foreign_check(m);
        return 0;
}

int manager_foreign_setup(struct manager *m) {
        int r = sd_event_add_time(m->event, &m->foreign_timer, CLOCK_MONOTONIC, 0, 0, on_foreign_timer, m);

        if (r >= 0)
                r = sd_event_source_set_enabled(m->foreign_timer, SD_EVENT_OFF);
        if (r >= 0)
                (void) sd_event_source_set_description(m->foreign_timer, "foreign-chains");
        return r;
}

/* Soon, but at most once per FOREIGN_SCAN_GAP_USEC: a tool that commits to its own
 * table all the time costs one scan per gap, not one per commit. */
void manager_foreign_check_soon(struct manager *m) {
        int enabled = SD_EVENT_OFF;

        if (!m->foreign_timer || sd_event_source_get_enabled(m->foreign_timer, &enabled) < 0 ||
            enabled != SD_EVENT_OFF)
                return;
        if (sd_event_source_set_time(m->foreign_timer, MAX(now_usec(), m->foreign_scanned + FOREIGN_SCAN_GAP_USEC)) >= 0)
                (void) sd_event_source_set_enabled(m->foreign_timer, SD_EVENT_ONESHOT);
}
