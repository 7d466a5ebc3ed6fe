/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel features without a kernel (lib/kernel-features.h): the feature
 * table and the oldest supported kernel agree; what compiled policies and
 * the emergency ruleset need; the error that names a missing feature with
 * its policy line and Linux version; the JSON shape the README documents.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glob.h>

#include "emergency.h"
#include "kernel-features.h"
#include "rpc.h"
#include "pipeline.h"

/* "5.10" → 5010 */
static unsigned version(const char *v) {
        unsigned major = 0, minor = 0;

        assert_int_equal(sscanf(v, "%u.%u", &major, &minor), 2);
        return major * 1000 + minor;
}

static uint32_t all_features(void) {
        return (UINT32_C(1) << _PST_FEAT_MAX) - 1;
}

static void test_table(void **state) {
        unsigned newest_used = 0;

        for (unsigned i = 0; i < _PST_FEAT_MAX; i++) {
                const struct pst_feature_info *fi = pst_feature_info(i);

                assert_non_null(fi);
                assert_non_null(fi->name);
                assert_non_null(fi->what);
                for (unsigned k = 0; k < i; k++)
                        assert_string_not_equal(fi->name, pst_feature_info(k)->name);
                if (fi->used && version(fi->since) > newest_used)
                        newest_used = version(fi->since);
        }
        assert_null(pst_feature_info(_PST_FEAT_MAX));
        /* concatenated ranges (5.6) are the newest thing postern emits; the
         * oldest supported kernel is the first LTS with them */
        assert_int_equal(newest_used, 5006);
        assert_true(version(PST_KERNEL_OLDEST) >= newest_used);
        assert_int_equal(version(PST_KERNEL_OLDEST), 5010);
        /* the ownership flags are reported, never needed (README, "No ownership flags") */
        assert_false(pst_feature_info(PST_FEAT_TABLE_OWNER)->used);
        assert_false(pst_feature_info(PST_FEAT_TABLE_PERSIST)->used);
        assert_string_equal(pst_feature_info(PST_FEAT_TABLE_PERSIST)->since, "6.9");
        assert_string_equal(pst_feature_info(PST_FEAT_TABLE_OWNER)->since, "5.12");
}

static struct pst_compiled *compile(const char *path) {
        struct pst_compiled *pc = NULL;
        struct pst_diag d;

        pst_diag_init(&d);
        if (pst_load_compile(&(struct pst_load_opts) { .policy = path, .catalog = getenv("POSTERN_CATALOG"),
                                                       .source_flags = pst_source_flags_from_env() },
                             &d, &pc) < 0) {
                pst_diag_print(&d, stderr);
                fail_msg("%s does not compile", path);
        }
        pst_diag_clear(&d);
        return pc;
}

static uint32_t needed_mask(const struct pst_ruleset *rs) {
        struct pst_feature_use u[_PST_FEAT_MAX];
        uint32_t m = 0;

        pst_features_needed(rs, u);
        for (unsigned i = 0; i < _PST_FEAT_MAX; i++)
                if (u[i].needed)
                        m |= UINT32_C(1) << i;
        return m;
}

#define BIT(f) (UINT32_C(1) << (f))

/* Every golden policy and seed example needs only features marked "used",
 * and together they need every one of them (the marks are not stale). */
static void test_policies_need_used_only(void **state) {
        const char *root = getenv("POSTERN_SOURCE_ROOT");
        uint32_t used = 0, seen = 0;
        char pattern[512];
        glob_t g;

        assert_non_null(root);
        for (unsigned i = 0; i < _PST_FEAT_MAX; i++)
                if (pst_feature_info(i)->used)
                        used |= BIT(i);
        for (int k = 0; k < 2; k++) {
                snprintf(pattern, sizeof(pattern), "%s/%s", root, k ? "conf/examples/*.conf" : "tests/golden/*.conf");
                assert_int_equal(glob(pattern, 0, NULL, &g), 0);
                for (size_t i = 0; i < g.gl_pathc; i++) {
                        _cleanup_(pst_compiled_freep) struct pst_compiled *pc = compile(g.gl_pathv[i]);
                        uint32_t m = needed_mask(pc->ruleset);

                        if (m & ~used)
                                fail_msg("%s needs features not marked used: %#x", g.gl_pathv[i], m & ~used);
                        seen |= m;
                }
                globfree(&g);
        }
        assert_int_equal(seen, used);
}

/* The emergency ruleset must apply on every kernel postern can run on, and
 * far below the oldest supported one: nothing newer than 3.14. */
static void test_emergency_needs_little(void **state) {
        struct pst_emergency e = { .ssh = true, .nfrom = 2 };
        struct pst_ruleset *rs = NULL;
        uint32_t m;

        assert_int_equal(pst_emergency_ruleset(NULL, &rs), 0);
        m = needed_mask(rs);
        pst_ruleset_free(rs);
        assert_int_equal(m, BIT(PST_FEAT_INET_FILTER) | BIT(PST_FEAT_META) | BIT(PST_FEAT_PAYLOAD) |
                                    BIT(PST_FEAT_CT_STATE) | BIT(PST_FEAT_VERDICT_MAP));

        assert_int_equal(pst_addr_parse("198.18.9.0/24", &e.from[0], NULL), 0);
        assert_int_equal(pst_addr_parse("2001:db8:9::/48", &e.from[1], NULL), 0);
        assert_int_equal(pst_emergency_ruleset(&e, &rs), 0);
        m = needed_mask(rs);
        pst_ruleset_free(rs);
        assert_int_equal(m, BIT(PST_FEAT_INET_FILTER) | BIT(PST_FEAT_META) | BIT(PST_FEAT_PAYLOAD) |
                                    BIT(PST_FEAT_CT_STATE) | BIT(PST_FEAT_VERDICT_MAP) | BIT(PST_FEAT_COUNTER));

        e.nfrom = 3; /* two IPv4 networks */
        assert_int_equal(pst_addr_parse("198.18.7.0/24", &e.from[2], NULL), 0);
        assert_int_equal(pst_emergency_ruleset(&e, &rs), 0);
        m = needed_mask(rs);
        pst_ruleset_free(rs);
        assert_int_equal(m, BIT(PST_FEAT_INET_FILTER) | BIT(PST_FEAT_META) | BIT(PST_FEAT_PAYLOAD) |
                                    BIT(PST_FEAT_CT_STATE) | BIT(PST_FEAT_VERDICT_MAP) | BIT(PST_FEAT_COUNTER));
        for (unsigned i = 0; i < _PST_FEAT_MAX; i++)
                if (m & BIT(i))
                        assert_true(version(pst_feature_info(i)->since) <= 3014);
}

static struct pst_features fake(uint32_t present) {
        struct pst_features f = { .release = "5.4.0-42-generic", .nftables = true, .present = present };

        for (unsigned i = 0; i < _PST_FEAT_MAX; i++)
                if (!(present & BIT(i)))
                        f.error[i] = -EOPNOTSUPP;
        return f;
}

/* A kernel without concatenated ranges: the one set that needs them is
 * named, with its policy line and the version; nothing else is. */
static void test_explain(void **state) {
        const char *root = getenv("POSTERN_SOURCE_ROOT");
        struct pst_features f = fake(all_features() & ~BIT(PST_FEAT_CONCAT_INTERVAL));
        _cleanup_(pst_compiled_freep) struct pst_compiled *pc = NULL;
        _cleanup_free_ char *msg = NULL;
        char path[512];
        struct pst_diag d;

        snprintf(path, sizeof(path), "%s/tests/golden/many-host-rules.conf", root);
        pc = compile(path);
        pst_diag_init(&d);
        assert_int_equal(pst_features_explain(&f, pc->ruleset, &d), 1);
        assert_int_equal(d.n, 1);
        msg = pst_diag_item_format(&d.items[0]);
        assert_non_null(strstr(msg, "many-host-rules.conf:"));
        assert_non_null(strstr(msg, ": set forward_hosts_v4_tcp needs concatenated interval sets (ranges in ip saddr "
                                    ". tcp dport keys) (Linux 5.6, feature concat_interval): this kernel "
                                    "(5.4.0-42-generic) does not have it (Operation not supported)"));
        assert_true(d.items[0].line > 0);
        pst_diag_clear(&d);

        /* the same kernel with everything: nothing to say; and a kernel that
         * could not be probed says nothing either (no guessing) */
        f = fake(all_features());
        pst_diag_init(&d);
        assert_int_equal(pst_features_explain(&f, pc->ruleset, &d), 0);
        f = fake(0);
        f.probe_error = -EPERM;
        assert_int_equal(pst_features_explain(&f, pc->ruleset, &d), 0);
        assert_int_equal(d.n, 0);
        pst_diag_clear(&d);
}

static void test_supported(void **state) {
        struct pst_features f = fake(all_features() & ~BIT(PST_FEAT_TABLE_PERSIST) & ~BIT(PST_FEAT_QUEUE));

        assert_true(pst_features_supported(&f)); /* Debian 12's 6.1 without nft_queue */
        f = fake(all_features() & ~BIT(PST_FEAT_CONCAT_INTERVAL));
        assert_false(pst_features_supported(&f));
        f = fake(all_features());
        f.probe_error = -EPERM;
        assert_false(pst_features_supported(&f));
        assert_false(pst_features_has(&f, PST_FEAT_META));
}

/* What options.rpc_mechanism may use (pipeline.c): the probe's two bits, PROBED, nothing unprobed. */
static void test_rpc_offer(void **state) {
        struct pst_features f = fake(all_features());

        (void) state;
        assert_int_equal(pst_features_rpc_offer(&f), PST_RPC_MECH_PROBED | PST_RPC_MECH_KERNEL | PST_RPC_MECH_QUEUE);
        f = fake(all_features() & ~BIT(PST_FEAT_QUEUE));
        assert_int_equal(pst_features_rpc_offer(&f), PST_RPC_MECH_PROBED | PST_RPC_MECH_KERNEL);
        f = fake(all_features() & ~BIT(PST_FEAT_RPC_KERNEL) & ~BIT(PST_FEAT_QUEUE));
        assert_int_equal(pst_features_rpc_offer(&f), PST_RPC_MECH_PROBED);
        f.probe_error = -EPERM;
        assert_int_equal(pst_features_rpc_offer(&f), 0);
}

/* The shape README documents for --version --json and status --json. */
static void test_json(void **state) {
        struct pst_features f = fake(all_features() & ~BIT(PST_FEAT_TABLE_PERSIST) & ~BIT(PST_FEAT_QUEUE));
        char *text = NULL;
        size_t len = 0;
        struct pst_json j;
        FILE *m;

        f.legacy[PST_LEGACY_IP_TABLES] = PST_PRESENT;
        f.legacy[PST_LEGACY_IP6_TABLES] = PST_LOADABLE;
        f.usec = 1234;
        m = open_memstream(&text, &len);
        assert_non_null(m);
        pst_json_init(&j, m);
        pst_features_json(&f, &j, NULL);
        fclose(m);
        assert_string_equal(text,
                            "{\"release\":\"5.4.0-42-generic\",\"oldest_supported\":\"5.10\",\"supported\":true,"
                            "\"nftables\":true,\"probe_error\":null,\"probe_usec\":1234,\"probe_private_namespace\":false,"
                            "\"features\":{"
                            "\"inet_filter\":true,\"meta\":true,\"payload\":true,\"ct_state\":true,"
                            "\"verdict_map\":true,\"interval_set\":true,\"concat\":true,\"concat_interval\":true,"
                            "\"counter\":true,\"limit\":true,\"log\":true,\"set_timeout\":true,\"queue\":false,"
                            "\"inner_payload\":true,\"table_owner\":true,\"table_persist\":false,\"rpc_kernel\":true},"
                            "\"legacy\":{\"ip_tables\":\"present\",\"ip6_tables\":\"loadable\",\"ip_set\":\"absent\"}}\n");
        free(text);

        f.probe_error = -EPERM;
        text = NULL;
        m = open_memstream(&text, &len);
        pst_json_init(&j, m);
        pst_features_json(&f, &j, NULL);
        fclose(m);
        assert_non_null(strstr(text, "\"supported\":null,\"nftables\":null,\"probe_error\":\"Operation not "
                                     "permitted (the probe needs CAP_NET_ADMIN: run as root)\""));
        assert_non_null(strstr(text, "\"features\":{\"inet_filter\":null,"));
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table),
                cmocka_unit_test(test_policies_need_used_only),
                cmocka_unit_test(test_emergency_needs_little),
                cmocka_unit_test(test_explain),
                cmocka_unit_test(test_supported),
                cmocka_unit_test(test_json),
                cmocka_unit_test(test_rpc_offer),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
