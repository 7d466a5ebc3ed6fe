/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Runs lib/rpc-reader.c alone (what posternd will run in its event loop), in
 * the namespace it is started in, for the pinhole tests:
 *   rpc-reader --set rpc_1_v4 [--if UUID]... [--queue Q] [--seconds N]
 * reads NFLOG group 18, or with --queue the replies held in NFQUEUE Q (the
 * set's pst_set.queue: 18 for a policy's first forward pinhole set);
 * prints "ready", then one "added ... latency_us=N" line per element and the
 * counters when it ends (SIGTERM or after N seconds, default 60).
 */
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include "rpc-reader.h"

static volatile sig_atomic_t stop;

static void on_term(int sig) {
        (void) sig;
        stop = 1;
}

int main(int argc, char **argv) {
        _cleanup_(pst_rpc_reader_freep) struct pst_rpc_reader *r = NULL;
        struct pst_rpc_target t = { .family = AF_INET };
        struct pst_rpc_source src = { .kind = PST_RPC_SOURCE_NFLOG, .group = PST_RPC_NFLOG_GROUP };
        const struct pst_rpc_reader_counters *c;
        uint64_t end, added = 0;
        int seconds = 60, k;

        for (int i = 1; i + 1 < argc; i += 2) {
                if (streq(argv[i], "--set"))
                        snprintf(t.set, sizeof(t.set), "%s", argv[i + 1]);
                else if (streq(argv[i], "--if") && t.nifs < PST_RPC_IFS_MAX &&
                         pst_dcerpc_uuid_parse(argv[i + 1], t.ifs[t.nifs]) == 0)
                        t.nifs++;
                else if (streq(argv[i], "--queue")) {
                        src.kind = PST_RPC_SOURCE_QUEUE;
                        t.queue = (uint16_t) atoi(argv[i + 1]);
                } else if (streq(argv[i], "--seconds"))
                        seconds = atoi(argv[i + 1]);
                else {
                        fprintf(stderr, "rpc-reader: bad argument %s\n", argv[i]);
                        return 2;
                }
        }
        if (strstr(t.set, "_v6"))
                t.family = AF_INET6;
        signal(SIGTERM, on_term);
        signal(SIGINT, on_term);
        k = pst_rpc_reader_open(&src, &t, 1, &r);
        if (k < 0) {
                fprintf(stderr, "rpc-reader: %s\n", strerror(-k));
                return 1;
        }
        printf("ready\n");
        fflush(stdout);
        c = pst_rpc_reader_counters(r);
        end = now_usec() + (uint64_t) seconds * 1000000;
        while (!stop && now_usec() < end) {
                struct pollfd p = { .fd = pst_rpc_reader_fd(r), .events = POLLIN };

                if (poll(&p, 1, 100) > 0 && (k = pst_rpc_reader_process(r)) < 0)
                        fprintf(stderr, "rpc-reader: %s\n", strerror(-k));
                if (c->added != added) {
                        added = c->added;
                        printf("added %" PRIu64 " latency_us=%" PRIu64 "\n", added, c->last_latency_us);
                        fflush(stdout);
                }
        }
        printf("packets=%" PRIu64 " added=%" PRIu64 " refused=%" PRIu64 " skipped=%" PRIu64 " unparsed=%" PRIu64
               " lost=%" PRIu64 " verdicts=%" PRIu64 "\n",
               c->packets, c->added, c->refused, c->skipped, c->unparsed, c->lost, c->verdicts);
        return 0;
}
