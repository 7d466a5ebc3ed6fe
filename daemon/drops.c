/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <linux/netfilter.h>

#include "bus-api.h"
#include "dropreport.h"
#include "drops.h"
#include "log.h"
#include "nflog.h"

struct drops {
        struct pst_nflog *nl;
        sd_event_source *io;
        struct pst_drops *agg;
        const struct pst_compiled *running; /* m->running: drops_sync() is called whenever it changes */
        uint64_t lost;                      /* socket overruns: the kernel dropped log messages */
        /* journal: at most DROPS_JOURNAL_PER_MIN lines a minute, then one line saying how many were not */
        struct log_limit journal;
};

static bool running_logs(const struct pst_compiled *c) {
        const struct pst_ruleset *rs = c ? c->ruleset : NULL;

        for (size_t i = 0; rs && i < rs->nchains; i++)
                for (size_t j = 0; j < rs->chains[i].n; j++)
                        if (rs->chains[i].rules[j].log_nflog &&
                            rs->chains[i].rules[j].log_group == PST_NFLOG_GROUP_DROPS)
                                return true;
        return false;
}

static bool in_addrs(const struct pst_addrs *as, const struct pst_addr *a) {
        unsigned len = pst_addr_len(a->family);

        for (size_t i = 0; i < as->n; i++) {
                uint8_t first[16], last[16];

                if (as->v[i].family != a->family)
                        continue;
                pst_addr_range(&as->v[i], first, last);
                if (memcmp(a->a, first, len) >= 0 && memcmp(a->a, last, len) <= 0)
                        return true;
        }
        return false;
}

/*
 * The source zone: the prefix says it for zones with interfaces (their
 * log_<zone> chain, compile.c); what the base chain logged comes from a zone
 * of networks only, or from none.
 */
static const char *zone_of(const struct drops *d, const struct pst_nflog_pkt *pkt) {
        const struct pst_policy *p = d->running ? d->running->policy : NULL;
        size_t plen;

        if (!p)
                return "";
        plen = strlen(p->options.log_prefix);
        if (strncmp(pkt->prefix, p->options.log_prefix, plen) == 0 && pkt->prefix[plen]) {
                for (size_t i = 0; i < p->nzones; i++)
                        if (streq(p->zones[i]->name, pkt->prefix + plen))
                                return p->zones[i]->name;
                return ""; /* a zone the running policy no longer has */
        }
        for (size_t i = 0; pkt->family && i < p->nzones; i++)
                if (p->zones[i]->nifs == 0 && in_addrs(&p->zones[i]->nets, &pkt->saddr))
                        return p->zones[i]->name;
        return "";
}

static void journal(struct drops *d, const char *zone, const struct pst_nflog_pkt *pkt, uint64_t now) {
        char src[PST_ADDR_STRLEN], what[32];
        uint64_t suppressed;
        bool go = log_limit(&d->journal, DROPS_JOURNAL_PER_MIN, now, &suppressed);

        if (suppressed)
                log_struct(LOG_INFO, "POSTERN_EVENT=drops-suppressed\nSUPPRESSED=%" PRIu64
                           "\nMESSAGE=%" PRIu64 " more dropped packets not logged (at most %d lines a "
                           "minute); posternctl drops has them all",
                           suppressed, suppressed, DROPS_JOURNAL_PER_MIN);
        if (!go)
                return;
        pst_addr_format(&pkt->saddr, src);
        pst_drop_what(pkt->l4proto, pkt->dport, what, sizeof(what));
        log_struct(LOG_INFO, "POSTERN_EVENT=drop\nZONE=%s\nPROTOCOL=%u\nDPORT=%u\nSRC=%s\nHOOK=%s\n"
                   "MESSAGE=dropped %s from %s%s%s",
                   zone, pkt->l4proto, pkt->dport, src, pkt->hook == NF_INET_FORWARD ? "forward" : "input", what,
                   src, zone[0] ? " in zone " : "", zone);
}

void drops_feed(struct drops *d, const struct pst_nflog_pkt *pkt, uint64_t now) {
        const char *zone;

        if (pkt->group != PST_NFLOG_GROUP_DROPS || !pkt->family)
                return;
        zone = zone_of(d, pkt);
        pst_drops_add(d->agg, zone, pkt->l4proto, pkt->dport, &pkt->saddr, now);
        journal(d, zone, pkt, now);
}

static void on_pkt(const struct pst_nflog_pkt *pkt, void *userdata) {
        drops_feed(userdata, pkt, wall_usec());
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct drops *d = userdata;
        int r = pst_nflog_read(d->nl, on_pkt, d, &d->lost);

        if (r < 0)
                log_errno(LOG_WARNING, r, "reading the drop log (NFLOG group %d) failed: %m, ignoring",
                          PST_NFLOG_GROUP_DROPS);
        return 0;
}

static void unbind(struct drops *d) {
        d->io = sd_event_source_disable_unref(d->io);
        pst_nflog_close(d->nl);
        d->nl = NULL;
}

static int bind_group(struct drops *d, sd_event *event) {
        int r = pst_nflog_open(&d->nl);

        if (r >= 0)
                r = pst_nflog_bind(d->nl, PST_NFLOG_GROUP_DROPS);
        if (r >= 0)
                r = sd_event_add_io(event, &d->io, pst_nflog_fd(d->nl), EPOLLIN, on_io, d);
        if (r < 0) {
                unbind(d);
                return log_errno(LOG_WARNING, r,
                                 "cannot read the drop log, NFLOG group %d: %m%s; posternctl drops stays empty",
                                 PST_NFLOG_GROUP_DROPS, r == -EBUSY ? " (another program, ulogd?, reads it)" : "");
        }
        log_struct(LOG_INFO, "NFLOG_GROUP=%d\nMESSAGE=reading dropped packets from NFLOG group %d",
                   PST_NFLOG_GROUP_DROPS, PST_NFLOG_GROUP_DROPS);
        return 0;
}

/* tests: a small table, to see eviction without waiting for thousands of rate-limited packets */
static size_t table_size(void) {
        const char *e = getenv("POSTERN_DROPS_ENTRIES");
        unsigned long v = e ? strtoul(e, NULL, 10) : 0;

        return v > 0 && v <= PST_DROPS_ENTRIES_MAX ? v : PST_DROPS_ENTRIES_DEFAULT;
}

int drops_sync(struct drops **dp, sd_event *event, const struct pst_compiled *running) {
        struct drops *d = *dp;
        uint64_t seed = 0;

        if (!d) {
                if (!running_logs(running))
                        return 0;
                d = calloc(1, sizeof(*d));
                if (!d)
                        return -ENOMEM;
                (void) getrandom(&seed, sizeof(seed), GRND_NONBLOCK); /* no entropy yet: a fixed seed is fine */
                if (pst_drops_new(table_size(), seed, &d->agg) < 0) {
                        free(d);
                        return -ENOMEM;
                }
                *dp = d;
        }
        d->running = running;
        if (!running_logs(running)) {
                if (d->nl)
                        log_msg(LOG_INFO, "options.log_drops is off: no longer reading NFLOG group %d",
                                PST_NFLOG_GROUP_DROPS);
                unbind(d); /* what was seen stays for posternctl drops */
                return 0;
        }
        return d->nl ? 0 : bind_group(d, event);
}

struct drops *drops_free(struct drops *d) {
        if (!d)
                return NULL;
        unbind(d);
        pst_drops_free(d->agg);
        free(d);
        return NULL;
}

static int append_rows(sd_bus_message *reply, const struct pst_drop_row *rows, size_t n) {
        int r = sd_bus_message_open_container(reply, 'a', "(syqttttus)");

        for (size_t i = 0; r >= 0 && i < n; i++) {
                char top[PST_ADDR_STRLEN];

                r = sd_bus_message_append(reply, "(syqttttus)", rows[i].zone, rows[i].l4proto, rows[i].dport,
                                          rows[i].count, rows[i].sources, rows[i].first_usec, rows[i].last_usec,
                                          rows[i].nprefixes, pst_addr_format(&rows[i].top, top));
        }
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

int drops_bus_method(sd_bus_message *msg, struct drops *d, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ struct pst_drop_row *rows = NULL;
        size_t n = 0;
        uint64_t since;
        int r;

        r = sd_bus_message_read(msg, "t", &since);
        if (r < 0)
                return r;
        if (d) {
                r = pst_drops_report(d->agg, since, &rows, &n);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = append_rows(reply, rows, n);
        if (r >= 0)
                r = sd_bus_message_append(reply, "ttt", d ? d->agg->total : 0, d ? d->agg->evicted : 0,
                                          d ? d->lost : 0);
        return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}
