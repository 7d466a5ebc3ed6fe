/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Small helpers shared by every part of postern: cleanup attributes in the
 * systemd style, TAKE_PTR, and bounded allocation.  Nothing here keeps state.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _unused_ __attribute__((unused))
#define _pure_ __attribute__((pure))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define TAKE_PTR(p)                           \
        ({                                    \
                __typeof__(p) _tp_ = (p);     \
                (p) = NULL;                   \
                _tp_;                         \
        })

#define TAKE_FD(fd)                           \
        ({                                    \
                int _tf_ = (fd);              \
                (fd) = -1;                    \
                _tf_;                         \
        })

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)     \
        static inline void func##p(type *p) {       \
                if (*p)                             \
                        func(*p);                   \
        }

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static inline const char *strna(const char *s) {
        return s ? s : "n/a";
}

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return streq(a, b);
}

/*
 * Grow an array to hold at least need elements.  Refuses (-E2BIG) to go past
 * max elements: every array a user can make us grow has a limit.
 */
int grow_array(void **arr, size_t *cap, size_t need, size_t elsize, size_t max);
#define GROW(arr, cap, need, max) grow_array((void **) &(arr), &(cap), (need), sizeof(*(arr)), (max))

/* strlcpy that reports truncation as -ENAMETOOLONG */
int strcpy_bounded(char *dst, size_t size, const char *src);

/* Monotonic clock in microseconds. */
uint64_t now_usec(void);
/* CLOCK_REALTIME in microseconds since the epoch. */
uint64_t wall_usec(void);

/* Read a whole file (at most max bytes) into a NUL-terminated buffer. */
int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size);
