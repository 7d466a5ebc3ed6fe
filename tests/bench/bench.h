/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What every standalone bench tool in tests/bench times and prints with. */

#include <stdint.h>
#include <stdio.h>
#include <time.h>

static inline uint64_t now_us(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* "name":[v0,v1,...] for the JSON line tests/bench/run reads. */
static inline void print_samples(const char *name, const uint64_t *v, size_t n) {
        printf("\"%s\":[", name);
        for (size_t i = 0; i < n; i++)
                printf("%s%llu", i ? "," : "", (unsigned long long) v[i]);
        printf("]");
}
