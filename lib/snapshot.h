/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A compiled ruleset kept on disk, so that posternd can put back a ruleset
 * whose policy files may no longer exist: the rollback target of a pending
 * `apply --confirm`, across a daemon restart or a reboot.  The IR, not the
 * policy's text: the files it was compiled from may have been edited (that
 * is why one rolls back), and libconfig's @include cannot be fed from a
 * saved copy.
 *
 * The format is this build's own (native byte order, the structs of ir.h,
 * a header that names their sizes): written and read by the same posternd.
 * A file from another build, truncated or inconsistent is refused whole
 * (-EBADMSG), never half-loaded: every index and count is checked against
 * ir.h's limits before anything is used.
 */

#include "ir.h"

struct pst_snapshot_meta {
        char digest[17];  /* the policy's digest, hex; "" for a built-in ruleset */
        uint32_t backend; /* enum pst_backend_kind that installed it */
};

/* Write rs to path atomically (path.tmp, fsync, rename), mode 0600. */
int pst_snapshot_save(const char *path, const struct pst_ruleset *rs, const struct pst_snapshot_meta *meta);

/* Read path back.  -ENOENT when there is none, -EBADMSG when it is not one
 * of ours (or not this build's). */
int pst_snapshot_load(const char *path, struct pst_ruleset **ret, struct pst_snapshot_meta *meta);
