/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The snapshot of a compiled ruleset (posternd's rollback target): what is
 * written reads back as the same ruleset, and anything damaged, cut short or
 * from another build is refused whole (-EBADMSG), never half-loaded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "render.h"
#include "ruleset-assert.h"
#include "snapshot.h"
#include "../kernel/nft-sample.h"

static char dir[] = "/tmp/postern-test-snapshot-XXXXXX";
static char path[sizeof(dir) + 16];

static size_t save_sample(void) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = sample_full();
        struct pst_snapshot_meta meta = { .digest = "0123456789abcdef", .backend = 1 };
        struct stat st;

        assert_int_equal(pst_snapshot_save(path, rs, &meta), 0);
        assert_int_equal(stat(path, &st), 0);
        return (size_t) st.st_size;
}

/* rs saved and loaded renders as it did; returns that text (checked against what a test wants) */
static char *round_trip(const struct pst_ruleset *rs) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *back = NULL;
        struct pst_snapshot_meta meta = { .digest = "0123456789abcdef" };
        char *want = render_text(rs);
        _cleanup_free_ char *got = NULL;

        assert_int_equal(pst_snapshot_save(path, rs, &meta), 0);
        assert_int_equal(pst_snapshot_load(path, &back, &meta), 0);
        got = render_text(back);
        assert_string_equal(got, want);
        return want;
}

/* rs (damaged by the caller) is saved, and refused whole when loaded */
static void refused(const struct pst_ruleset *rs) {
        struct pst_ruleset *back = NULL;
        struct pst_snapshot_meta meta = { .digest = "0123456789abcdef" };

        assert_int_equal(pst_snapshot_save(path, rs, &meta), 0);
        assert_int_equal(pst_snapshot_load(path, &back, &meta), -EBADMSG);
        assert_null(back);
}

static void test_roundtrip(void **state) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = sample_full(), *back = NULL;
        _cleanup_free_ char *want = render_text(rs), *got = NULL;
        struct pst_snapshot_meta meta;

        save_sample();
        assert_int_equal(pst_snapshot_load(path, &back, &meta), 0);
        got = render_text(back);
        assert_string_equal(got, want);
        assert_string_equal(meta.digest, "0123456789abcdef");
        assert_int_equal(meta.backend, 1);
        assert_int_equal(back->nfiles, rs->nfiles);
        for (size_t i = 0; i < rs->nfiles; i++)
                assert_string_equal(back->files[i], rs->files[i]);
        /* a loaded set grows like any other (address updates refill them) */
        for (size_t i = 0; i < back->nsets; i++)
                if (back->sets[i].klen == 4 && !(back->sets[i].flags & PST_SET_MAP)) {
                        uint8_t k[4] = { 198, 18, 9, 9 };

                        assert_int_equal(pst_set_add_elem(&back->sets[i], k, NULL, NULL), 0);
                        break;
                }
}

/* nat chains and their statements come back as they went (issue 17); a NAT
 * kind the build does not know is refused */
static void test_nat(void **state) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = NULL;
        _cleanup_free_ char *want = NULL;
        struct pst_rule r = { .counter = true, .nmatch = 1 };
        uint8_t port[2] = { 0x20, 0xfb }; /* 8443 */
        uint32_t pre;

        assert_int_equal(pst_ruleset_new(&rs), 0);
        assert_int_equal(pst_chain_add(rs, "prerouting", PST_HOOK_PREROUTING, PST_V_ACCEPT, &pre), 0);
        rs->chains[pre].priority = PST_PRIO_DSTNAT;
        pst_match_eq(&r.match[0], PST_F_TCP_DPORT, port, false);
        r.nat = (struct pst_nat) { .kind = PST_NAT_DNAT, .family = AF_INET, .port = 443,
                                   .addr = { 198, 18, 2, 20 } };
        assert_int_equal(pst_rule_add(rs, pre, &r), 0);
        want = round_trip(rs);
        assert_non_null(strstr(want, "tcp dport 8443 counter dnat ip to 198.18.2.20:443"));
        rs->chains[pre].rules[0].nat.kind = 9;
        refused(rs);
}

/* the output chain (input rules' rpc replies) comes back as it went; a hook
 * past the last one the build knows is refused */
static void test_output_chain(void **state) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = NULL;
        _cleanup_free_ char *want = NULL;
        struct pst_rule r = { .nmatch = 1, .log_nflog = true, .log_group = 18, .log_prefix = "rpc_1_v4" };
        uint8_t port[2] = { 0, 135 };
        uint32_t out;

        assert_int_equal(pst_ruleset_new(&rs), 0);
        assert_int_equal(pst_chain_add(rs, "output", PST_HOOK_OUTPUT, PST_V_ACCEPT, &out), 0);
        pst_match_eq(&r.match[0], PST_F_TCP_SPORT, port, false);
        assert_int_equal(pst_rule_add(rs, out, &r), 0);
        want = round_trip(rs);
        assert_non_null(strstr(want, "type filter hook output priority filter; policy accept;\n"
                                     "\t\ttcp sport 135 log prefix \"rpc_1_v4\" group 18\n"));
        rs->chains[out].hook = PST_HOOK_OUTPUT + 1;
        refused(rs);
}

static void test_truncated(void **state) {
        size_t size = save_sample();
        struct pst_ruleset *rs = NULL;
        struct pst_snapshot_meta meta;

        /* every length short of the whole, in steps that hit each part */
        for (size_t len = 0; len < size; len += 1 + len / 7) {
                assert_int_equal(truncate(path, (off_t) len), 0);
                assert_int_equal(pst_snapshot_load(path, &rs, &meta), -EBADMSG);
                assert_null(rs);
                save_sample();
        }
}

static void corrupt_at(long off, uint8_t value) {
        FILE *f = fopen(path, "r+");

        assert_non_null(f);
        assert_int_equal(fseek(f, off, SEEK_SET), 0);
        assert_int_equal(fputc(value, f), value);
        fclose(f);
}

static void test_damaged(void **state) {
        size_t size = save_sample();
        struct pst_ruleset *rs = NULL;
        struct pst_snapshot_meta meta;
        FILE *f;

        corrupt_at(0, 'X'); /* magic */
        assert_int_equal(pst_snapshot_load(path, &rs, &meta), -EBADMSG);
        save_sample();
        corrupt_at(8, 0xff); /* the struct sizes: another build */
        assert_int_equal(pst_snapshot_load(path, &rs, &meta), -EBADMSG);
        save_sample();
        f = fopen(path, "a"); /* trailing bytes */
        assert_non_null(f);
        fputc(0, f);
        fclose(f);
        assert_int_equal(pst_snapshot_load(path, &rs, &meta), -EBADMSG);
        /* any byte set to 0xff: refused or read back without a crash (ASan/UBSan watch) */
        for (size_t off = 0; off < size; off += 1 + off / 50) {
                save_sample();
                corrupt_at((long) off, 0xff);
                if (pst_snapshot_load(path, &rs, &meta) == 0) {
                        free(render_text(rs));
                        pst_ruleset_free(rs);
                }
                rs = NULL;
        }
        assert_int_equal(pst_snapshot_load("/nonexistent/snap", &rs, &meta), -ENOENT);
}

static int setup(void **state) {
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/x.snap", dir);
        return 0;
}

static int teardown(void **state) {
        unlink(path);
        rmdir(dir);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_nat), cmocka_unit_test(test_output_chain),
                cmocka_unit_test(test_truncated),
                cmocka_unit_test(test_damaged),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
