/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/rpc-targets.c: the reply reader's sets from a compiled policy — one
 * per pinhole set a forward rule copies replies for, with its rule's
 * interfaces; none for a rule in input (no copies) or without rpc.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>

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
        struct pst_rpc_target t[4];
        /* 4b324fc8-1670-01d3-1278-5a47bf6ee188 in RFC 4122 byte order (rpc.h) */
        const uint8_t srvsvc[16] = { 0x4b, 0x32, 0x4f, 0xc8, 0x16, 0x70, 0x01, 0xd3,
                                     0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88 };
        int n = pst_rpc_targets(c, t, 4);

        /* rule 1 (input) has sets but no copies: no target; rule 3 (forward) one per family */
        assert_int_equal(n, 2);
        assert_string_equal(t[0].set, "rpc_3_v4");
        assert_int_equal(t[0].family, AF_INET);
        assert_string_equal(t[1].set, "rpc_3_v6");
        assert_int_equal(t[1].family, AF_INET6);
        assert_int_equal(t[0].nifs, 2);
        assert_int_equal(t[1].nifs, 2);
        assert_memory_equal(t[0].ifs[0], srvsvc, 16);
        assert_int_equal(pst_rpc_targets(c, t, 1), -E2BIG);
        pst_compiled_free(c);

        c = load("forward = ( { allow = \"msrpc-epmap\"; to = \"198.18.2.10\"; } );\n");
        assert_int_equal(pst_rpc_targets(c, t, 4), 0);
        pst_compiled_free(c);
        assert_int_equal(pst_rpc_targets(NULL, t, 4), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_targets),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
