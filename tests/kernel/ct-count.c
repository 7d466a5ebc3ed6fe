/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ct-count --catalog FILE POLICY...: for each policy, compiled with this
 * namespace's interface addresses, print "POLICY: N of M cut" — how many of
 * the conntrack table's entries it would not admit as new connections
 * (lib/conntrack.h).  Exit 0, or 1 with the error.
 */
#include <stdio.h>
#include <string.h>

#include "conntrack.h"
#include "pipeline.h"

static int count(const char *catalog, const char *policy, const struct pst_ifaddrs *ifa) {
        _cleanup_(pst_compiled_freep) struct pst_compiled *c = NULL;
        struct pst_load_opts o = { .policy = policy, .catalog = catalog, .ifaddrs = ifa,
                                   .source_flags = pst_source_flags_from_env() };
        uint64_t cut, total;
        struct pst_diag d;
        int r;

        pst_diag_init(&d);
        r = pst_load_compile(&o, &d, &c);
        pst_diag_print(&d, stderr);
        pst_diag_clear(&d);
        if (r < 0)
                return r;
        r = pst_conntrack_count_cut(c->ruleset, ifa, &cut, &total);
        if (r < 0) {
                fprintf(stderr, "%s: cannot count the conntrack table: %s\n", policy, strerror(-r));
                return r;
        }
        printf("%s: %llu of %llu cut\n", strrchr(policy, '/') ? strrchr(policy, '/') + 1 : policy,
               (unsigned long long) cut, (unsigned long long) total);
        return 0;
}

int main(int argc, char **argv) {
        struct pst_ifaddrs ifa = {};
        int r = 0;

        if (argc < 4 || strcmp(argv[1], "--catalog") != 0) {
                fprintf(stderr, "usage: ct-count --catalog FILE POLICY...\n");
                return 2;
        }
        if (pst_ifaddrs_dump(&ifa) < 0)
                return 1;
        for (int i = 3; r >= 0 && i < argc; i++)
                r = count(argv[2], argv[i], &ifa);
        pst_ifaddrs_clear(&ifa);
        return r < 0 ? 1 : 0;
}
