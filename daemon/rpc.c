/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <stdlib.h>

#include "log.h"
#include "rpc-targets.h"
#include "rpc.h"

struct rpc {
        struct pst_rpc_reader *reader; /* NULL while no set is fed */
        sd_event_source *io;
        size_t nsets;
        struct pst_rpc_reader_counters past; /* of readers freed before (no pinhole sets for a while) */
        struct log_limit journal;
        rpc_committed_fn committed;
        void *userdata;
};

static void journal(struct rpc *r, const char *what, uint64_t n, uint64_t total) {
        uint64_t suppressed;
        bool go = log_limit(&r->journal, RPC_JOURNAL_PER_MIN, wall_usec(), &suppressed);

        if (suppressed)
                log_struct(LOG_INFO, "POSTERN_EVENT=rpc-suppressed\nSUPPRESSED=%" PRIu64 "\nMESSAGE=%" PRIu64
                           " more endpoint-mapper pinhole problems not logged (at most %d lines a minute); "
                           "posternctl status counts them all",
                           suppressed, suppressed, RPC_JOURNAL_PER_MIN);
        if (go)
                log_struct(LOG_WARNING, "POSTERN_EVENT=rpc-%s\nCOUNT=%" PRIu64 "\nMESSAGE=%" PRIu64 " endpoint-mapper %s "
                           "(%" PRIu64 " since start)",
                           what, n, n, streq(what, "unparsed") ? "replies could not be read: their ports stay closed"
                                                               : "pinholes refused: the set is full (rpc max)",
                           total);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct rpc *r = userdata;
        const struct pst_rpc_reader_counters *c = pst_rpc_reader_counters(r->reader);
        struct pst_rpc_reader_counters before = *c;
        int k = pst_rpc_reader_process(r->reader);

        if (k < 0)
                log_errno(LOG_WARNING, k, "reading endpoint-mapper replies failed: %m, ignoring");
        /* a refused batch commits nothing; an accepted one moved the generation */
        if (c->added != before.added && r->committed)
                r->committed(pst_rpc_reader_nft_portid(r->reader), r->userdata);
        if (c->unparsed != before.unparsed)
                journal(r, "unparsed", c->unparsed - before.unparsed, r->past.unparsed + c->unparsed);
        if (c->refused != before.refused)
                journal(r, "refused", c->refused - before.refused, r->past.refused + c->refused);
        return 0;
}

static void add_counters(struct pst_rpc_reader_counters *to, const struct pst_rpc_reader_counters *c) {
        to->packets += c->packets;
        to->added += c->added;
        to->refused += c->refused;
        to->skipped += c->skipped;
        to->unparsed += c->unparsed;
        to->lost += c->lost;
        if (c->added)
                to->last_latency_us = c->last_latency_us;
}

static void stop(struct rpc *r) {
        if (r->reader) {
                add_counters(&r->past, pst_rpc_reader_counters(r->reader));
                /* its port is nobody's now: no longer trusted (a later socket may get the number) */
                if (r->committed)
                        r->committed(0, r->userdata);
        }
        r->io = sd_event_source_disable_unref(r->io);
        r->reader = pst_rpc_reader_free(r->reader);
        r->nsets = 0;
}

/* The packet source the targets of one compile ask for (rpc-targets.h: one mechanism for all). */
static struct pst_rpc_source source_of(const struct pst_rpc_target *t) {
        return t[0].queue ? (struct pst_rpc_source) { .kind = PST_RPC_SOURCE_QUEUE }
                          : (struct pst_rpc_source) { .kind = PST_RPC_SOURCE_NFLOG, .group = PST_RPC_NFLOG_GROUP };
}

static int start(struct rpc *r, sd_event *event, const struct pst_rpc_target *t, size_t n) {
        struct pst_rpc_source src = source_of(t);
        char what[64];
        int k = pst_rpc_reader_open(&src, t, n, &r->reader);

        if (src.kind == PST_RPC_SOURCE_QUEUE)
                snprintf(what, sizeof(what), "NFQUEUE %u%s", t[0].queue, n > 1 ? " and on" : "");
        else
                snprintf(what, sizeof(what), "NFLOG group %d", PST_RPC_NFLOG_GROUP);
        if (k >= 0)
                k = sd_event_add_io(event, &r->io, pst_rpc_reader_fd(r->reader), EPOLLIN, on_io, r);
        if (k >= 0)
                (void) sd_event_source_set_description(r->io, "rpc-reader");
        if (k < 0) {
                stop(r);
                return log_errno(LOG_ERR, k, "cannot read endpoint-mapper replies, %s: %m%s; the rpc pinhole sets "
                                 "stay empty", what, k == -EBUSY ? " (another program reads it)" : "");
        }
        log_struct(LOG_INFO, "MESSAGE=reading endpoint-mapper replies from %s for %zu pinhole set%s", what, n,
                   n == 1 ? "" : "s");
        return 0;
}

int rpc_sync(struct rpc **rp, sd_event *event, const struct pst_compiled *running, rpc_committed_fn committed,
             void *userdata) {
        _cleanup_free_ struct pst_rpc_target *t = calloc(PST_RPC_READER_TARGETS, sizeof(*t));
        struct rpc *r = *rp;
        int n, k = 0;

        if (!t)
                return log_errno(LOG_ERR, -ENOMEM, "cannot follow the rpc pinhole sets: %m");
        n = pst_rpc_targets(running, t, PST_RPC_READER_TARGETS);
        if (n < 0) /* the policy's rules are bounded long before: a message, not a limit anyone meets */
                log_errno(LOG_ERR, n, "more than %d rpc pinhole sets: %m; none is filled", PST_RPC_READER_TARGETS);
        if (!r) {
                if (n <= 0)
                        return n;
                r = calloc(1, sizeof(*r));
                if (!r)
                        return log_errno(LOG_ERR, -ENOMEM, "cannot follow the rpc pinhole sets: %m");
                *rp = r;
        }
        r->committed = committed;
        r->userdata = userdata;
        if (n <= 0) {
                if (r->reader)
                        log_msg(LOG_INFO, "no rpc pinhole sets any more: no longer reading endpoint-mapper replies");
                stop(r);
                return n;
        }
        if (r->reader)
                k = pst_rpc_reader_set_targets(r->reader, t, (size_t) n);
        if (k == -EPROTOTYPE) /* options.rpc_mechanism changed between queue and NFLOG */
                stop(r);
        if (!r->reader)
                k = start(r, event, t, (size_t) n);
        if (k >= 0)
                r->nsets = (size_t) n;
        return k;
}

struct rpc *rpc_free(struct rpc *r) {
        if (!r)
                return NULL;
        r->committed = NULL; /* posternd is going: nothing to tell */
        stop(r);
        free(r);
        return NULL;
}

void rpc_counters(const struct rpc *r, struct pst_rpc_reader_counters *ret, uint64_t *ret_sets) {
        *ret = (struct pst_rpc_reader_counters) {};
        *ret_sets = 0;
        if (!r)
                return;
        *ret = r->past;
        if (r->reader)
                add_counters(ret, pst_rpc_reader_counters(r->reader));
        *ret_sets = r->nsets;
}
