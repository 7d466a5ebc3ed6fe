/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The files a ruleset is compiled from — the main policy, its fragments,
 * @include'd files, list files, the service catalog — read the one way
 * that is safe for a root daemon.  Each file is opened once, read once into
 * one buffer, and that buffer is what is checked, parsed and digested, so a
 * file rewritten meanwhile cannot make the digest disagree with what was
 * compiled.  Refused, with FILE:LINE where there is a line:
 *
 *   - anything but a regular file (a FIFO would block the daemon's event
 *     loop; a device would never end); opened O_NONBLOCK so even the open
 *     cannot hang;
 *   - a file larger than its limit, before a byte of it is read;
 *   - a file or any directory above it that someone other than root (or
 *     the user running us) owns or may write to, as sshd's StrictModes does:
 *     the firewall would be whatever that someone writes next.  A sticky
 *     directory (/tmp) may be writable by all: nobody can replace what is
 *     in it.  PST_SOURCE_ANY_OWNER turns this off, for test trees;
 *   - a NUL byte anywhere, and any other control character but tab, CR and
 *     LF outside comments: libconfig and the list reader stop a string or a
 *     file at a NUL, so "198.18.2.1\00" would install 198.18.2.1;
 *   - (libconfig) an integer literal libconfig 1.5 would silently wrap to 32
 *     bits (4294967318 reads as 22): at most 2147483647 without an L
 *     suffix, and at most INT64_MAX with it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "cfg.h"
#include "diag.h"

#define PST_SOURCE_MAX (64u << 20) /* bytes, for every kind of file */

enum {
        PST_SOURCE_ANY_OWNER = 1 << 0,
        /* The content is not checked (owners, size and kind still are): the
         * caller runs pst_source_check_lines() on the lines of a list it has
         * not checked before (list-cache.h: a list file's lines are
         * independent of each other), or takes the bytes only if they are
         * ones that passed (pipeline.c's list-only reload) */
        PST_SOURCE_UNCHECKED = 1 << 1,
};

enum pst_source_syntax {
        PST_SYNTAX_LIBCONFIG, /* comments: # ... , // ... , slash-star ... star-slash; strings "..." */
        PST_SYNTAX_LIST,      /* comments: # ... */
};

/*
 * Read path (checked as above) into a NUL-terminated buffer.  A problem with
 * the file itself is reported at *named_at (where a policy names it: an
 * @include line, a list = { file = ...; } setting) when given, else at
 * path; a problem in its content at path:line.  ret_st (may be NULL) gets
 * the file's status as read, for pst_source_unchanged().  *ret_buf is NULL,
 * or a malloc()ed buffer the read may fill when it is large enough
 * (malloc_usable_size) and frees otherwise: memory a reload of a large list
 * already has, not fresh pages to fault in (list-cache.h's spare).  On
 * failure *ret_buf is NULL.
 */
int pst_source_read(const char *path, enum pst_source_syntax syntax, unsigned flags, const struct pst_loc *named_at,
                    struct pst_diag *diag, char **ret_buf, size_t *ret_size, struct stat *ret_st);

/* The content check of pst_source_read() on whole lines of a list file:
 * buf[0, size), its first line being line first_line of path. */
int pst_source_check_lines(const char *path, const char *buf, size_t size, unsigned first_line,
                           struct pst_diag *diag);

/* Is path still the file st describes (device, inode, size, mtime)?  For a
 * file libconfig reads a second time itself (@include). */
bool pst_source_unchanged(const char *path, const struct stat *st);

/* FNV-1a 64: what identifies the input a ruleset was compiled from. */
#define PST_DIGEST_INIT 0xcbf29ce484222325ULL
uint64_t pst_digest_update(uint64_t d, const void *data, size_t len);
/* The digest of one file's bytes, and how a load's digest folds a file in:
 * its path and that digest, in the order the load read them (a list-only
 * reload, pipeline.c, replays the fold from its read log without the bytes). */
uint64_t pst_digest_bytes(const char *buf, size_t size);
uint64_t pst_digest_fold(uint64_t d, const char *path, uint64_t file_digest);
