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

static struct pst_catalog catalog;
static bool catalog_loaded;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

int main(int argc, char **argv) {
        int iterations = argc > 1 && !strncmp(argv[1], "--iterations=", 13) ? atoi(argv[1] + 13) : 200;
        size_t runs = 0;

        for (int i = 1; i < argc; i++) {
                _cleanup_free_ char *buf = NULL;
                size_t size;

                if (!strncmp(argv[i], "--", 2))
                        continue;
                if (read_full_file(argv[i], 1 << 20, &buf, &size) < 0) {
                        fprintf(stderr, "cannot read %s\n", argv[i]);
                        return 1;
                }
                LLVMFuzzerTestOneInput((const uint8_t *) buf, size);
                runs++;
                for (int k = 0; k < iterations; k++) {
                        _cleanup_free_ char *m = malloc(size + 64);
                        size_t msize = size;

                        if (!m)
                                return 1;
                        memcpy(m, buf, size);
                        for (int e = 0; e < 1 + (int) (rnd() % 4); e++) {
                                size_t at = msize ? rnd() % msize : 0;

                                switch (rnd() % 3) {
                                case 0: /* flip a byte */
                                        if (msize)
                                                m[at] = (char) rnd();
                                        break;
                                case 1: /* cut */
                                        msize = at;
                                        break;
                                default: { /* insert a token */
                                        const char *t = tokens[rnd() % ELEMENTSOF(tokens)];
                                        size_t tl = strlen(t);

                                        if (msize + tl > size + 64)
                                                break;
                                        memmove(m + at + tl, m + at, msize - at);
                                        memcpy(m + at, t, tl);
                                        msize += tl;
                                }
                                }
                        }
                        LLVMFuzzerTestOneInput((const uint8_t *) m, msize);
                        runs++;
                }
        }
        printf("%zu inputs, no crash\n", runs);
        pst_catalog_clear(&catalog);
        return 0;
}
#endif
