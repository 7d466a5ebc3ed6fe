/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Typed, checked access to libconfig settings for the policy and the
 * catalog.  Every getter reports "FILE:LINE: ..." through the diag and
 * returns a negative errno; nothing here prints.
 */

#include <libconfig.h>
#include <stdbool.h>
#include <stdint.h>

#include "diag.h"

/* Interned file names: settings point at these for their whole life. */
struct pst_strpool {
        size_t n, cap;
        char **v;
};
const char *pst_strpool_intern(struct pst_strpool *p, const char *s);
void pst_strpool_clear(struct pst_strpool *p);

struct pst_loc {
        const char *file; /* interned, never NULL for policy objects */
        unsigned line;
};

/*
 * What one load read, in order (pipeline.c's list-only reload re-reads the
 * files and compares, and replays the digest from it): a libconfig file
 * (a main file, PST_READ_MAIN, or an @include) with its bytes, or a list
 * file (list: its index in the policy's lists, bytes NULL); digest: the
 * file's pst_digest_bytes().  incomplete: an entry could not be recorded (no
 * memory); the log then proves nothing.  Bounded by what a load may read
 * (fragments, includes, lists).
 */
enum { PST_READ_MAIN, PST_READ_INCLUDE, PST_READ_LIST };
struct pst_read_entry {
        int kind;
        char *path;
        char *bytes;
        size_t size;
        size_t list;
        uint64_t digest;
};
struct pst_read_log {
        size_t n, cap;
        struct pst_read_entry *v;
        bool incomplete;
};
void pst_read_log_add(struct pst_read_log *log, int kind, const char *path, const char *buf, size_t size,
                      size_t list, uint64_t digest);
void pst_read_log_clear(struct pst_read_log *log);

struct pst_cfg {
        struct pst_strpool *files;
        struct pst_diag *diag;
        const char *main_file; /* for settings whose source file libconfig does not know */
        unsigned source_flags; /* source.h: PST_SOURCE_ANY_OWNER */
        uint64_t *digest;      /* NULL, or updated with the path and bytes of every file read */
        struct pst_read_log *log; /* NULL, or every file read is appended */
};

struct pst_loc pst_cfg_loc(struct pst_cfg *c, const config_setting_t *s);
int pst_cfg_error(struct pst_cfg *c, const config_setting_t *s, const char *fmt, ...) _printf_(3, 4);

/* "a string", "a list", ... for messages */
const char *pst_cfg_type_name(const config_setting_t *s);

/* Refuse keys of group g not in the NULL-terminated list (what = "a rule"). */
int pst_cfg_check_keys(struct pst_cfg *c, const config_setting_t *g, const char *what, const char *const *allowed);

int pst_cfg_string(struct pst_cfg *c, const config_setting_t *s, const char *what, size_t max, const char **ret);
int pst_cfg_bool(struct pst_cfg *c, const config_setting_t *s, const char *what, bool *ret);
int pst_cfg_int(struct pst_cfg *c, const config_setting_t *s, const char *what, long long min, long long max,
                long long *ret);
int pst_cfg_group(struct pst_cfg *c, const config_setting_t *s, const char *what);

/*
 * A value that is one scalar or a list/array of scalars (ints and/or strings):
 * "allow = "ssh";", "allow = ["ssh", "smtp"];", "tcp = (25, "1024-2000");".
 * Calls cb for each element with the element setting.  An empty list is an
 * error unless allow_empty.
 */
typedef int (*pst_cfg_item_cb)(struct pst_cfg *c, const config_setting_t *item, void *userdata);
int pst_cfg_foreach_scalar(struct pst_cfg *c, const config_setting_t *s, const char *what, bool allow_empty,
                           pst_cfg_item_cb cb, void *userdata);

/*
 * Read a file with libconfig: once, through source.h (and so every file it
 * @includes, checked and digested before libconfig opens them again, and
 * found unchanged after).  Syntax errors become "FILE:LINE: syntax error: ...".
 */
int pst_cfg_read(struct pst_cfg *c, config_t *cfg, const char *path);
