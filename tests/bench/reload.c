/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * reload — where posternd's reload of a large policy spends its time,
 * in one process and without D-Bus: FIRST is loaded (through a list cache,
 * list-cache.h, as posternd does) and applied whole, then each NEXT in turn
 * (and FIRST again) is loaded through the same cache, compiled and sent as
 * the delta from what runs (pst_backend_reload).  Run it in a private
 * network namespace; perf it to see the phases' insides.
 *
 *   reload --catalog FILE [--ifaddr IF=ADDR] [--rounds N] FIRST NEXT...
 *
 * Prints one JSON object per reload: {"policy","catalog_us","load_us",
 * "compile_us","kernel_us","lines_parsed","what"}.
 */
#include <getopt.h>
#include <time.h>

#include "backend.h"
#include "list-cache.h"
#include "nft-delta.h"
#include "pipeline.h"
#include "bench.h"

struct ctx {
        const char *catalog;
        struct pst_ifaddrs ifa;
        struct pst_list_cache *cache;
        struct pst_backend *b;
        struct pst_compiled *running;
};

/* One load + compile + reload of path; the timings to stdout. */
static int reload_one(struct ctx *x, const char *path) {
        struct pst_compiled *c = calloc(1, sizeof(*c));
        struct pst_delta_stats st = { .full = true };
        struct pst_list_cache_stats ls;
        struct pst_diag diag;
        uint64_t t[5];
        char what[256];
        int r;

        if (!c)
                return -ENOMEM;
        pst_diag_init(&diag);
        t[0] = now_us();
        r = pst_catalog_load_default(&c->catalog, x->catalog, pst_source_flags_from_env(), &diag);
        t[1] = now_us();
        if (r >= 0)
                r = pst_policy_load_cached(path, &c->catalog, pst_source_flags_from_env(), x->cache, &diag,
                                           &c->policy);
        t[2] = now_us();
        if (r >= 0)
                r = pst_compile(c->policy, &x->ifa, &diag, &c->ruleset);
        t[3] = now_us();
        if (r >= 0)
                r = pst_backend_reload(x->b, x->running ? x->running->ruleset : NULL, c->ruleset, &st, &diag);
        t[4] = now_us();
        if (r < 0) {
                pst_diag_print(&diag, stderr);
                pst_diag_clear(&diag);
                pst_compiled_free(c);
                return r;
        }
        pst_diag_clear(&diag);
        pst_list_cache_stats(x->cache, &ls);
        pst_delta_stats_format(&st, what, sizeof(what));
        printf("{\"policy\":\"%s\",\"catalog_us\":%llu,\"load_us\":%llu,\"compile_us\":%llu,\"kernel_us\":%llu,"
               "\"lines_parsed\":%zu,\"what\":\"%s\"}\n",
               path, (unsigned long long) (t[1] - t[0]), (unsigned long long) (t[2] - t[1]),
               (unsigned long long) (t[3] - t[2]), (unsigned long long) (t[4] - t[3]), ls.lines_parsed, what);
        pst_compiled_free(x->running);
        x->running = c;
        return 0;
}

static int parse_args(int argc, char **argv, struct ctx *x, int *rounds) {
        static const struct option opts[] = {
                { "catalog", required_argument, NULL, 'c' },
                { "ifaddr", required_argument, NULL, 'i' },
                { "rounds", required_argument, NULL, 'r' },
                {},
        };
        int opt;

        while ((opt = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                if (opt == 'c')
                        x->catalog = optarg;
                else if (opt == 'r')
                        *rounds = atoi(optarg);
                else if (opt == 'i') {
                        char *eq = strchr(optarg, '=');
                        struct pst_addr a;

                        if (!eq || pst_addr_parse(eq + 1, &a, NULL) < 0)
                                return -EINVAL;
                        *eq = 0;
                        if (pst_ifaddrs_add(&x->ifa, optarg, &a) < 0)
                                return -ENOMEM;
                } else
                        return -EINVAL;
        return optind < argc - 1 && x->catalog ? 0 : -EINVAL;
}

int main(int argc, char **argv) {
        struct ctx x = {};
        struct pst_diag diag;
        int rounds = 3, r;

        pst_diag_init(&diag);
        if (parse_args(argc, argv, &x, &rounds) < 0) {
                fprintf(stderr, "usage: reload --catalog FILE [--ifaddr IF=ADDR] [--rounds N] FIRST NEXT...\n");
                return 2;
        }
        r = pst_list_cache_new(&x.cache);
        if (r >= 0)
                r = pst_backend_open(PST_BACKEND_NFTABLES, &diag, &x.b);
        if (r >= 0)
                r = reload_one(&x, argv[optind]);
        if (r >= 0) { /* as posternd: watched, so the handles of what runs are kept */
                int fd;

                r = pst_backend_watch_open(x.b, x.running->ruleset->table, &fd);
        }
        for (int k = 0; r >= 0 && k < rounds; k++)
                for (int i = optind + 1; r >= 0 && i <= argc; i++)
                        r = reload_one(&x, i < argc ? argv[i] : argv[optind]);
        if (r < 0)
                pst_diag_print(&diag, stderr);
        pst_compiled_free(x.running);
        pst_backend_close(x.b);
        pst_list_cache_free(x.cache);
        pst_ifaddrs_clear(&x.ifa);
        pst_diag_clear(&diag);
        return r < 0 ? 2 : 0;
}
