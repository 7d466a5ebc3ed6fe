/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `nft list table inet NAME` through libnftables: the listing users know,
 * with counters, from the kernel's view of our table.
 */
#include <ctype.h>
#include <nftables/libnftables.h>

#include "dlopen.h"
#include "ir.h"
#include "show.h"

/* libnftables, opened on first use (dlopen.h says why) */
static struct {
        struct nft_ctx *(*ctx_new)(uint32_t flags);
        void (*ctx_free)(struct nft_ctx *ctx);
        int (*buffer_output)(struct nft_ctx *ctx);
        int (*buffer_error)(struct nft_ctx *ctx);
        unsigned (*output_get_flags)(struct nft_ctx *ctx);
        void (*output_set_flags)(struct nft_ctx *ctx, unsigned flags);
        int (*run_cmd)(struct nft_ctx *nft, const char *buf);
        const char *(*get_output)(struct nft_ctx *ctx);
        const char *(*get_error)(struct nft_ctx *ctx);
} nft;
static void *nft_handle; /* process-wide and immutable once set: a cache, not state */

static int nftables_open(struct pst_diag *diag) {
        static const struct pst_dlsym syms[] = {
                PST_DLSYM(nft_ctx_new, nft.ctx_new),
                PST_DLSYM(nft_ctx_free, nft.ctx_free),
                PST_DLSYM(nft_ctx_buffer_output, nft.buffer_output),
                PST_DLSYM(nft_ctx_buffer_error, nft.buffer_error),
                PST_DLSYM(nft_ctx_output_get_flags, nft.output_get_flags),
                PST_DLSYM(nft_ctx_output_set_flags, nft.output_set_flags),
                PST_DLSYM(nft_run_cmd_from_buffer, nft.run_cmd),
                PST_DLSYM(nft_ctx_get_output_buffer, nft.get_output),
                PST_DLSYM(nft_ctx_get_error_buffer, nft.get_error),
        };
        const char *why = NULL;
        int r;

        r = pst_dlopen(&nft_handle, "libnftables.so.1", syms, ELEMENTSOF(syms), &why);
        if (r < 0)
                return pst_error(diag, r, NULL, 0, "cannot load libnftables (package libnftables1): %s",
                                 why ? why : "unknown error");
        return 0;
}

static inline void nft_ctx_freep(struct nft_ctx **p) {
        if (*p)
                nft.ctx_free(*p);
}

/* The name goes into an nft command line: accept only what our compiler
 * generates, so nothing else (";", "}", quotes) can reach the parser. */
static bool table_name_ok(const char *t) {
        size_t n = strnlen(t, PST_NAME_MAX);

        if (n == 0 || n >= PST_NAME_MAX || !isalpha((unsigned char) t[0]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) t[i]) && t[i] != '_' && t[i] != '-' && t[i] != '.')
                        return false;
        return true;
}

int pst_show_table(const char *table, unsigned show_flags, struct pst_diag *diag, char **ret_text) {
        _cleanup_(nft_ctx_freep) struct nft_ctx *ctx = NULL;
        char cmd[PST_NAME_MAX + 32];
        const char *out, *err;
        unsigned flags;
        char *text;
        int r;

        if (!table_name_ok(table))
                return pst_error(diag, -EINVAL, NULL, 0, "invalid table name \"%.*s\"", PST_NAME_MAX, table);
        r = nftables_open(diag);
        if (r < 0)
                return r;
        ctx = nft.ctx_new(NFT_CTX_DEFAULT);
        if (!ctx)
                return -ENOMEM;
        if (nft.buffer_output(ctx) < 0 || nft.buffer_error(ctx) < 0)
                return -ENOMEM;
        /* Counters are shown unless NFT_CTX_OUTPUT_STATELESS is set. */
        flags = nft.output_get_flags(ctx) & ~NFT_CTX_OUTPUT_STATELESS;
        if (show_flags & PST_SHOW_JSON)
                flags |= NFT_CTX_OUTPUT_JSON;
        if (show_flags & PST_SHOW_STATELESS)
                flags |= NFT_CTX_OUTPUT_STATELESS;
        nft.output_set_flags(ctx, flags);

        snprintf(cmd, sizeof(cmd), "list table inet %s", table);
        if (nft.run_cmd(ctx, cmd) != 0) {
                err = nft.get_error(ctx);
                /* libnftables reports a missing table as ENOENT's strerror text. */
                if (err && strstr(err, strerror(ENOENT)))
                        return pst_error(diag, -ENOENT, NULL, 0, "table inet %s does not exist (nothing applied?)",
                                         table);
                if (err && (strstr(err, strerror(EPERM)) || strstr(err, "Operation not permitted")))
                        return pst_error(diag, -EPERM, NULL, 0, "listing table inet %s: permission denied", table);
                return pst_error(diag, -EIO, NULL, 0, "listing table inet %s failed: %s", table,
                                 err && *err ? err : "unknown error");
        }
        out = nft.get_output(ctx);
        text = strdup(out ?: "");
        if (!text)
                return -ENOMEM;
        *ret_text = text;
        return 0;
}
