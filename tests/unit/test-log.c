/* SPDX-License-Identifier: GPL-2.0-or-later */
/* posternd's journal rate limit: a window is the 60 s from its first line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "log.h"

#define SEC 1000000ULL

static unsigned run(struct log_limit *l, unsigned n, uint64_t now, uint64_t *suppressed) {
        unsigned went = 0;

        for (unsigned i = 0; i < n; i++) {
                uint64_t s;

                went += log_limit(l, 10, now, &s);
                *suppressed += s;
        }
        return went;
}

/* A burst across a calendar minute's boundary gets the limit once, not twice */
static void test_limit_window(void **state) {
        struct log_limit l = { 0 };
        uint64_t suppressed = 0, t0 = 119 * SEC + SEC / 2;

        (void)state;
        assert_int_equal(run(&l, 8, t0, &suppressed), 8);
        assert_int_equal(run(&l, 7, t0 + SEC, &suppressed), 2); /* past 120 s: same window */
        assert_int_equal(suppressed, 0);
        assert_int_equal(run(&l, 1, t0 + 59 * SEC, &suppressed), 0);
        /* 60 s after its first line a new window opens, saying what the last one left out */
        assert_int_equal(run(&l, 1, t0 + 60 * SEC, &suppressed), 1);
        assert_int_equal(suppressed, 6);
        suppressed = 0;
        assert_int_equal(run(&l, 12, t0 + 60 * SEC, &suppressed), 9);
        assert_int_equal(suppressed, 0);
        /* a clock that went back starts a window too */
        assert_int_equal(run(&l, 1, SEC, &suppressed), 1);
        assert_int_equal(suppressed, 3);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_limit_window),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
