/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The iptables backend's ordering of its two commits, in a private network
 * namespace:
 *   1. apply example 004; remember both filter tables and the ipsets;
 *   2. a ruleset (example 001) plus two chains that jump to each other only
 *      in IPv6 rules: IPv4 commits fine, the kernel refuses the IPv6 table
 *      (ELOOP) — the IPv4 table is put back, both tables and the ipsets are
 *      as in step 1, and the error says so;
 *   3. the same through the test hook (the IPv6 step fails with EIO after
 *      the IPv4 commit): again nothing changed;
 *   4. an interface-address event: pst_iptc_update_set() swaps the ipset's
 *      contents, the rules stay byte-identical;
 *   5. without ipset (PST_IPTC_IPSET_NEVER) sets become rules; a set over
 *      PST_IPTC_NOIPSET_MAX elements is refused with an error naming it and
 *      the limit, and nothing changes;
 *   6. check mode changes nothing;
 *   7. an ipset tool that fails (fault injection: "set type not supported",
 *      "Cannot open session to kernel"): the error names what the kernel
 *      lacks, nothing changes.
 * Exit 0 ok, 1 failure, 77 skipped (not root / no legacy iptables).
 */
#include <arpa/inet.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "pipeline.h"
#include "check.h"
#include "iptc.h"

/* Output of a shell command (counters zeroed, '#' lines dropped). */
static char *run(const char *cmd) {
        char full[1024], *buf = NULL;
        size_t len = 0, n;
        char chunk[4096];
        FILE *f, *m = open_memstream(&buf, &len);

        snprintf(full, sizeof(full), "%s | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]$/[0:0]/'", cmd);
        f = popen(full, "r");
        if (!f || !m)
                exit(1);
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                fwrite(chunk, 1, n, m);
        pclose(f);
        fclose(m);
        return buf;
}

static char *state(void) {
        char *v4 = run("iptables-legacy-save -t filter"), *v6 = run("ip6tables-legacy-save -t filter");
        char *sets = run("ipset save | sed 's/ initval 0x[0-9a-f]*//' | sort"), *all;

        if (asprintf(&all, "%s----\n%s----\n%s", v4, v6, sets) < 0)
                exit(1);
        free(v4);
        free(v6);
        free(sets);
        return all;
}

/* state() and the rules and user chains of the nat tables where the kernel
 * has them (reading one would create it; an apply that created one and was
 * refused leaves it, empty: iptables cannot remove a table) */
static char *nat_state(void) {
        char *f = state(),
             *n4 = run("! grep -qx nat /proc/net/ip_tables_names || iptables-legacy-save -t nat | grep -E '^(-A|:p)'"),
             *n6 = run("! grep -qx nat /proc/net/ip6_tables_names || ip6tables-legacy-save -t nat | grep -E '^(-A|:p)'"),
             *all;

        if (asprintf(&all, "%s----\n%s----\n%s", f, n4, n6) < 0)
                exit(1);
        free(f);
        free(n4);
        free(n6);
        return all;
}

static int nat_fail_family;
static int fail_nat(void *userdata, int family) {
        (void) userdata;
        return family == nat_fail_family ? -EIO : 0;
}

static int hook_calls;
static int fail_v6(void *userdata) {
        hook_calls++;
        return -EIO;
}

/* A stand-in ipset tool that fails its first line with msg, as ipset 7.17 does. */
#define FAULT_IPSET "/tmp/postern-iptc-atomic-ipset"
static void fault_ipset(struct pst_iptc_opts *o, const char *msg) {
        FILE *f = fopen(FAULT_IPSET, "we");

        if (!f || fprintf(f, "#!/bin/sh\ncat >/dev/null\necho 'ipset v7.17: Error in line 1: %s' >&2\nexit 1\n",
                          msg) < 0 || fclose(f) != 0 || chmod(FAULT_IPSET, 0755) < 0)
                exit(1);
        *o = (struct pst_iptc_opts) { .ipset_path = FAULT_IPSET };
}

static bool diag_has(const struct pst_diag *d, const char *what) {
        for (size_t i = 0; i < d->n; i++)
                if (strstr(d->items[i].msg, what))
                        return true;
        return false;
}

int main(int argc, char **argv) {
        const char *root = getenv("POSTERN_SOURCE_ROOT"), *catalog = getenv("POSTERN_CATALOG");
        _cleanup_(pst_catalog_freep) struct pst_catalog *cat = NULL;
        struct pst_ifaddrs ifa = {};
        struct pst_ruleset *good, *bad, *other;
        struct pst_diag d;
        struct pst_addr a;
        struct pst_iptc_opts o = {};
        char *before, *after;
        uint8_t ip6[16];
        uint32_t ca, cb, changed[4];
        struct pst_rule r;
        int k;

        check_private_netns();
        if (pst_iptc_available() < 0) {
                printf("skipped: no legacy iptables in this kernel\n");
                return 77;
        }
        if (pst_iptc_ipset_available(NULL) < 0) {
                printf("skipped: no ipset (tool or kernel)\n");
                return 77;
        }
        if (!root || !catalog)
                return 1;
        pst_diag_init(&d);
        if (pst_catalog_new(&cat) < 0 || pst_catalog_load(cat, catalog, pst_source_flags_from_env(), &d) < 0)
                return 1;
        pst_addr_parse("198.18.0.1", &a, NULL);
        pst_ifaddrs_add(&ifa, "ppp0", &a);
        pst_addr_parse("2001:db8::1", &a, NULL);
        pst_ifaddrs_add(&ifa, "ppp0", &a);

        /* 1 */
        good = compile_example(cat, root, "004-dialup-mail-server.conf", &ifa);
        k = pst_iptc_apply(good, NULL, &d);
        pst_diag_print(&d, stdout);
        CHECK(k == 0, "apply of example 004: %s", strerror(-k));
        before = state();

        /* 2: IPv4 fine, IPv6 a jump loop */
        bad = compile_example(cat, root, "001-citrix-exchange-rpc.conf", NULL);
        if (pst_chain_add(bad, "loop_a", PST_HOOK_NONE, PST_V_NONE, &ca) < 0 ||
            pst_chain_add(bad, "loop_b", PST_HOOK_NONE, PST_V_NONE, &cb) < 0)
                return 1;
        inet_pton(AF_INET6, "2001:db8:77::1", ip6);
        r = (struct pst_rule) { .nmatch = 1, .verdict = { PST_V_JUMP, ca } };
        pst_match_eq(&r.match[0], PST_F_IP6_SADDR, ip6, false);
        pst_rule_add(bad, (uint32_t) pst_chain_find(bad, "input"), &r);
        r.verdict.chain = cb;
        pst_rule_add(bad, ca, &r);
        r.verdict.chain = ca;
        pst_rule_add(bad, cb, &r);
        pst_diag_clear(&d);
        k = pst_iptc_apply(bad, NULL, &d);
        pst_diag_print(&d, stdout);
        CHECK(k < 0, "a ruleset with an IPv6-only jump loop was applied");
        CHECK(diag_has(&d, "refused the IPv6 filter table") && diag_has(&d, "IPv4 table was restored"),
              "the error does not say that IPv6 was refused and IPv4 restored");
        after = state();
        CHECK(streq(before, after), "the tables or sets changed:\n--- before\n%s\n--- after\n%s", before, after);
        free(after);

        /* 3: the hook */
        other = compile_example(cat, root, "000-safesquid-outlook.conf", NULL);
        o.before_v6_commit = fail_v6;
        pst_diag_clear(&d);
        k = pst_iptc_apply(other, &o, &d);
        pst_diag_print(&d, stdout);
        CHECK(k == -EIO && hook_calls == 1, "the IPv6 failure hook: %d, %d calls", k, hook_calls);
        after = state();
        CHECK(streq(before, after), "the tables changed after a failed IPv6 step:\n%s", after);
        free(after);
        o.before_v6_commit = NULL;

        /* 4: an address event */
        pst_ifaddrs_clear(&ifa);
        pst_addr_parse("198.18.0.5", &a, NULL);
        pst_ifaddrs_add(&ifa, "ppp0", &a);
        pst_addr_parse("2001:db8::1", &a, NULL);
        pst_ifaddrs_add(&ifa, "ppp0", &a);
        k = pst_ruleset_update_ifaddrs(good, &ifa, 4, changed);
        CHECK(k == 1, "one set changed (%d)", k);
        pst_diag_clear(&d);
        k = pst_iptc_update_set(good, NULL, changed[0], &d);
        pst_diag_print(&d, stdout);
        CHECK(k == 0, "update_set: %s", strerror(-k));
        after = run("ipset list postern-ifaddr_ppp0_v4 | sed -n '/^Members:/,$p'");
        CHECK(streq(after, "Members:\n198.18.0.5\n"), "the set holds:\n%s", after);
        free(after);
        {
                char *v4a = run("iptables-legacy-save -t filter"), *v4b = strdup(before);

                v4b[strstr(v4b, "----\n") - v4b] = 0;
                CHECK(streq(v4a, v4b), "update_set changed the rules");
                free(v4a);
                free(v4b);
        }
        free(before);

        /* 5: without ipset */
        o.ipset = PST_IPTC_IPSET_NEVER;
        pst_diag_clear(&d);
        k = pst_iptc_apply(good, &o, &d);
        pst_diag_print(&d, stdout);
        CHECK(k == 0, "apply without ipset: %s", strerror(-k));
        after = run("iptables-legacy-save -t filter | grep postern-input");
        CHECK(strstr(after, "-A postern-input-lan -s 198.18.1.0/24 -p tcp") &&
              strstr(after, "-A postern-input-wan -d 198.18.0.5/32 -p tcp") && !strstr(after, "match-set"),
              "without ipset the sets are not rules:\n%s", after);
        free(after);
        after = run("ipset list -n");
        CHECK(streq(after, ""), "the ipsets of the previous apply were not removed: %s", after);
        free(after);
        before = state();
        {
                int zi = pst_set_find(good, "zone_lan_v4");
                uint8_t ip[4] = { 198, 18, 200, 0 };

                for (int i = 0; zi >= 0 && i < PST_IPTC_NOIPSET_MAX + 10; i++) {
                        ip[2] = (uint8_t) (200 + 2 * i / 256); /* not adjacent: no merging */
                        ip[3] = (uint8_t) (2 * i);
                        pst_set_add_elem(&good->sets[zi], ip, NULL, NULL);
                }
                pst_set_normalize(&good->sets[zi]);
        }
        pst_diag_clear(&d);
        k = pst_iptc_apply(good, &o, &d);
        pst_diag_print(&d, stdout);
        CHECK(k == -E2BIG && diag_has(&d, "set 'zone_lan_v4'") && diag_has(&d, "at most 256"),
              "a set over the limit without ipset: %d", k);
        after = state();
        CHECK(streq(before, after), "a refused apply changed the tables");
        free(after);

        /* 6: check mode */
        o = (struct pst_iptc_opts) { .check_only = true };
        pst_diag_clear(&d);
        k = pst_iptc_apply(other, &o, &d);
        CHECK(k == 0, "check mode: %s", strerror(-k));
        after = state();
        CHECK(streq(before, after), "check mode changed the tables");
        free(after);

        /* 7: ipset(8) says the kernel lacks the set type: the error names the module */
        fault_ipset(&o, "Kernel error received: set type not supported");
        pst_diag_clear(&d);
        k = pst_iptc_apply(good, &o, &d);
        pst_diag_print(&d, stdout);
        CHECK(k == -EIO && diag_has(&d, "ipset v7.17: Error in line 1: Kernel error received: set type not supported "
                                        "(the kernel has no ip_set_hash_net module, or cannot load it)"),
              "a missing set type: %d", k);
        fault_ipset(&o, "Cannot open session to kernel.");
        pst_diag_clear(&d);
        k = pst_iptc_apply(good, &o, &d);
        pst_diag_print(&d, stdout);
        CHECK(k == -EIO && diag_has(&d, "Cannot open session to kernel. (ipset(8) could not open its "
                                        "NETLINK_NETFILTER socket, or the kernel has no ip_set)"),
              "no ipset session: %d", k);
        after = state();
        CHECK(streq(before, after), "a refused ipset create changed the tables");
        free(after);
        free(before);
        unlink(FAULT_IPSET);

        /* 8: NAT: a refused nat table, IPv4 or IPv6, puts back every table
         * committed before it (filter of both families, IPv4 nat) */
        {
                struct pst_ruleset *nat = compile_example(cat, root, "004-dialup-masquerade.conf", &ifa),
                                   *nat6 = compile_example(cat, root, "../../tests/golden/nat-forward-ipv6.conf", &ifa);

                o = (struct pst_iptc_opts) { .before_nat_commit = fail_nat };
                pst_diag_clear(&d);
                k = pst_iptc_apply(nat, &o, &d);
                pst_diag_print(&d, stdout);
                CHECK(k == 0, "apply of 004-dialup-masquerade: %s", strerror(-k));
                before = nat_state();
                CHECK(strstr(before, "-j MASQUERADE") != NULL, "no MASQUERADE in table nat:\n%s", before);
                for (nat_fail_family = 4; nat_fail_family <= 6; nat_fail_family += 2) {
                        pst_diag_clear(&d);
                        k = pst_iptc_apply(nat6, &o, &d);
                        pst_diag_print(&d, stdout);
                        CHECK(k == -EIO && diag_has(&d, nat_fail_family == 4 ? "refused the IPv4 nat table"
                                                                               : "refused the IPv6 nat table") &&
                                      diag_has(&d, "restored to their previous rules"),
                              "a refused IPv%d nat table: %d", nat_fail_family, k);
                        after = nat_state();
                        CHECK(streq(before, after), "a refused IPv%d nat table changed the tables:\n--- before\n%s\n"
                              "--- after\n%s", nat_fail_family, before, after);
                        free(after);
                }
                nat_fail_family = 0;
                pst_diag_clear(&d);
                k = pst_iptc_apply(nat6, &o, &d);
                CHECK(k == 0, "apply of nat-forward-ipv6: %s", strerror(-k));
                after = run("ip6tables-legacy-save -t nat | grep -c 'DNAT --to-destination'");
                CHECK(streq(after, "3\n"), "IPv6 DNAT rules: %s", after);
                free(after);
                free(before);
                pst_ruleset_free(nat);
                pst_ruleset_free(nat6);
        }

        pst_ruleset_free(good);
        pst_ruleset_free(bad);
        pst_ruleset_free(other);
        pst_ifaddrs_clear(&ifa);
        pst_diag_clear(&d);
        return failed;
}
