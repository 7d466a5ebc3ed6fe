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
 * NEXT may be POLICY,LIST=SRC: LIST gets SRC's bytes first (swap_list).
 * Prints one JSON object per reload: {"policy","catalog_us","load_us",
 * "compile_us","kernel_us","lines_parsed","lists_only","what"} (catalog_us
 * and compile_us 0: load_us is the whole pst_load_compile).
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

/* "POLICY,LIST=SRC": SRC's bytes become LIST's (written aside and renamed
 * over it, as an editor does) before POLICY loads: a list edited in place,
 * what the list-only reload (pipeline.h) is for. */
static int swap_list(char *arg) {
        char *comma = strchr(arg, ','), *eq, *tmp = NULL;
        char buf[65536];
        FILE *in, *out;
        size_t n;
        int r = 0;

        if (!comma)
                return 0;
        *comma = 0;
        eq = strchr(comma + 1, '=');
        if (!eq)
                return -EINVAL;
        *eq = 0;
        if (asprintf(&tmp, "%s.new", comma + 1) < 0)
                return -ENOMEM;
        in = fopen(eq + 1, "re");
        out = fopen(tmp, "we");
        while (in && out && (n = fread(buf, 1, sizeof(buf), in)) > 0)
                if (fwrite(buf, 1, n, out) != n)
                        r = -EIO;
        if (!in || !out || ferror(in))
                r = errno ? -errno : -EIO;
        if (in)
                fclose(in);
        if (out && fclose(out) != 0)
                r = -EIO;
        if (r >= 0 && rename(tmp, comma + 1) < 0)
                r = -errno;
        free(tmp);
        *comma = ',';
        *eq = '=';
        return r;
}

/* One load + compile + reload of arg (swap_list); the timings to stdout.
 * load_us is all of pst_load_compile (catalog, policy, compile; or the
 * list-only reload), as posternd calls it: previous = what runs. */
static int reload_one(struct ctx *x, char *arg) {
        _cleanup_(pst_compiled_freep) struct pst_compiled *c = NULL;
        struct pst_delta_stats st = { .full = true };
        struct pst_list_cache_stats ls;
        struct pst_diag diag;
        _cleanup_free_ char *path = strndup(arg, strcspn(arg, ","));
        uint64_t t[3];
        char what[256];
        int r;

        if (!path)
                return -ENOMEM;
        r = swap_list(arg);
        if (r < 0)
                return r;
        pst_diag_init(&diag);
        t[0] = now_us();
        r = pst_load_compile(&(struct pst_load_opts) { .policy = path, .catalog = x->catalog, .ifaddrs = &x->ifa,
                                                       .source_flags = pst_source_flags_from_env(),
                                                       .list_cache = x->cache, .previous = x->running },
                             &diag, &c);
        t[1] = now_us();
        if (r >= 0)
                r = pst_backend_reload(x->b, x->running ? x->running->ruleset : NULL, c->ruleset, &st, &diag);
        t[2] = now_us();
        if (r < 0) {
                pst_diag_print(&diag, stderr);
                pst_diag_clear(&diag);
                return r;
        }
        pst_diag_clear(&diag);
        pst_list_cache_stats(x->cache, &ls);
        pst_delta_stats_format(&st, what, sizeof(what));
        printf("{\"policy\":\"%s\",\"catalog_us\":0,\"load_us\":%llu,\"compile_us\":0,\"kernel_us\":%llu,"
               "\"lines_parsed\":%zu,\"lists_only\":%s,\"what\":\"%s\"}\n",
               path, (unsigned long long) (t[1] - t[0]), (unsigned long long) (t[2] - t[1]), ls.lines_parsed,
               c->lists_only ? "true" : "false", what);
        pst_compiled_free(x->running);
        x->running = TAKE_PTR(c);
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
