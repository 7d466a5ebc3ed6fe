/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <libgen.h>

#include "cfg.h"
#include "source.h"

#define STRPOOL_MAX 4096

const char *pst_strpool_intern(struct pst_strpool *p, const char *s) {
        for (size_t i = 0; i < p->n; i++)
                if (streq(p->v[i], s))
                        return p->v[i];
        if (GROW(p->v, p->cap, p->n + 1, STRPOOL_MAX) < 0)
                return NULL;
        p->v[p->n] = strdup(s);
        if (!p->v[p->n])
                return NULL;
        return p->v[p->n++];
}

void pst_strpool_clear(struct pst_strpool *p) {
        for (size_t i = 0; i < p->n; i++)
                free(p->v[i]);
        free(p->v);
        *p = (struct pst_strpool) {};
}

struct pst_loc pst_cfg_loc(struct pst_cfg *c, const config_setting_t *s) {
        const char *f = s ? config_setting_source_file(s) : NULL;
        const char *in = pst_strpool_intern(c->files, f ? f : c->main_file);

        return (struct pst_loc) {
                .file = in ? in : c->main_file,
                .line = s ? config_setting_source_line(s) : 0,
        };
}

int pst_cfg_error(struct pst_cfg *c, const config_setting_t *s, const char *fmt, ...) {
        struct pst_loc l = pst_cfg_loc(c, s);
        va_list ap;

        va_start(ap, fmt);
        pst_verror(c->diag, -EINVAL, PST_ERROR, l.file, l.line, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

const char *pst_cfg_type_name(const config_setting_t *s) {
        switch (config_setting_type(s)) {
        case CONFIG_TYPE_GROUP:
                return "a group { ... }";
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64:
                return "a number";
        case CONFIG_TYPE_FLOAT:
                return "a decimal number";
        case CONFIG_TYPE_STRING:
                return "a string";
        case CONFIG_TYPE_BOOL:
                return "a boolean";
        case CONFIG_TYPE_ARRAY:
                return "an array [ ... ]";
        case CONFIG_TYPE_LIST:
                return "a list ( ... )";
        default:
                return "nothing";
        }
}

int pst_cfg_check_keys(struct pst_cfg *c, const config_setting_t *g, const char *what, const char *const *allowed) {
        int n = config_setting_length(g), r = 0;

        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(g, (unsigned) i);
                const char *name = config_setting_name(e);
                bool ok = false;
                char expected[512] = "";
                size_t off = 0;

                for (const char *const *a = allowed; *a && !ok; a++)
                        ok = name && streq(name, *a);
                if (ok)
                        continue;
                /* the list only for the message (snprintf per key of 2,000 rules: 0.5 ms a load) */
                for (const char *const *a = allowed; *a; a++)
                        off += (size_t) snprintf(expected + off, sizeof(expected) - MIN(off, sizeof(expected)),
                                                 "%s%s", a == allowed ? "" : ", ", *a);
                r = pst_cfg_error(c, e, "unknown key '%s' in %s; expected one of: %s", name ? name : "?", what,
                                  expected);
        }
        return r;
}

int pst_cfg_string(struct pst_cfg *c, const config_setting_t *s, const char *what, size_t max, const char **ret) {
        const char *v;

        if (config_setting_type(s) != CONFIG_TYPE_STRING)
                return pst_cfg_error(c, s, "%s must be a string, not %s", what, pst_cfg_type_name(s));
        v = config_setting_get_string(s);
        if (strlen(v) > max)
                return pst_cfg_error(c, s, "%s is too long (%zu bytes); at most %zu bytes are allowed", what,
                                     strlen(v), max);
        *ret = v;
        return 0;
}

int pst_cfg_bool(struct pst_cfg *c, const config_setting_t *s, const char *what, bool *ret) {
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
                return pst_cfg_error(c, s, "%s must be true or false, not %s", what, pst_cfg_type_name(s));
        *ret = config_setting_get_bool(s);
        return 0;
}

int pst_cfg_int(struct pst_cfg *c, const config_setting_t *s, const char *what, long long min, long long max,
                long long *ret) {
        long long v;

        if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
                return pst_cfg_error(c, s, "%s must be a number, not %s", what, pst_cfg_type_name(s));
        v = config_setting_get_int64(s);
        if (v < min || v > max)
                return pst_cfg_error(c, s, "%s must be between %lld and %lld, not %lld", what, min, max, v);
        *ret = v;
        return 0;
}

int pst_cfg_group(struct pst_cfg *c, const config_setting_t *s, const char *what) {
        if (config_setting_type(s) != CONFIG_TYPE_GROUP)
                return pst_cfg_error(c, s, "%s must be a group { ... }, not %s", what, pst_cfg_type_name(s));
        return 0;
}

static bool is_scalar(const config_setting_t *s) {
        int t = config_setting_type(s);

        return t == CONFIG_TYPE_STRING || t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

int pst_cfg_foreach_scalar(struct pst_cfg *c, const config_setting_t *s, const char *what, bool allow_empty,
                           pst_cfg_item_cb cb, void *userdata) {
        int t = config_setting_type(s), n, r = 0;

        if (is_scalar(s))
                return cb(c, s, userdata);
        if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
                return pst_cfg_error(c, s, "%s must be a string or a list [ ... ], not %s", what,
                                     pst_cfg_type_name(s));
        n = config_setting_length(s);
        if (n == 0 && !allow_empty)
                return pst_cfg_error(c, s, "%s is empty; expected at least one entry", what);
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned) i);
                int k;

                if (!is_scalar(e)) {
                        r = pst_cfg_error(c, e, "%s entries must be strings or numbers, not %s", what,
                                          pst_cfg_type_name(e));
                        continue;
                }
                k = cb(c, e, userdata);
                if (k < 0 && r == 0)
                        r = k;
        }
        return r;
}

#define INCLUDE_DEPTH_MAX 10 /* libconfig's own limit */
#define INCLUDES_MAX 256

struct includes {
        size_t n;
        char *path[INCLUDES_MAX];
        struct stat st[INCLUDES_MAX];
};

static void includes_clear(struct includes *inc) {
        for (size_t i = 0; i < inc->n; i++)
                free(inc->path[i]);
        inc->n = 0;
}

/* (256 fragments + the main file) × (256 includes + the file) + 256 lists, rounded up */
#define PST_READ_LOG_MAX 70000

void pst_read_log_add(struct pst_read_log *log, int kind, const char *path, const char *buf, size_t size,
                      size_t list, uint64_t digest) {
        struct pst_read_entry *e;

        /* one entry per file a load may read: fragments, their includes, lists */
        if (log->incomplete || GROW(log->v, log->cap, log->n + 1, PST_READ_LOG_MAX) < 0) {
                log->incomplete = true;
                return;
        }
        e = &log->v[log->n];
        *e = (struct pst_read_entry) { .kind = kind, .size = size, .list = list, .digest = digest };
        e->path = strdup(path);
        e->bytes = buf ? malloc(size + 1) : NULL;
        if (!e->path || (buf && !e->bytes)) {
                free(e->path);
                free(e->bytes);
                log->incomplete = true;
                return;
        }
        if (buf)
                memcpy(e->bytes, buf, size);
        if (buf)
                e->bytes[size] = 0;
        log->n++;
}

void pst_read_log_clear(struct pst_read_log *log) {
        for (size_t i = 0; i < log->n; i++) {
                free(log->v[i].path);
                free(log->v[i].bytes);
        }
        free(log->v);
        *log = (struct pst_read_log) {};
}

static void digest_file(struct pst_cfg *c, int kind, const char *path, const char *buf, size_t size) {
        uint64_t digest = pst_digest_bytes(buf, size);

        if (c->log)
                pst_read_log_add(c->log, kind, path, buf, size, 0, digest);
        if (c->digest)
                *c->digest = pst_digest_fold(*c->digest, path, digest);
}

static int scan_includes(struct pst_cfg *c, const char *file, const char *buf, const char *dir, unsigned depth,
                         struct includes *inc);

/* One @include "name" directive at file:line: read, check and digest the file
 * (and what it includes) before libconfig opens it. */
static int read_include(struct pst_cfg *c, const char *file, unsigned line, const char *name, size_t len,
                        const char *dir, unsigned depth, struct includes *inc) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        struct pst_loc at = { .file = file, .line = line };
        size_t size;
        int r;

        if (depth >= INCLUDE_DEPTH_MAX || inc->n >= INCLUDES_MAX)
                return pst_error(c->diag, -E2BIG, file, line, "@include: too many includes (at most %d, nested %d deep)",
                                 INCLUDES_MAX, INCLUDE_DEPTH_MAX);
        if (asprintf(&path, "%s%s%.*s", name[0] == '/' ? "" : dir, name[0] == '/' ? "" : "/", (int) len, name) < 0)
                return -ENOMEM;
        r = pst_source_read(path, PST_SYNTAX_LIBCONFIG, c->source_flags, &at, c->diag, &buf, &size,
                            &inc->st[inc->n]);
        if (r < 0)
                return r;
        inc->path[inc->n++] = TAKE_PTR(path);
        digest_file(c, PST_READ_INCLUDE, inc->path[inc->n - 1], buf, size);
        return scan_includes(c, inc->path[inc->n - 1], buf, dir, depth + 1, inc);
}

/* libconfig's @include is a line of its own: [blanks]@include "name".  Paths
 * are relative to the main file's directory, as libconfig resolves them. */
static int scan_includes(struct pst_cfg *c, const char *file, const char *buf, const char *dir, unsigned depth,
                         struct includes *inc) {
        unsigned line = 1;

        if (!strstr(buf, "@include"))
                return 0; /* the common case: one pass of the C library instead of one per line */
        for (const char *p = buf; *p; line++) {
                const char *eol = strchrnul(p, '\n'), *q = p, *name, *end;
                int r;

                while (*q == ' ' || *q == '\t')
                        q++;
                if (strncmp(q, "@include", 8) == 0) {
                        q += 8;
                        while (*q == ' ' || *q == '\t')
                                q++;
                        name = *q == '"' ? q + 1 : NULL;
                        end = name ? memchr(name, '"', (size_t) (eol - name)) : NULL;
                        if (end) {
                                r = read_include(c, file, line, name, (size_t) (end - name), dir, depth, inc);
                                if (r < 0)
                                        return r;
                        }
                }
                p = *eol ? eol + 1 : eol;
        }
        return 0;
}

int pst_cfg_read(struct pst_cfg *c, config_t *cfg, const char *path) {
        _cleanup_free_ char *dirbuf = strdup(path), *buf = NULL;
        struct includes inc = {};
        const char *dir;
        size_t size;
        int r;

        if (!dirbuf)
                return -ENOMEM;
        dir = dirname(dirbuf);
        r = pst_source_read(path, PST_SYNTAX_LIBCONFIG, c->source_flags, NULL, c->diag, &buf, &size, NULL);
        if (r < 0)
                return r;
        digest_file(c, PST_READ_MAIN, path, buf, size);
        r = scan_includes(c, path, buf, dir, 0, &inc);
        if (r >= 0) {
                /* @include paths, nested ones too, are relative to this file's directory */
                config_set_include_dir(cfg, dir);
                r = config_read_string(cfg, buf) == CONFIG_TRUE ? 0 : 1;
        }
        for (size_t i = 0; r == 0 && i < inc.n; i++)
                if (!pst_source_unchanged(inc.path[i], &inc.st[i]))
                        r = pst_error(c->diag, -EAGAIN, inc.path[i], 0, "changed while it was read; try again");
        includes_clear(&inc);
        if (r <= 0)
                return r;

        switch (config_error_type(cfg)) {
        case CONFIG_ERR_FILE_IO: {
                const char *f = config_error_file(cfg);

                /* libconfig reports a missing @include as a file I/O error with the line of the @include */
                if (config_error_line(cfg) > 0)
                        return pst_error(c->diag, -ENOENT, f ? f : path, (unsigned) config_error_line(cfg), "%s",
                                         config_error_text(cfg));
                return pst_error(c->diag, -EIO, path, 0, "cannot read: %s", config_error_text(cfg));
        }
        default: {
                const char *text = config_error_text(cfg), *file = config_error_file(cfg);
                const char *what;

                /* libconfig's texts are terse; say what was expected */
                if (streq(text, "syntax error"))
                        what = "syntax error; expected name = value; with strings in \"quotes\", groups { ... }, "
                               "lists ( ... ) and arrays [ ... ] separated by commas";
                else if (streq(text, "mismatched element type in array"))
                        what = "an array [ ... ] mixes numbers and strings; write all strings, or a list ( ... )";
                else if (streq(text, "cannot open include file"))
                        what = "@include: cannot open the included file (paths are relative to this file's "
                               "directory)";
                else if (streq(text, "duplicate setting name"))
                        what = "this name is already set in the same group; expected each name once";
                else
                        what = text;
                return pst_error(c->diag, -EINVAL, file ? file : path, (unsigned) config_error_line(cfg), "%s",
                                 what);
        }
        }
}
