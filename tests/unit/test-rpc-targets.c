/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/rpc-targets.c: the reply reader's sets from a compiled policy — one
 * per pinhole set whose replies are copied or queued, a forward rule's (in
 * the forward chain) and an input rule's (in the output chain), with its
 * rule's interfaces and queue; none for a rule without rpc.  And the output
 * chain itself: there exactly while an input rule has rpc.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>

#include "ir.h"
#include "pipeline.h"
#include "rpc-targets.h"
#include "policy-fixture.h"

static struct pst_compiled *load(const char *text) {
        struct pst_compiled *c = NULL;
        struct pst_diag d;
        char path[128];

        write_file("p.conf", text);
        snprintf(path, sizeof(path), "%s/p.conf", dir);
        pst_diag_init(&d);
        if (pst_load_compile(&(struct pst_load_opts) { .policy = path, .catalog = getenv("POSTERN_CATALOG"),
                                                       .source_flags = pst_source_flags_from_env() },
                             &d, &c) < 0)
                pst_diag_print(&d, stderr);
        pst_diag_clear(&d);
        assert_non_null(c);
        return c;
}

static void test_targets(void **state) {
        struct pst_compiled *c = load(
                "options = { ipv6 = true; };\n"
                "hosts = { cag = [\"198.18.3.5\", \"2001:db8:3::5\"]; ex = [\"198.18.2.10\", \"2001:db8:2::10\"]; };\n"
                "input = ( { allow = \"msrpc-epmap\"; from = \"cag\"; rpc = true; } );\n"
                "forward = (\n"
                "  { allow = \"ssh\"; from = \"cag\"; to = \"ex\"; },\n"
                "  { allow = \"msrpc-epmap\"; from = \"cag\"; to = \"ex\"; rpc = { interfaces = [\"srvsvc\", \"lsarpc\"]; }; }\n"
                ");\n");
        struct pst_rpc_target t[6];
        const struct pst_chain *out;
        int oi;
        /* 4b324fc8-1670-01d3-1278-5a47bf6ee188 in RFC 4122 byte order (rpc.h) */
        const uint8_t srvsvc[16] = { 0x4b, 0x32, 0x4f, 0xc8, 0x16, 0x70, 0x01, 0xd3,
                                     0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88 };
        int n = pst_rpc_targets(c, t, 6);

        /* rule 3 (forward) one per family, from the forward chain's copies;
         * rule 1 (input) one per family, from the output chain's, which comes last */
        assert_int_equal(n, 4);
        assert_string_equal(t[0].set, "rpc_3_v4");
        assert_int_equal(t[0].family, AF_INET);
        assert_string_equal(t[1].set, "rpc_3_v6");
        assert_int_equal(t[1].family, AF_INET6);
        assert_int_equal(t[0].nifs, 2);
        assert_int_equal(t[1].nifs, 2);
        assert_memory_equal(t[0].ifs[0], srvsvc, 16);
        assert_string_equal(t[2].set, "rpc_1_v4");
        assert_int_equal(t[2].family, AF_INET);
        assert_string_equal(t[3].set, "rpc_1_v6");
        assert_int_equal(t[3].family, AF_INET6);
        assert_int_equal(t[2].nifs, 0);
        assert_int_equal(t[3].nifs, 0);
        for (int i = 0; i < 4; i++)
                assert_int_equal(t[i].queue, 0);
        assert_int_equal(pst_rpc_targets(c, t, 3), -E2BIG);
        /* the output chain: hook output, policy accept, only the input rule's two copies */
        oi = pst_chain_find(c->ruleset, "output");
        assert_true(oi >= 0);
        out = &c->ruleset->chains[oi];
        assert_int_equal(out->hook, PST_HOOK_OUTPUT);
        assert_int_equal(out->policy, PST_V_ACCEPT);
        assert_int_equal(out->priority, 0);
        assert_int_equal(out->n, 2);
        assert_string_equal(out->rules[0].log_prefix, "rpc_1_v4");
        assert_string_equal(out->rules[1].log_prefix, "rpc_1_v6");
        pst_compiled_free(c);

        /* queues in one numbering space, policy order: the input rule's first */
        c = load("options = { rpc_mechanism = \"queue\"; };\n"
                 "hosts = { cag = \"198.18.3.5\"; ex = \"198.18.2.10\"; };\n"
                 "input = ( { allow = \"msrpc-epmap\"; from = \"cag\"; to = \"198.18.2.1\"; rpc = true; } );\n"
                 "forward = ( { allow = \"msrpc-epmap\"; from = \"cag\"; to = \"ex\"; rpc = true; } );\n");
        assert_int_equal(pst_rpc_targets(c, t, 6), 2);
        assert_string_equal(t[0].set, "rpc_2_v4");
        assert_int_equal(t[0].queue, PST_RPC_QUEUE_BASE + 1);
        assert_string_equal(t[1].set, "rpc_1_v4");
        assert_int_equal(t[1].queue, PST_RPC_QUEUE_BASE);
        pst_compiled_free(c);

        /* rpc only in forward, or nowhere: no output chain */
        c = load("forward = ( { allow = \"msrpc-epmap\"; to = \"198.18.2.10\"; } );\n");
        assert_int_equal(pst_rpc_targets(c, t, 4), 0);
        assert_true(pst_chain_find(c->ruleset, "output") < 0);
        pst_compiled_free(c);
        c = load("input = ( { allow = \"msrpc-epmap\"; from = \"198.18.3.5\"; } );\n"
                 "forward = ( { allow = \"msrpc-epmap\"; to = \"198.18.2.10\"; rpc = true; } );\n");
        assert_int_equal(pst_rpc_targets(c, t, 4), 1);
        assert_string_equal(t[0].set, "rpc_2_v4");
        assert_true(pst_chain_find(c->ruleset, "output") < 0);
        pst_compiled_free(c);
        assert_int_equal(pst_rpc_targets(NULL, t, 4), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_targets),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
