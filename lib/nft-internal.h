/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Shared between the batch builder (nft-batch.c) and the sender (nft.c). */

#include <sys/uio.h>

#include "nft.h"

/* Every message is built in place at the end of the current buffer, which
 * must have room for the largest message we write.  Rules are bounded by
 * PST_MATCH_MAX and the comment/prefix sizes (< 4 KiB); NEWSETELEM messages
 * are cut at PST_NFT_ELEM_MSG_MAX because the element list nest has a 16-bit
 * length. */
#define PST_NFT_MSG_MAX (64 * 1024)
#define PST_NFT_ELEM_MSG_MAX 60000
#define PST_NFT_BUF_SIZE (1024 * 1024)
#define PST_NFT_BATCH_MAX (1024 * 1024 * 1024) /* 1 GiB: far above 2M elements × 2 */

enum pst_nft_obj {
        PST_NFT_OBJ_BATCH, /* BEGIN / END */
        PST_NFT_OBJ_TABLE,
        PST_NFT_OBJ_CHAIN,
        PST_NFT_OBJ_SET,
        PST_NFT_OBJ_ELEMS,
        PST_NFT_OBJ_FLUSH, /* DELSETELEM without elements */
        PST_NFT_OBJ_RULE,
        PST_NFT_OBJ_DELTA_ELEMS, /* nft-delta.c: elements added to / removed from set a */
        PST_NFT_OBJ_DEL,         /* nft-delta.c: DELRULE / DELSET / DELCHAIN of the running table */
};

/* What message seq0 + i creates: enough to name it in an error. */
struct pst_nft_msg {
        uint8_t obj;   /* enum pst_nft_obj */
        uint8_t type;  /* NFT_MSG_* or NFNL_MSG_BATCH_* */
        uint32_t a;    /* set index / chain index */
        uint32_t b;    /* rule index in chain a / NEWSETELEM: index of its first kernel element */
        uint32_t buf;  /* where the message is: iov[buf] + off */
        uint32_t off;
};

struct pst_nft_batch {
        const struct pst_ruleset *rs;
        struct iovec *iov;
        size_t niov, capiov;
        size_t len;
        struct pst_nft_msg *msgs;
        size_t nmsgs, capmsgs;
        uint32_t seq0;
};

int pst_nft_elem_origin(const struct pst_set *s, uint32_t k, size_t *ret_ir, bool *ret_end);

/*
 * Emitters for a delta batch (nft-delta.c): each appends messages to b.
 * pst_nft_batch_open() starts one guarded by genid; pst_nft_check_ruleset()
 * is the check pst_nft_batch_build() does before it builds anything.
 */
int pst_nft_batch_open(const struct pst_ruleset *rs, uint32_t genid, struct pst_nft_batch **ret);
int pst_nft_batch_close(struct pst_nft_batch *b);
int pst_nft_check_ruleset(const struct pst_ruleset *rs, struct pst_diag *diag);
int pst_nft_put_chain(struct pst_nft_batch *b, const struct pst_ruleset *rs, uint32_t ci);
/* a named set and all its elements */
int pst_nft_put_set(struct pst_nft_batch *b, const struct pst_ruleset *rs, uint32_t si);
/* rule ri of chain ci with its anonymous sets, inserted before the rule
 * with handle before (0: appended) */
int pst_nft_put_rule(struct pst_nft_batch *b, const struct pst_ruleset *rs, uint32_t ci, uint32_t ri,
                     uint64_t before, struct pst_diag *diag);
/* NFT_MSG_DELRULE (chain, handle), DELSET (name), DELCHAIN (name) */
int pst_nft_put_delete(struct pst_nft_batch *b, uint16_t type, const char *name, uint64_t handle);
/* NEWSETELEM / DELSETELEM of the IR elements idx[0..n) of named set si, as
 * the kernel holds them (an interval: its start and its end element);
 * zero_end: also the all-zero end element an interval set has when its
 * first range does not start at zero. */
int pst_nft_put_elem_ranges(struct pst_nft_batch *b, const struct pst_ruleset *rs, uint32_t si, uint16_t type,
                            const size_t *idx, size_t n, bool zero_end);

/* pst_nft_batch_build() with the flags of the leading create-if-missing
 * NEWTABLE chosen separately (pst_nft_apply() restates the existing
 * table's flags there). */
int pst_nft_batch_build_full(const struct pst_ruleset *rs, const struct pst_apply_opts *o, uint32_t first_flags,
                             uint32_t seq0, struct pst_nft_batch **ret, struct pst_diag *diag);
