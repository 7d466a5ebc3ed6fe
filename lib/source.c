/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>

#include "source.h"

uint64_t pst_digest_update(uint64_t d, const void *data, size_t len) {
        const uint8_t *b = data;

        for (size_t i = 0; i < len; i++) {
                d ^= b[i];
                d *= 0x100000001b3ULL;
        }
        return d;
}

/* Word-wise in four independent lanes, so the multiplies overlap (1.6 MB in
 * ~0.1 ms; FNV byte by byte took 2-3 ms, one lane ~0.4 ms).  Not
 * cryptographic: it tells "these bytes changed", nobody forges it. */
static inline uint64_t mix(uint64_t h, uint64_t w) {
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        return h ^ (h >> 32);
}

uint64_t pst_digest_bytes(const char *buf, size_t size) {
        /* four scalars, not an array: gcc would vectorise an array's lanes
         * into SSE2, which has no 64-bit multiply, and keep them in memory */
        uint64_t h0 = 0x9e3779b97f4a7c15ULL ^ size, h1 = 0xbf58476d1ce4e5b9ULL, h2 = 0x94d049bb133111ebULL,
                 h3 = 0x2545f4914f6cdd1dULL;
        size_t i = 0;

        for (; i + 32 <= size; i += 32) {
                uint64_t w[4];

                memcpy(w, buf + i, 32);
                h0 = mix(h0, w[0]);
                h1 = mix(h1, w[1]);
                h2 = mix(h2, w[2]);
                h3 = mix(h3, w[3]);
        }
        h0 = mix(mix(mix(h0, h1), h2), h3);
        for (; i + 8 <= size; i += 8) {
                uint64_t w;

                memcpy(&w, buf + i, 8);
                h0 = mix(h0, w);
        }
        for (; i < size; i++)
                h0 = (h0 ^ (uint8_t) buf[i]) * 0x100000001b3ULL;
        h0 ^= h0 >> 33;
        h0 *= 0xc4ceb9fe1a85ec53ULL;
        return h0 ^ (h0 >> 33);
}

uint64_t pst_digest_fold(uint64_t d, const char *path, uint64_t file_digest) {
        d = pst_digest_update(d, path, strlen(path) + 1);
        return pst_digest_update(d, &file_digest, sizeof(file_digest));
}

/*
 * A problem with the file as a whole ("not a regular file"): at the line
 * that names it as "FILE:LINE: list file 'PATH': not a regular file", else
 * at the file itself as "PATH: not a regular file".
 */
_printf_(6, 7) static int file_error(struct pst_diag *diag, const struct pst_loc *at, const char *kind,
                                     const char *path, int err, const char *fmt, ...) {
        _cleanup_free_ char *what = NULL;
        va_list ap;

        va_start(ap, fmt);
        errno = -err; /* %m */
        if (vasprintf(&what, fmt, ap) < 0)
                what = NULL;
        va_end(ap);
        if (at && at->file)
                return pst_error(diag, err, at->file, at->line, "%s'%s': %s", kind, path, strna(what));
        return pst_error(diag, err, path, 0, "%s", strna(what));
}

static bool owner_ok(const struct stat *st) {
        return st->st_uid == 0 || st->st_uid == geteuid();
}

/* The file and every directory above it: owned by root or us, writable by
 * nobody else (a sticky directory excepted). */
static int check_owners(const char *kind, const char *path, const struct stat *st, const struct pst_loc *at,
                        struct pst_diag *diag) {
        char real[PATH_MAX];
        char *slash;

        if (!owner_ok(st))
                return file_error(diag, at, kind, path, -EPERM, "owned by uid %u; only root may own what the "
                                  "firewall is built from (POSTERN_UNSAFE_FILES=1 allows it)", (unsigned) st->st_uid);
        if (st->st_mode & (S_IWGRP | S_IWOTH))
                return file_error(diag, at, kind, path, -EPERM, "writable by group or others; chmod go-w it "
                                  "(POSTERN_UNSAFE_FILES=1 allows it)");
        if (!realpath(path, real))
                return file_error(diag, at, kind, path, -errno, "cannot resolve: %m");
        while ((slash = strrchr(real, '/'))) {
                struct stat d;

                slash[slash == real] = 0; /* "/a" → "/", "/a/b" → "/a" */
                if (stat(real, &d) < 0)
                        return file_error(diag, at, kind, path, -errno, "cannot check %s: %m", real);
                if (!owner_ok(&d) || ((d.st_mode & (S_IWGRP | S_IWOTH)) && !(d.st_mode & S_ISVTX)))
                        return file_error(diag, at, kind, path, -EPERM,
                                          "in directory %s, which %s (POSTERN_UNSAFE_FILES=1 allows it)", real,
                                          owner_ok(&d) ? "group or others may write to" : "another user owns");
                if (streq(real, "/"))
                        break;
        }
        return 0;
}

/* libconfig 1.5 wraps decimal literals beyond 32 bits without an L suffix
 * (and hex ones beyond 0x7fffffff to negative numbers); with L it saturates
 * at INT64_MAX.  s points at the first digit; *len gets the literal's length. */
static bool int_literal_ok(const char *s, bool negative, size_t *len) {
        bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
        unsigned long long v = 0, limit;
        const char *p = hex ? s + 2 : s;
        bool over = false, isfloat = false, l64;

        for (; hex ? isxdigit((unsigned char) *p) : isdigit((unsigned char) *p); p++) {
                unsigned digit = (unsigned) (isdigit((unsigned char) *p) ? *p - '0' : (tolower(*p) - 'a' + 10));

                if (v > (ULLONG_MAX - digit) / (hex ? 16 : 10))
                        over = true;
                else
                        v = v * (hex ? 16 : 10) + digit;
        }
        if (!hex && (*p == '.' || *p == 'e' || *p == 'E'))
                isfloat = true;
        l64 = *p == 'L';
        while (isalnum((unsigned char) *p) || *p == '.' || ((p[-1] == 'e' || p[-1] == 'E') && (*p == '-' || *p == '+')))
                p++;
        *len = (size_t) (p - s);
        if (isfloat)
                return true;
        limit = l64 ? (unsigned long long) INT64_MAX : 2147483647ULL;
        return !over && v <= limit + (negative && !hex);
}

struct lexer {
        const char *path;
        enum pst_source_syntax syntax;
        struct pst_diag *diag;
        unsigned line;
};

static int nul_error(struct lexer *x) {
        return pst_error(x->diag, -EINVAL, x->path, x->line,
                         "contains a NUL byte: a string or list entry would silently end there; remove it");
}

static bool is_control(unsigned char ch) {
        return (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') || ch == 0x7f;
}

static int control_error(struct lexer *x, unsigned char ch) {
        if (ch == 0)
                return nul_error(x);
        return pst_error(x->diag, -EINVAL, x->path, x->line,
                         "contains the control character 0x%02x; only tab, CR and LF are allowed outside comments",
                         ch);
}

/* From *i to the end of the line (not consumed): only NUL is refused. */
static int skip_line_comment(struct lexer *x, const char *buf, size_t size, size_t *i) {
        size_t k = *i;

        while (k < size && buf[k] != '\n' && buf[k] != 0)
                k++;
        *i = k;
        return k < size && buf[k] == 0 ? nul_error(x) : 0;
}

/* *i is just after the opening slash-star; stops after the closing one. */
static int skip_block_comment(struct lexer *x, const char *buf, size_t size, size_t *i) {
        for (size_t k = *i; k < size; k++) {
                if (buf[k] == 0)
                        return nul_error(x);
                if (buf[k] == '\n')
                        x->line++;
                else if (buf[k] == '*' && k + 1 < size && buf[k + 1] == '/') {
                        *i = k + 2;
                        return 0;
                }
        }
        *i = size; /* unterminated: libconfig says so */
        return 0;
}

/* *i is just after the opening quote; stops after the closing one. */
static int skip_string(struct lexer *x, const char *buf, size_t size, size_t *i) {
        for (size_t k = *i; k < size; k++) {
                unsigned char ch = (unsigned char) buf[k];

                if (ch == '"') {
                        *i = k + 1;
                        return 0;
                }
                if (ch == '\n')
                        x->line++;
                else if (is_control(ch))
                        return control_error(x, ch);
                else if (ch == '\\' && k + 1 < size && buf[k + 1] != '\n')
                        k++;
        }
        *i = size;
        return 0;
}

/* A token that starts with a digit (not inside a name such as eth0): is it
 * an integer libconfig would read back as what it says? */
static int check_number(struct lexer *x, const char *buf, size_t size, size_t *i) {
        size_t k = *i, len;
        bool neg = k > 0 && buf[k - 1] == '-';

        if (k > 0 && (isalnum((unsigned char) buf[k - 1]) || buf[k - 1] == '_' || buf[k - 1] == '.')) {
                while (k < size && isalnum((unsigned char) buf[k]))
                        k++;
                *i = k;
                return 0;
        }
        if (!int_literal_ok(buf + k, neg, &len))
                return pst_error(x->diag, -ERANGE, x->path, x->line,
                                 "the number %s%.*s is too large: libconfig would wrap it; expected at most 2147483647",
                                 neg ? "-" : "", (int) MIN(len, (size_t) 40), buf + k);
        *i = k + len;
        return 0;
}

/* Bytes check_content() looks at: newline, comment and string starts,
 * digits, control characters (a list file: newline, comment, control
 * characters — its digits are entries, 1.6 MB of them in P2).  Everything
 * else is skipped in a tight loop. */
static bool is_special(unsigned char ch, bool lc) {
        if (!lc)
                return ch == '\n' || ch == '#' || is_control(ch);
        return ch == '\n' || ch == '#' || ch == '/' || ch == '"' || isdigit(ch) || is_control(ch);
}

/* One pass over the buffer: control characters, and (libconfig) integer
 * literals, with comments and strings told apart as libconfig's scanner
 * does.  The buffer is NUL-terminated one past size. */
static int check_content(struct lexer *x, const char *buf, size_t size, unsigned first_line) {
        bool lc = x->syntax == PST_SYNTAX_LIBCONFIG;
        size_t i = 0;
        int r = 0;

        bool special[256];

        for (unsigned c = 0; c < 256; c++)
                special[c] = is_special((unsigned char) c, lc);
        x->line = first_line;
        while (r >= 0 && i < size) {
                unsigned char ch;

                while (i < size && !special[(unsigned char) buf[i]])
                        i++;
                if (i >= size)
                        break;
                ch = (unsigned char) buf[i];
                if (ch == '\n') {
                        x->line++;
                        i++;
                } else if (ch == '#' || (lc && ch == '/' && buf[i + 1] == '/'))
                        r = skip_line_comment(x, buf, size, &i);
                else if (is_control(ch))
                        r = control_error(x, ch);
                else if (!lc)
                        i++;
                else if (ch == '/' && buf[i + 1] == '*') {
                        i += 2;
                        r = skip_block_comment(x, buf, size, &i);
                } else if (ch == '"') {
                        i++;
                        r = skip_string(x, buf, size, &i);
                } else if (isdigit(ch))
                        r = check_number(x, buf, size, &i);
                else
                        i++;
        }
        return r;
}

/* *buf: in, NULL or a buffer to fill if it fits (large enough, and not more
 * than twice what a file that shrank needs: it is kept); out, the bytes */
static int read_fd(int fd, size_t size, char **pbuf) {
        _cleanup_free_ char *buf = TAKE_PTR(*pbuf);
        size_t got = 0, have = buf ? malloc_usable_size(buf) : 0;

        if (have < size + 1 || have / 2 > size + 4096) {
                free(buf);
                buf = malloc(size + 1);
        }
        if (!buf)
                return -ENOMEM;
        while (got < size) {
                ssize_t n = read(fd, buf + got, size - got);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break; /* shrank meanwhile: what we have is what was there */
                got += (size_t) n;
        }
        buf[got] = 0;
        *pbuf = TAKE_PTR(buf);
        return (int) (got == size ? 0 : -EAGAIN);
}

int pst_source_read(const char *path, enum pst_source_syntax syntax, unsigned flags, const struct pst_loc *named_at,
                    struct pst_diag *diag, char **ret_buf, size_t *ret_size, struct stat *ret_st) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = TAKE_PTR(*ret_buf);
        struct lexer x = { .path = path, .syntax = syntax, .diag = diag };
        /* what the file is, in messages about it: where it is named, that says which */
        const char *kind = !named_at ? "" : syntax == PST_SYNTAX_LIST ? "list file " : "@include ";
        struct stat st;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return file_error(diag, named_at, kind, path, -errno, "cannot read: %m");
        if (fstat(fd, &st) < 0)
                return file_error(diag, named_at, kind, path, -errno, "cannot read: %m");
        if (!S_ISREG(st.st_mode))
                return file_error(diag, named_at, kind, path, -EINVAL, "%s",
                                  S_ISDIR(st.st_mode) ? "a directory, not a file" : "not a regular file");
        if ((uint64_t) st.st_size > PST_SOURCE_MAX)
                return file_error(diag, named_at, kind, path, -EFBIG, "larger than %u MiB",
                                  PST_SOURCE_MAX >> 20);
        if (!(flags & PST_SOURCE_ANY_OWNER)) {
                r = check_owners(kind, path, &st, named_at, diag);
                if (r < 0)
                        return r;
        }
        r = read_fd(fd, (size_t) st.st_size, &buf);
        if (r == -EAGAIN)
                return file_error(diag, named_at, kind, path, -EAGAIN, "changed while it was read; try again");
        if (r < 0)
                return file_error(diag, named_at, kind, path, r, "cannot read: %m");
        if (!(flags & PST_SOURCE_UNCHECKED)) {
                r = check_content(&x, buf, (size_t) st.st_size, 1);
                if (r < 0)
                        return r;
        }
        *ret_size = (size_t) st.st_size;
        *ret_buf = TAKE_PTR(buf);
        if (ret_st)
                *ret_st = st;
        return 0;
}

int pst_source_check_lines(const char *path, const char *buf, size_t size, unsigned first_line,
                           struct pst_diag *diag) {
        struct lexer x = { .path = path, .syntax = PST_SYNTAX_LIST, .diag = diag };

        return check_content(&x, buf, size, first_line);
}

bool pst_source_unchanged(const char *path, const struct stat *st) {
        struct stat now;

        return stat(path, &now) == 0 && now.st_dev == st->st_dev && now.st_ino == st->st_ino &&
               now.st_size == st->st_size && now.st_mtim.tv_sec == st->st_mtim.tv_sec &&
               now.st_mtim.tv_nsec == st->st_mtim.tv_nsec;
}
