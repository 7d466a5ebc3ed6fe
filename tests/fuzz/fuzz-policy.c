/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target: arbitrary bytes as a policy file → load, compile, render.
 * Must never crash, leak or hang, whatever the input (run under ASan+UBSan).
 *
 * Built with clang -fsanitize=fuzzer it is a libFuzzer target.  Built
 * normally (the `fuzz` suite) main() replays every file given on the command
 * line and then a bounded number of deterministic mutations of each, so the
 * same code paths run in CI without a fuzzing engine.
 */
#include <fcntl.h>
#include <stdio.h>

#include "pipeline.h"
#include "compile.h"
#include "policy.h"
#include "render.h"
#include "fuzz-replay.h"

static struct pst_catalog catalog;
static bool catalog_loaded;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char path[] = "/tmp/postern-fuzz-XXXXXX";
        struct pst_policy *p = NULL;
        struct pst_ruleset *rs = NULL;
        struct pst_diag d;
        int fd;

        if (!catalog_loaded) {
                const char *cat = getenv("POSTERN_CATALOG");

                pst_diag_init(&d);
                if (cat)
                        (void) pst_catalog_load(&catalog, cat, pst_source_flags_from_env(), &d);
                pst_diag_clear(&d);
                catalog_loaded = true;
        }
        fd = mkstemp(path);
        if (fd < 0)
                return 0;
        if (write(fd, data, size) != (ssize_t) size) {
                close(fd);
                unlink(path);
                return 0;
        }
        close(fd);

        pst_diag_init(&d);
        if (pst_policy_load(path, &catalog, pst_source_flags_from_env(), &d, &p) >= 0) {
                if (pst_compile(p, NULL, &d, &rs) >= 0) {
                        FILE *null = fopen("/dev/null", "w");

                        if (null) {
                                pst_render_nft(rs, null);
                                fclose(null);
                        }
                        pst_ruleset_free(rs);
                }
                pst_policy_free(p);
        }
        pst_diag_clear(&d);
        unlink(path);
        return 0;
}

#ifndef POSTERN_LIBFUZZER
/* xorshift: deterministic mutations, the same in every run */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void) {
        rnd_state ^= rnd_state << 13;
        rnd_state ^= rnd_state >> 7;
        rnd_state ^= rnd_state << 17;
        return rnd_state;
}

static const char *const tokens[] = { "{", "}", "(", ")", "[", "]", ";", ",", "=", "\"", "/", "-", "+", "*",
                                      "any", "(ppp0)", "0", "65536", "::", "@include \"x\"", "allow", "from",
                                      "to", "zones", "input", "forward", "tcp/", "\n" };

/* 1-4 edits: flip a byte, cut, insert a token */
static size_t mutate(uint8_t *m, size_t msize, size_t cap) {
        for (int e = 0; e < 1 + (int) (rnd() % 4); e++) {
                size_t at = msize ? rnd() % msize : 0;

                switch (rnd() % 3) {
                case 0:
                        if (msize)
                                m[at] = (uint8_t) rnd();
                        break;
                case 1:
                        msize = at;
                        break;
                default: {
                        const char *t = tokens[rnd() % ELEMENTSOF(tokens)];
                        size_t tl = strlen(t);

                        if (msize + tl > cap)
                                break;
                        memmove(m + at + tl, m + at, msize - at);
                        memcpy(m + at, t, tl);
                        msize += tl;
                }
                }
        }
        return msize;
}

int main(int argc, char **argv) {
        int r = fuzz_replay(argc, argv, fuzz_iterations(argc, argv, 200), 1 << 20, mutate);

        pst_catalog_clear(&catalog);
        return r;
}
#endif
