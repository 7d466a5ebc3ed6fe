/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * When each rule of our table last matched a packet.  The kernel keeps
 * packet counters, not times: posternd samples the counters (a netlink dump
 * of its table's rules, nft-observe.h; ~2 ms for P2's 2,000 rules) every
 * HITS_INTERVAL_USEC and whenever RuleHits() is called, and a rule's last
 * hit is the first sample that saw its counter change.  So the time is
 * late by at most the interval (or the time since the previous call), and
 * a scrape that calls RuleHits() sees its own moment.  An apply starts
 * afresh (the rules, and their counters, are new); a heal keeps the times
 * (the same rules, counters back at zero: a non-zero count after it is a
 * hit).
 */
#include <string.h>
#include <time.h>

#include "manager.h"
#include "nft-observe.h"

#define HITS_INTERVAL_USEC (10 * 1000000ULL)

struct manager_hits {
        uint64_t generation; /* of the ruleset the entries are for */
        size_t n;
        struct manager_hit *v;
};

static uint64_t realtime_now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static bool same_shape(const struct manager_hits *h, const struct pst_counters *k) {
        if (h->n != k->n)
                return false;
        for (size_t i = 0; i < k->n; i++)
                if (h->v[i].index != k->v[i].index || strcmp(h->v[i].chain, k->v[i].chain) != 0)
                        return false;
        return true;
}

static int rebuild(struct manager_hits *h, const struct pst_counters *k, uint64_t generation) {
        struct manager_hit *v = calloc(k->n ? k->n : 1, sizeof(*v));

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < k->n; i++) {
                snprintf(v[i].chain, sizeof(v[i].chain), "%s", k->v[i].chain);
                v[i].index = k->v[i].index;
        }
        free(h->v);
        *h = (struct manager_hits) { .generation = generation, .n = k->n, .v = v };
        return 0;
}

int manager_hits_sample(struct manager *m) {
        _cleanup_(pst_counters_clear) struct pst_counters k = {};
        struct manager_hits *h = m->hits;
        uint64_t now;
        int r;

        if (!h || !m->watch || !m->running)
                return 0; /* the iptables backend, or nothing of ours: no samples */
        r = pst_counters_dump(PST_TABLE, &k);
        if (r < 0)
                return r;
        if (h->generation != m->generation || !same_shape(h, &k)) {
                r = rebuild(h, &k, m->generation);
                if (r < 0)
                        return r;
        }
        now = realtime_now();
        for (size_t i = 0; i < k.n; i++) {
                uint64_t p = k.v[i].packets;

                /* fewer than before: a heal put the rule back at zero */
                if (p > h->v[i].packets || (p < h->v[i].packets && p > 0) || (p > 0 && !h->v[i].last_usec))
                        h->v[i].last_usec = now;
                h->v[i].packets = p;
        }
        return 0;
}

int manager_hits_get(struct manager *m, const struct manager_hit **ret, size_t *ret_n) {
        int r = manager_hits_sample(m);

        if (r < 0)
                return r;
        *ret = m->hits ? m->hits->v : NULL;
        *ret_n = m->hits ? m->hits->n : 0;
        return 0;
}

static int on_hits_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;
        int r = manager_hits_sample(m);

        if (r < 0 && !m->hits_failed)
                log_errno(LOG_WARNING, r, "cannot sample the rules' counters (%m): last-hit times stop");
        m->hits_failed = r < 0;
        (void) sd_event_source_set_time_relative(s, HITS_INTERVAL_USEC);
        return 0;
}

int manager_hits_setup(struct manager *m) {
        int r;

        m->hits = calloc(1, sizeof(*m->hits));
        if (!m->hits)
                return -ENOMEM;
        r = sd_event_add_time_relative(m->event, &m->hits_timer, CLOCK_MONOTONIC, HITS_INTERVAL_USEC, 1000000,
                                       on_hits_timer, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->hits_timer, SD_EVENT_ON);
        if (r >= 0)
                (void) sd_event_source_set_description(m->hits_timer, "rule-hits");
        return r;
}

void manager_hits_free(struct manager *m) {
        m->hits_timer = sd_event_source_disable_unref(m->hits_timer);
        if (m->hits)
                free(m->hits->v);
        free(m->hits);
        m->hits = NULL;
}
