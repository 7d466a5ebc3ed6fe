/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * phases — where `posternctl apply` spends its time: the same pipeline
 * (catalog, policy, compile, batch, kernel), timed phase by phase in one
 * process.  Run it in a private network namespace.
 *
 *   phases --policy FILE --catalog FILE [--ifaddr IF=ADDR]
 *
 * Prints {"catalog_us","load_us","compile_us","build_us","commit_us","bytes","msgs"}.
 * commit_us is pst_nft_batch_send(): sendmsg() until the last ACK, which is
 * what the floor's commit_us measures too.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <time.h>

#include "pipeline.h"
#include "compile.h"
#include "nft.h"
#include "policy.h"
#include "bench.h"

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "policy", required_argument, NULL, 'p' },
                { "catalog", required_argument, NULL, 'c' },
                { "ifaddr", required_argument, NULL, 'i' },
                {},
        };
        const char *policy = NULL, *catalog = NULL;
        _cleanup_(pst_catalog_freep) struct pst_catalog *cat = NULL;
        struct pst_policy *p = NULL;
        struct pst_ruleset *rs = NULL;
        struct pst_nft_batch *b = NULL;
        struct pst_nft *nft = NULL;
        struct pst_ifaddrs ifa = {};
        struct pst_apply_opts o = {};
        struct pst_diag diag;
        uint64_t t[6];
        int opt, r;

        pst_diag_init(&diag);
        while ((opt = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (opt) {
                case 'p':
                        policy = optarg;
                        break;
                case 'c':
                        catalog = optarg;
                        break;
                case 'i': {
                        char *eq = strchr(optarg, '=');
                        struct pst_addr a;

                        if (!eq || pst_addr_parse(eq + 1, &a, NULL) < 0)
                                return 2;
                        *eq = 0;
                        if (pst_ifaddrs_add(&ifa, optarg, &a) < 0)
                                return 2;
                        break;
                }
                default:
                        return 2;
                }
        if (!policy || !catalog) {
                fprintf(stderr, "usage: phases --policy FILE --catalog FILE [--ifaddr IF=ADDR]\n");
                return 2;
        }
        t[0] = now_us();
        r = pst_catalog_new(&cat);
        if (r >= 0)
                r = pst_catalog_load(cat, catalog, pst_source_flags_from_env(), &diag);
        t[1] = now_us();
        if (r >= 0)
                r = pst_policy_load(policy, cat, pst_source_flags_from_env(), &diag, &p);
        t[2] = now_us();
        if (r >= 0)
                r = pst_compile(p, &ifa, &diag, &rs);
        t[3] = now_us();
        if (r >= 0)
                r = pst_nft_batch_build(rs, &o, 1, &b, &diag);
        t[4] = now_us();
        if (r >= 0)
                r = pst_nft_open(&nft);
        if (r >= 0) {
                t[4] = now_us(); /* the socket is not part of the commit */
                r = pst_nft_batch_send(nft, b, &diag);
        }
        t[5] = now_us();
        if (r < 0) {
                pst_diag_print(&diag, stderr);
                return 2;
        }
        printf("{\"catalog_us\":%llu,\"load_us\":%llu,\"compile_us\":%llu,\"build_us\":%llu,\"commit_us\":%llu,"
               "\"bytes\":%zu,\"msgs\":%zu}\n",
               (unsigned long long) (t[1] - t[0]), (unsigned long long) (t[2] - t[1]),
               (unsigned long long) (t[3] - t[2]), (unsigned long long) (t[4] - t[3]),
               (unsigned long long) (t[5] - t[4]), pst_nft_batch_len(b), pst_nft_batch_nmsgs(b));
        pst_nft_batch_free(b);
        pst_nft_close(nft);
        pst_ruleset_free(rs);
        pst_policy_free(p);
        pst_ifaddrs_clear(&ifa);
        pst_diag_clear(&diag);
        return 0;
}
