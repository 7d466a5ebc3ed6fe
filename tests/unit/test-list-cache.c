/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * list-cache.h: a policy loaded through the list cache after random edits
 * of its list files is exactly the policy loaded afresh — the entries in
 * order, the families, the digest, and on a broken line the same messages —
 * and it parses only the lines that changed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "compile.h"
#include "list-cache.h"
#include "pipeline.h"
#include "policy.h"
#include "policy-fixture.h"
#include "ruleset-assert.h"

static int load(struct pst_list_cache *c, struct pst_diag *d, struct pst_policy **ret) {
        char path[256];

        snprintf(path, sizeof(path), "%s/main.conf", dir);
        pst_diag_init(d);
        return pst_policy_load_cached(path, &cat, pst_source_flags_from_env(), c, d, ret);
}

/* The policy names list `a` by file fname; `b` stays the same file. */
static void write_main(const char *fname) {
        char text[512];

        snprintf(text, sizeof(text),
                 "lists = { a = { file = \"%s\"; }; b = { file = \"b.txt\"; }; };\n"
                 "input = ( { allow = \"ssh\"; from = \"a\"; }, { allow = \"https\"; from = \"b\"; } );\n",
                 fname);
        write_bytes("main.conf", text, strlen(text));
}

static uint32_t rnd(uint32_t *s) {
        *s ^= *s << 13;
        *s ^= *s >> 17;
        *s ^= *s << 5;
        return *s;
}

/* One random line (with its newline): mostly entries, some comments,
 * blanks, odd whitespace, v6, and now and then a broken one. */
static int random_line(uint32_t *s, bool allow_bad, char *buf, size_t size) {
        switch (rnd(s) % 16) {
        case 0:
                return snprintf(buf, size, "# comment %u\n", rnd(s) % 100);
        case 1:
                return snprintf(buf, size, "\n");
        case 2:
                return snprintf(buf, size, " \t198.18.%u.%u \t# trailing\r\n", rnd(s) % 256, rnd(s) % 256);
        case 3:
                return snprintf(buf, size, "2001:db8:%x::/48\n", rnd(s) % 0x10000);
        case 4:
                switch (allow_bad ? rnd(s) % 8 : 7) {
                case 0:
                        return snprintf(buf, size, "198.18.%u.1/24\n", rnd(s) % 256); /* host bits */
                case 1:
                        return snprintf(buf, size, "198.18.%u.0/24\x01\n", rnd(s) % 256); /* a control character */
                case 2:
                        memcpy(buf, "198.18.0.0\0/16\n", 16); /* a NUL byte */
                        return 16;
                }
                return snprintf(buf, size, "# a \x02 in a comment is allowed\n");
        default:
                return snprintf(buf, size, "198.%u.%u.0/24\n", 18 + rnd(s) % 2, rnd(s) % 256);
        }
}

/* An edit of text (len bytes, room for size): insert, delete or replace
 * lines, change one byte of a line, drop or add the final newline. */
static size_t random_edit(uint32_t *s, char *text, size_t len, size_t size) {
        char line[128];
        size_t at = len ? rnd(s) % (len + 1) : 0, end;
        int n;

        /* at: a line start; end: the end of that line (after its newline) */
        while (at > 0 && text[at - 1] != '\n')
                at--;
        for (end = at; end < len && text[end] != '\n'; end++)
                ;
        end += end < len;
        switch (rnd(s) % 6) {
        case 0: /* delete the line */
                memmove(text + at, text + end, len - end);
                return len - (end - at);
        case 1: /* change one byte of it to a digit, a dot or a space */
                if (end > at + 1)
                        text[at + rnd(s) % (end - at - 1)] = "0123456789. #"[rnd(s) % 13];
                return len;
        case 2: /* the final newline goes or comes */
                if (len && text[len - 1] == '\n')
                        return len - 1;
                if (len + 1 < size)
                        text[len++] = '\n';
                return len;
        default: /* insert (or with case 5, replace) a line */
                n = random_line(s, rnd(s) % 8 == 0, line, sizeof(line));
                if (len + (size_t) n >= size)
                        return len;
                if (rnd(s) % 6 == 5) {
                        memmove(text + at, text + end, len - end);
                        len -= end - at;
                }
                memmove(text + at + n, text + at, len - at);
                memcpy(text + at, line, (size_t) n);
                return len + (size_t) n;
        }
}

static int cmp_pair4(const void *a, const void *b) {
        return memcmp(a, b, 8);
}

static int cmp_pair16(const void *a, const void *b) {
        return memcmp(a, b, 32);
}

/* r is exactly l's entries as ranges, sorted: the compiler's fast path (it
 * would sort an unsorted array again, so only this tells). */
static void assert_ranges(const struct pst_addrs *l, const struct pst_list_ranges *r) {
        for (int k = 0; k < 2; k++) {
                unsigned klen = k ? 16 : 4;
                _cleanup_free_ uint8_t *want = malloc(l->n * 2 * klen + 1);
                size_t n = 0;

                assert_non_null(want);
                for (size_t i = 0; i < l->n; i++) {
                        uint8_t first[16], last[16];

                        if (l->v[i].family != (k ? AF_INET6 : AF_INET))
                                continue;
                        pst_addr_range(&l->v[i], first, last);
                        memcpy(want + n * 2 * klen, first, klen);
                        memcpy(want + n * 2 * klen + klen, last, klen);
                        n++;
                }
                qsort(want, n, 2 * klen, k ? cmp_pair16 : cmp_pair4);
                assert_int_equal(r->n[k], n);
                if (n)
                        assert_memory_equal(r->keys[k], want, n * 2 * klen);
        }
}

/* The two compile to the same named sets (element for element). */
static void assert_same_sets(const struct pst_policy *a, const struct pst_policy *b) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *x = NULL, *y = NULL;
        struct pst_diag d;

        pst_diag_init(&d);
        assert_int_equal(pst_compile(a, NULL, &d, &x), 0);
        assert_int_equal(pst_compile(b, NULL, &d, &y), 0);
        pst_diag_clear(&d);
        assert_same_set_elems(x, y);
}

static void assert_same(const struct pst_policy *a, const struct pst_policy *b) {
        assert_int_equal(a->nlists, b->nlists);
        assert_int_equal(a->digest, b->digest);
        for (size_t i = 0; i < a->nlists; i++) {
                const struct pst_addrs *x = &a->lists[i]->addrs, *y = &b->lists[i]->addrs;

                assert_int_equal(x->n, y->n);
                assert_int_equal(x->has4, y->has4);
                assert_int_equal(x->has6, y->has6);
                for (size_t j = 0; j < x->n; j++) {
                        assert_int_equal(x->v[j].family, y->v[j].family);
                        assert_int_equal(x->v[j].prefixlen, y->v[j].prefixlen);
                        assert_memory_equal(x->v[j].a, y->v[j].a, pst_addr_len(x->v[j].family));
                }
        }
}

/* Both loads agree: the same result, or the same messages.  Whether they failed. */
static bool load_both(struct pst_list_cache *c, size_t *failures) {
        struct pst_policy *fresh = NULL, *cached = NULL;
        struct pst_diag d1, d2;
        int r1 = load(NULL, &d1, &fresh), r2 = load(c, &d2, &cached);

        assert_int_equal(r1, r2);
        if (r1 < 0) {
                _cleanup_free_ char *s1 = pst_diag_summary(&d1), *s2 = pst_diag_summary(&d2);

                assert_string_equal(s1, s2);
                ++*failures;
        } else {
                assert_same(fresh, cached);
                assert_null(fresh->lists[0]->ranges); /* parsed whole: the compiler sorts */
                assert_non_null(cached->lists[0]->ranges);
                assert_ranges(&fresh->lists[0]->addrs, cached->lists[0]->ranges);
                assert_same_sets(fresh, cached);
        }
        pst_policy_free(fresh);
        pst_policy_free(cached);
        pst_diag_clear(&d1);
        pst_diag_clear(&d2);
        return r1 < 0;
}

static void test_random_edits(void **state) {
        _cleanup_(pst_list_cache_freep) struct pst_list_cache *c = NULL;
        enum { ROOM = 16384 };
        static char a[ROOM], good[ROOM];
        size_t len = 0, good_len = 0, failures = 0, parsed = 0;
        uint32_t seed = 0x5eed1500;
        char line[128];
        bool renamed = false;

        assert_int_equal(pst_list_cache_new(&c), 0);
        while (len < 4000) {
                int n = random_line(&seed, false, line, sizeof(line));

                memcpy(a + len, line, (size_t) n);
                len += (size_t) n;
        }
        write_bytes("b.txt", "198.18.200.0/24\n2001:db8:1::/48\n", 32);
        write_main("a.txt");
        write_bytes("a.txt", a, len);
        load_both(c, &failures);
        for (int i = 0; i < 1500; i++) {
                /* mostly one edit (the lines it touched are parsed), now and then a few
                 * (everything from the first to the last is parsed) */
                for (uint32_t k = rnd(&seed) % 4 ? 1 : rnd(&seed) % 3 + 2; k > 0; k--)
                        len = random_edit(&seed, a, len, ROOM);
                if (rnd(&seed) % 50 == 0) { /* the list moves to another file */
                        renamed = !renamed;
                        write_main(renamed ? "a2.txt" : "a.txt");
                }
                write_bytes(renamed ? "a2.txt" : "a.txt", a, len);
                bool failed = load_both(c, &failures);
                struct pst_list_cache_stats st;

                pst_list_cache_stats(c, &st);
                parsed += st.lines_parsed;
                if (!failed) {
                        memcpy(good, a, len);
                        good_len = len;
                } else if (rnd(&seed) % 2) { /* the typo is fixed */
                        memcpy(a, good, good_len);
                        len = good_len;
                }
        }
        /* some edits broke a line, most did not; of ~250 lines a load, a few were parsed */
        print_message("%zu of 1500 loads failed; %zu lines parsed\n", failures, parsed);
        assert_true(failures > 10);
        assert_true(failures < 1000);
        assert_true(parsed < 1500 * 250 / 4);
}

static void test_parses_only_changes(void **state) {
        _cleanup_(pst_list_cache_freep) struct pst_list_cache *c = NULL;
        struct pst_list_cache_stats st;
        struct pst_policy *p = NULL;
        struct pst_diag d;
        char text[65536];
        size_t len = 0;

        assert_int_equal(pst_list_cache_new(&c), 0);
        for (unsigned i = 0; i < 2000; i++)
                len += (size_t) snprintf(text + len, sizeof(text) - len, "198.18.%u.%u\n", i / 256, i % 256);
        write_bytes("b.txt", "198.19.0.0/16\n", 14);
        write_main("a.txt");
        write_bytes("a.txt", text, len);
        assert_int_equal(load(c, &d, &p), 0);
        pst_list_cache_stats(c, &st);
        assert_int_equal(st.lists, 2);
        assert_int_equal(st.reused, 0);
        assert_int_equal(st.lines_parsed, 2001);
        pst_policy_free(p);
        pst_diag_clear(&d);

        /* nothing changed: nothing parsed */
        assert_int_equal(load(c, &d, &p), 0);
        pst_list_cache_stats(c, &st);
        assert_int_equal(st.reused, 2);
        assert_int_equal(st.lines_parsed, 0);
        assert_int_equal(p->lists[0]->addrs.n, 2000);
        pst_policy_free(p);
        pst_diag_clear(&d);

        /* one line changed in the middle: that line parsed; the read went into
         * the spare (the last read's buffer), the bytes before are the spare now */
        {
                char *before = strndup(text, len), *spare;

                assert_non_null(before);
                memcpy(strstr(text, "198.18.3.232\n"), "198.19.3.232\n", 13);
                write_bytes("a.txt", text, len);
                assert_int_equal(load(c, &d, &p), 0);
                pst_list_cache_stats(c, &st);
                assert_int_equal(st.reused, 1);
                assert_int_equal(st.lines_parsed, 1);
                assert_int_equal(p->lists[0]->addrs.n, 2000);
                assert_memory_equal(p->lists[0]->addrs.v[1000].a, ((uint8_t[]) { 198, 19, 3, 232 }), 4);
                pst_policy_free(p);
                pst_diag_clear(&d);
                spare = pst_list_cache_spare(c, "a");
                assert_non_null(spare);
                assert_memory_equal(spare, before, len);
                assert_null(pst_list_cache_spare(c, "a")); /* taken */
                free(before);
                free(spare); /* the next read allocates */
        }

        /* one line appended: that line; two changes far apart: the lines from one to the other */
        len += (size_t) snprintf(text + len, sizeof(text) - len, "2001:db8::/32\n");
        write_bytes("a.txt", text, len);
        assert_int_equal(load(c, &d, &p), 0);
        pst_list_cache_stats(c, &st);
        assert_int_equal(st.lines_parsed, 1);
        assert_int_equal(p->lists[0]->addrs.n, 2001);
        assert_true(p->lists[0]->addrs.has6);
        pst_policy_free(p);
        pst_diag_clear(&d);
        memcpy(strstr(text, "198.18.0.10\n"), "198.19.0.10\n", 12);
        memcpy(strstr(text, "198.18.0.20\n"), "198.19.0.20\n", 12);
        write_bytes("a.txt", text, len);
        assert_int_equal(load(c, &d, &p), 0);
        pst_list_cache_stats(c, &st);
        assert_int_equal(st.lines_parsed, 11);
        pst_policy_free(p);
        pst_diag_clear(&d);

        /* an error on a line after kept lines names its line */
        memcpy(strstr(text, "198.18.7.200\n"), "198.18.7.2/8\n", 13);
        write_bytes("a.txt", text, len);
        assert_true(load(c, &d, &p) < 0);
        {
                _cleanup_free_ char *s = pst_diag_summary(&d);

                assert_non_null(strstr(s, "a.txt:1993:"));
        }
        pst_diag_clear(&d);
        memcpy(strstr(text, "198.18.7.2/8\n"), "198.18.7.200\n", 13);
        write_bytes("a.txt", text, len);
        assert_int_equal(load(c, &d, &p), 0);
        pst_policy_free(p);
        pst_diag_clear(&d);

        /* a typo in the main file keeps the cache: the next load parses nothing */
        write_bytes("main.conf", "lists = { a = { file = \"a.txt\" }; };\n", 37);
        assert_true(load(c, &d, &p) < 0);
        pst_diag_clear(&d);
        write_main("a.txt");
        assert_int_equal(load(c, &d, &p), 0);
        pst_list_cache_stats(c, &st);
        assert_int_equal(st.reused, 2);
        assert_int_equal(st.lines_parsed, 0);
        pst_policy_free(p);
        pst_diag_clear(&d);

        /* a load without list b drops it: b is parsed again when it comes back */
        write_bytes("main.conf", "lists = { a = { file = \"a.txt\"; }; };\ninput = ( { allow = \"ssh\"; from = \"a\"; } );\n",
                   82);
        assert_int_equal(load(c, &d, &p), 0);
        pst_policy_free(p);
        pst_diag_clear(&d);
        write_main("a.txt");
        assert_int_equal(load(c, &d, &p), 0);
        pst_list_cache_stats(c, &st);
        assert_int_equal(st.reused, 1);
        assert_int_equal(st.lines_parsed, 1);
        pst_policy_free(p);
        pst_diag_clear(&d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_random_edits),
                cmocka_unit_test(test_parses_only_changes),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
