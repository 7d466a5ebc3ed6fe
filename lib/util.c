/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "util.h"

int grow_array(void **arr, size_t *cap, size_t need, size_t elsize, size_t max) {
        size_t ncap;
        void *p;

        if (need <= *cap)
                return 0;
        if (need > max)
                return -E2BIG;

        ncap = *cap ? *cap : 8;
        while (ncap < need)
                ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
        if (ncap > max)
                ncap = max;
        if (ncap > SIZE_MAX / elsize)
                return -ENOMEM;

        p = realloc(*arr, ncap * elsize);
        if (!p)
                return -ENOMEM;
        memset((char *) p + *cap * elsize, 0, (ncap - *cap) * elsize);
        *arr = p;
        *cap = ncap;
        return 0;
}

int strcpy_bounded(char *dst, size_t size, const char *src) {
        size_t l = strlen(src);

        if (l >= size)
                return -ENAMETOOLONG;
        memcpy(dst, src, l + 1);
        return 0;
}

static uint64_t clock_usec(clockid_t id) {
        struct timespec ts;

        clock_gettime(id, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

uint64_t now_usec(void) {
        return clock_usec(CLOCK_MONOTONIC);
}

uint64_t wall_usec(void) {
        return clock_usec(CLOCK_REALTIME);
}

int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, cap = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        /* A regular file's size is known: one allocation instead of ~log2(size)
         * reallocs and copies (a 100k-entry list file is ~2 MiB).  The loop
         * below still copes with a file that grows meanwhile. */
        {
                struct stat st;

                if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && (size_t) st.st_size <= max) {
                        cap = (size_t) st.st_size + 2; /* +1 for NUL, +1 so EOF is seen without a realloc */
                        buf = malloc(cap);
                        if (!buf)
                                return -ENOMEM;
                }
        }

        for (;;) {
                ssize_t n;

                if (size + 1 >= cap) {
                        size_t ncap = cap ? cap * 2 : 4096;
                        char *p;

                        if (cap > max)
                                return -EFBIG;
                        p = realloc(buf, ncap);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        cap = ncap;
                }
                n = read(fd, buf + size, cap - size - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                size += (size_t) n;
                if (size > max)
                        return -EFBIG;
        }
        buf[size] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = size;
        return 0;
}
