/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Endpoint-mapper pinholes in the policy: a rule's `rpc` option.
 *
 *   { allow = "msrpc-epmap"; from = "cag"; to = "exchange";
 *     rpc = { interfaces = ["emsmdb", "nspi", "rfr"]; timeout = 120; max = 1024; }; }
 *
 * allows, besides the endpoint mapper itself, the TCP port each of its
 * ept_map replies hands out, from the client that asked to the address that
 * answered (never the address the tower names), for `timeout` seconds after
 * the reply; at most `max` pinholes per address family are open at a time.
 * `interfaces` restricts the pinholes to replies naming those RPC interfaces
 * (catalog names below, or UUIDs); without it any interface's port opens.
 * `rpc = true;` is the same with the defaults.
 */

#include "cfg.h"
#include "service.h"

#define PST_RPC_TIMEOUT_DEFAULT 120  /* seconds; Cisco ASA's dcerpc pinhole default is 2 minutes */
#define PST_RPC_TIMEOUT_MAX 86400
#define PST_RPC_MAX_DEFAULT 1024     /* pinholes per family */
#define PST_RPC_MAX_MAX 65536
#define PST_RPC_IFS_MAX 32

/*
 * Who reads the endpoint mapper's replies (options.rpc_mechanism, resolved
 * into struct pst_options.rpc_mech before compiling).  The bits compose:
 *   0                      NFLOG copies of every reply (rpc-reader.h)
 *   PST_RPC_MECH_KERNEL    the kernel itself reads the common reply layout
 *                          (one tower, NDR20) and updates the set; the
 *                          other replies go to userspace as below
 *   PST_RPC_MECH_QUEUE     replies for userspace are held in NFQUEUE until
 *                          their pinhole exists, instead of copied to NFLOG
 */
enum {
        PST_RPC_MECH_KERNEL = 1u << 0,
        PST_RPC_MECH_QUEUE = 1u << 1,
        PST_RPC_MECH_PROBED = 1u << 6, /* in pst_load_opts.rpc_offer: the offer is the kernel's answer */
        PST_RPC_MECH_AUTO = 1u << 7, /* options.rpc_mechanism = "auto": the best the kernel offers */
};

struct pst_rpc_interface {
        const char *name;    /* catalog name: "emsmdb" */
        const char *uuid;    /* "a4f1db00-ca47-1067-b31f-00dd010662da" */
        const char *description;
        const char *source;
};

/* The built-in catalog of RPC interfaces; NULL-name terminated. */
extern const struct pst_rpc_interface pst_rpc_interfaces[];
const struct pst_rpc_interface *pst_rpc_interface_find(const char *name);

struct pst_rpc {
        struct pst_loc loc;
        uint32_t timeout; /* seconds */
        uint32_t max;
        size_t nifs;
        uint8_t ifs[PST_RPC_IFS_MAX][16]; /* RFC 4122 byte order */
        const char *if_names[PST_RPC_IFS_MAX]; /* catalog name, or NULL for a UUID given as such */
};

/* Parse a rule's rpc setting (true, or a group); errors name file:line. */
int pst_rpc_parse(struct pst_cfg *c, const config_setting_t *s, struct pst_rpc **ret);

/* A rule with rpc must allow the endpoint mapper itself (tcp/135). */
int pst_rpc_check_rule(struct pst_cfg *c, const config_setting_t *s, const struct pst_service *const *svc,
                       size_t nsvc);
