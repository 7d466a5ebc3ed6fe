/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `nft list table inet NAME` through libnftables: the listing users know,
 * with counters, from the kernel's view of our table.
 */
#include <ctype.h>
#include <nftables/libnftables.h>

#include "nft.h"

static inline void nft_ctx_freep(struct nft_ctx **p) {
        if (*p)
                nft_ctx_free(*p);
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

int pst_show_table(const char *table, bool json, char **ret_text, struct pst_diag *diag) {
        _cleanup_(nft_ctx_freep) struct nft_ctx *ctx = NULL;
        char cmd[PST_NAME_MAX + 32];
        const char *out, *err;
        unsigned flags;
        char *text;

        if (!table_name_ok(table))
                return pst_error(diag, -EINVAL, NULL, 0, "invalid table name \"%.*s\"", PST_NAME_MAX, table);
        ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!ctx)
                return -ENOMEM;
        if (nft_ctx_buffer_output(ctx) < 0 || nft_ctx_buffer_error(ctx) < 0)
                return -ENOMEM;
        /* Counters are shown unless NFT_CTX_OUTPUT_STATELESS is set. */
        flags = nft_ctx_output_get_flags(ctx) & ~NFT_CTX_OUTPUT_STATELESS;
        if (json)
                flags |= NFT_CTX_OUTPUT_JSON;
        nft_ctx_output_set_flags(ctx, flags);

        snprintf(cmd, sizeof(cmd), "list table inet %s", table);
        if (nft_run_cmd_from_buffer(ctx, cmd) != 0) {
                err = nft_ctx_get_error_buffer(ctx);
                /* libnftables reports a missing table as ENOENT's strerror text. */
                if (err && strstr(err, strerror(ENOENT)))
                        return pst_error(diag, -ENOENT, NULL, 0, "table inet %s does not exist (nothing applied?)",
                                         table);
                if (err && (strstr(err, strerror(EPERM)) || strstr(err, "Operation not permitted")))
                        return pst_error(diag, -EPERM, NULL, 0, "listing table inet %s: permission denied", table);
                return pst_error(diag, -EIO, NULL, 0, "listing table inet %s failed: %s", table,
                                 err && *err ? err : "unknown error");
        }
        out = nft_ctx_get_output_buffer(ctx);
        text = strdup(out ?: "");
        if (!text)
                return -ENOMEM;
        *ret_text = text;
        return 0;
}
