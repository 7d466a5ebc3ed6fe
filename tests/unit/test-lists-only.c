/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pipeline.h's list-only reload: over random edit sequences of two list
 * files (entries added and removed, v4 and v6, ranges that merge and split,
 * a family emptied) with now and then an edit of the main file, its
 * @include, a postern.d fragment or the catalog, a load given the previous
 * compiled gives exactly the ruleset and digest of a whole load of the same
 * files, and takes the fast path exactly when only list files changed and
 * each list kept its families.  Compileds are freed in random order (they
 * share catalog and policy).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "compile.h"
#include "list-cache.h"
#include "pipeline.h"
#include "policy-fixture.h"
#include "ruleset-assert.h"

#define ROUNDS 600
#define SLOTS 48 /* entries a list may hold: 198.18.k.0/24 or 2001:db8:k::/48 and wider */

static uint32_t rnd(uint32_t *s) {
        *s ^= *s << 13;
        *s ^= *s >> 17;
        *s ^= *s << 5;
        return *s;
}

/* A list: which slots are present; slot k < SLOTS/2 is v4, the rest v6.
 * Slots with k % 4 == 3 are the wider /23 (/47) over k-1, k: merges. */
struct list {
        bool on[SLOTS];
        const char *name;
};

static void list_write(const struct list *l) {
        char text[4096];
        size_t n = 0;

        n += (size_t) snprintf(text + n, sizeof(text) - n, "# list %s\n", l->name);
        for (int k = 0; k < SLOTS; k++) {
                bool v4 = k < SLOTS / 2, wide = k % 4 == 3;

                if (l->on[k])
                        n += (size_t) snprintf(text + n, sizeof(text) - n, v4 ? "198.18.%d.0/%d\n" : "2001:db8:%x::/%d\n",
                                               wide ? (k - 1) & ~1 : k, (v4 ? 24 : 48) - wide);
        }
        write_bytes(l->name, text, n);
}

static unsigned list_fams(const struct list *l) {
        unsigned m = 0;

        for (int k = 0; k < SLOTS; k++)
                if (l->on[k])
                        m |= k < SLOTS / 2 ? 1u : 2u;
        return m;
}

/* The configuration files: each names the generation that wrote it, so an
 * edit changes its bytes and nothing else. */
static const char *const main_text =
        "@include \"inc.conf\"\n"
        "lists = { a = { file = \"a.txt\"; }; b = { file = \"b.txt\"; };\n"
        "          c = { addresses = [\"198.18.200.0/24\"]; }; };\n"
        "input = ( { allow = \"ssh\"; from = \"a\"; }, { allow = \"https\"; from = [\"b\", \"c\"]; },\n"
        "          { allow = \"smtp\"; from = \"a\"; to = \"(ppp0)\"; } );\n";
static const char *const inc_text = "hosts = { h = \"198.18.201.1\"; };\n";
static const char *const catalog_text =
        "services = {\n"
        "  ssh = { tcp = [22]; description = \"SSH\"; source = \"test\"; };\n"
        "  https = { tcp = [443]; description = \"HTTPS\"; source = \"test\"; };\n"
        "  smtp = { tcp = [25]; description = \"SMTP\"; source = \"test\"; };\n};\n";

static void write_generation(const char *name, const char *body, unsigned gen) {
        char text[1024];

        snprintf(text, sizeof(text), "# generation %u\n%s", gen, body);
        write_file(name, text);
}

/* The fragment comes and goes. */
static void toggle_fragment(bool *present) {
        char path[256];

        snprintf(path, sizeof(path), "%s/postern.d/x.conf", dir);
        if (*present)
                assert_int_equal(unlink(path), 0);
        else
                write_file("postern.d/x.conf", "input = ( { allow = \"ssh\"; from = \"198.18.202.0/24\"; } );\n");
        *present = !*present;
}

/* The same ruleset: its text, and every set's elements byte for byte. */
static void assert_same(const struct pst_ruleset *a, const struct pst_ruleset *b) {
        char *ta = render_text(a), *tb = render_text(b);

        assert_string_equal(ta, tb);
        free(ta);
        free(tb);
        assert_same_set_elems(a, b);
        for (size_t i = 0; i < a->nsets; i++)
                assert_int_equal(a->sets[i].origin.line, b->sets[i].origin.line);
}

static void load(const struct pst_load_opts *o, struct pst_compiled **ret) {
        struct pst_diag d;

        pst_diag_init(&d);
        if (pst_load_compile(o, &d, ret) < 0)
                pst_diag_print(&d, stderr);
        pst_diag_clear(&d);
        assert_non_null(*ret);
}

/* One random edit; true when it touched only list files. */
static bool random_edit(uint32_t *s, struct list *lists, unsigned round, bool *frag) {
        unsigned k = rnd(s) % 100;

        if (k < 4)
                write_generation("main.conf", main_text, round);
        else if (k < 7)
                write_generation("inc.conf", inc_text, round);
        else if (k < 9)
                write_generation("cat.conf", catalog_text, round);
        else if (k < 11)
                toggle_fragment(frag);
        if (k < 11)
                return false;
        for (unsigned e = 1 + rnd(s) % 3; e > 0; e--) {
                struct list *l = &lists[rnd(s) % 2];
                unsigned what = rnd(s) % 20;

                if (what == 0) /* a family emptied (or, next time, back): rules change */
                        for (int j = rnd(s) % 2 ? 0 : SLOTS / 2, end = j + SLOTS / 2; j < end; j++)
                                l->on[j] = false;
                else {
                        unsigned slot = rnd(s) % SLOTS;

                        l->on[slot] = !l->on[slot];
                }
                list_write(l);
        }
        return true;
}

static void lists_only_equals_whole_load(void **state) {
        char main_path[256], cat_path[256], sub[256];
        struct list lists[2] = { { .name = "a.txt" }, { .name = "b.txt" } };
        struct pst_compiled *running = NULL, *held = NULL;
        _cleanup_(pst_list_cache_freep) struct pst_list_cache *cache = NULL;
        struct pst_ifaddrs ifa = {};
        struct pst_addr addr;
        unsigned fams[2], fast = 0, slow = 0;
        uint32_t seed = 0x9e3779b9;
        bool frag = false;

        snprintf(main_path, sizeof(main_path), "%s/main.conf", dir);
        snprintf(cat_path, sizeof(cat_path), "%s/cat.conf", dir);
        snprintf(sub, sizeof(sub), "%s/postern.d", dir);
        assert_int_equal(mkdir(sub, 0755), 0);
        assert_int_equal(pst_list_cache_new(&cache), 0);
        for (int i = 0; i < 2; i++) {
                lists[i].on[i] = lists[i].on[SLOTS / 2 + i] = true;
                list_write(&lists[i]);
                fams[i] = list_fams(&lists[i]);
        }
        write_generation("main.conf", main_text, 0);
        write_generation("inc.conf", inc_text, 0);
        write_generation("cat.conf", catalog_text, 0);
        assert_int_equal(pst_addr_parse("198.18.203.1", &addr, NULL), 0);
        assert_int_equal(pst_ifaddrs_add(&ifa, "ppp0", &addr), 0);

        struct pst_load_opts o = { .policy = main_path, .catalog = cat_path, .ifaddrs = &ifa,
                                   .source_flags = pst_source_flags_from_env(), .list_cache = cache };
        load(&o, &running);
        assert_false(running->lists_only);
        for (unsigned round = 1; round <= ROUNDS; round++) {
                struct pst_compiled *c = NULL, *whole = NULL;
                struct pst_load_opts w = o;
                bool only = random_edit(&seed, lists, round, &frag), expect;

                if (rnd(&seed) % 8 == 0) { /* the interfaces' addresses change under a running ruleset */
                        addr.a[3] = (uint8_t) (rnd(&seed) % 250 + 1);
                        ifa.v[0].addr = addr;
                }
                expect = only && list_fams(&lists[0]) == fams[0] && list_fams(&lists[1]) == fams[1];
                o.previous = running;
                load(&o, &c);
                w.list_cache = NULL;
                w.previous = NULL;
                load(&w, &whole);
                assert_int_equal(c->lists_only, expect);
                assert_string_equal(c->digest, whole->digest);
                assert_same(c->ruleset, whole->ruleset);
                if (!expect) {
                        slow++;
                        for (int i = 0; i < 2; i++)
                                fams[i] = list_fams(&lists[i]);
                } else
                        fast++;
                pst_compiled_free(whole);
                /* free order: sometimes an old compiled outlives its successors a while */
                if (!held && rnd(&seed) % 10 == 0)
                        held = running;
                else
                        pst_compiled_free(running);
                if (held && held != running && rnd(&seed) % 5 == 0) {
                        pst_compiled_free(held);
                        held = NULL;
                }
                running = c;
        }
        printf("lists only %u, whole %u of %u reloads\n", fast, slow, ROUNDS);
        assert_true(fast > ROUNDS / 2);
        assert_true(slow > ROUNDS / 20);
        pst_compiled_free(held != running ? held : NULL);
        pst_compiled_free(running);
        pst_ifaddrs_clear(&ifa);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(lists_only_equals_whole_load),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
