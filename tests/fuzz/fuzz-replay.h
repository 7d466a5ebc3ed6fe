/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The fuzz suite's driver where there is no libFuzzer (gcc builds): run
 * LLVMFuzzerTestOneInput() on every file named on the command line (words
 * starting with "--" are options, skipped), then on `iterations`
 * deterministic mutations of each made by the target's own mutate(), each
 * passed in a buffer of exactly its size so that ASan sees any read past
 * the end.  mutate() edits buf (size bytes, room for cap) in place and
 * returns the new size.
 */

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef size_t (*fuzz_mutate_fn)(uint8_t *buf, size_t size, size_t cap);

static inline int fuzz_iterations(int argc, char **argv, int fallback) {
        return argc > 1 && !strncmp(argv[1], "--iterations=", 13) ? atoi(argv[1] + 13) : fallback;
}

static inline int fuzz_replay(int argc, char **argv, int iterations, size_t max_size, fuzz_mutate_fn mutate) {
        size_t runs = 0;

        for (int i = 1; i < argc; i++) {
                _cleanup_free_ char *buf = NULL;
                size_t size;

                if (!strncmp(argv[i], "--", 2))
                        continue;
                if (read_full_file(argv[i], max_size, &buf, &size) < 0) {
                        fprintf(stderr, "cannot read %s\n", argv[i]);
                        return 1;
                }
                LLVMFuzzerTestOneInput((const uint8_t *) buf, size);
                runs++;
                for (int k = 0; k < iterations; k++) {
                        size_t cap = 2 * size + 64, msize;
                        _cleanup_free_ uint8_t *m = malloc(cap), *exact = NULL;

                        if (!m)
                                return 1;
                        memcpy(m, buf, size);
                        msize = mutate(m, size, cap);
                        exact = malloc(msize ? msize : 1);
                        if (!exact)
                                return 1;
                        memcpy(exact, m, msize);
                        LLVMFuzzerTestOneInput(exact, msize);
                        runs++;
                }
        }
        printf("%zu inputs, no crash\n", runs);
        return 0;
}
