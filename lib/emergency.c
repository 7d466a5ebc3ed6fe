/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>

#include "compile.h"
#include "emergency.h"
#include "nlreq.h"
#include "nft-internal.h"

/* ---- the policy block ---- */

static int from_item(struct pst_cfg *c, const config_setting_t *item, void *userdata) {
        struct pst_emergency *e = userdata;
        const char *v;
        bool hostbits = false;
        int r;

        if (pst_cfg_string(c, item, "emergency.ssh_from", PST_ADDR_STRLEN, &v) < 0)
                return -EINVAL;
        if (e->nfrom >= PST_EMERGENCY_FROM_MAX)
                return pst_cfg_error(c, item, "emergency.ssh_from: at most %d networks", PST_EMERGENCY_FROM_MAX);
        r = pst_addr_parse(v, &e->from[e->nfrom], &hostbits);
        if (r < 0)
                return pst_cfg_error(c, item, "emergency.ssh_from '%s' is not %s", v,
                                     hostbits ? "a network: host bits are set below the prefix length"
                                              : "an IPv4 or IPv6 address or network");
        e->nfrom++;
        return 0;
}

int pst_emergency_parse(struct pst_cfg *c, const config_setting_t *g, struct pst_emergency *e) {
        static const char *const keys[] = { "ssh", "ssh_from", NULL };
        const config_setting_t *s, *from;
        bool ssh_set = false;
        int r = 0;

        *e = (struct pst_emergency) { .loc = pst_cfg_loc(c, g) };
        if (pst_cfg_group(c, g, "emergency") < 0)
                return -EINVAL;
        if (pst_cfg_check_keys(c, g, "emergency", keys) < 0)
                r = -EINVAL;
        if ((s = config_setting_get_member(g, "ssh"))) {
                if (pst_cfg_bool(c, s, "emergency.ssh", &e->ssh) < 0)
                        r = -EINVAL;
                else
                        ssh_set = true;
        }
        if ((from = config_setting_get_member(g, "ssh_from"))) {
                if (pst_cfg_foreach_scalar(c, from, "emergency.ssh_from", false, from_item, e) < 0)
                        r = -EINVAL;
                else if (ssh_set && !e->ssh)
                        r = pst_cfg_error(c, from, "emergency.ssh_from is set but emergency.ssh is false");
                else
                        e->ssh = true;
        }
        return r;
}

int pst_emergency_load(const char *path, struct pst_diag *diag, struct pst_emergency *ret) {
        struct pst_strpool files = {};
        struct pst_cfg c = { .files = &files, .diag = diag, .main_file = path };
        const config_setting_t *g;
        config_t cfg;
        int r;

        config_init(&cfg);
        r = pst_cfg_read(&c, &cfg, path);
        if (r >= 0) {
                g = config_setting_get_member(config_root_setting(&cfg), "emergency");
                r = g ? pst_emergency_parse(&c, g, ret) : -ENOENT;
        }
        if (r >= 0)
                ret->loc.file = NULL; /* the pool goes away with this function */
        config_destroy(&cfg);
        pst_strpool_clear(&files);
        return r;
}

/* ---- the ruleset ---- */

/*
 * The emergency ruleset is what the compiler makes of a built-in policy with
 * no zones and at most one rule (SSH), so its prelude is, by construction,
 * the one of every compiled policy.
 */
int pst_emergency_ruleset(const struct pst_emergency *e, struct pst_ruleset **ret) {
        static const struct pst_service ssh = { .name = "ssh", .ntcp = 1, .tcp = { { 22, 22 } } };
        const struct pst_service *svc[] = { &ssh };
        struct pst_endpoint from[PST_EMERGENCY_FROM_MAX], to = { .kind = PST_EP_ANY };
        struct pst_prule rule = {
                .chain = PST_INPUT,
                .loc = { .file = "(emergency)" },
                .nsvc = 1,
                .svc = svc,
                .from = from,
                .nto = 1,
                .to = &to,
                .comment = "postern emergency: admin ssh",
        };
        struct pst_policy p = {
                .path = (char *) "(emergency)",
                .options = { .ipv6 = true, .icmp = PST_ICMP_ESSENTIAL, .forward_icmp = PST_ICMP_NONE },
                .nrules = e && e->ssh,
                .rules = &rule,
        };
        struct pst_diag d;
        int r;

        if (e && e->ssh) {
                for (size_t i = 0; i < e->nfrom; i++)
                        from[i] = (struct pst_endpoint) { .kind = PST_EP_ADDRS, .lit = e->from[i] };
                rule.nfrom = e->nfrom;
                if (rule.nfrom == 0)
                        from[rule.nfrom++] = (struct pst_endpoint) { .kind = PST_EP_ANY };
        }
        pst_diag_init(&d);
        r = pst_compile(&p, NULL, &d, ret);
        pst_diag_clear(&d);
        return r;
}

/* ---- table primitives ---- */

struct table_query {
        bool exists;
        uint32_t flags;
};

static int table_cb(const struct nlmsghdr *nlh, void *data) {
        struct table_query *q = data;
        const struct nlattr *a;

        if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWTABLE)
                return MNL_CB_OK;
        q->exists = true;
        mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
                if (mnl_attr_get_type(a) == NFTA_TABLE_FLAGS && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                        q->flags = ntohl(mnl_attr_get_u32(a));
        return MNL_CB_OK;
}

int pst_nft_table_query(const char *name, bool *ret_exists, uint32_t *ret_flags) {
        char buf[512] __attribute__((aligned(4))) = {};
        struct table_query q = {};
        struct nlmsghdr *nlh;
        int r;

        if (strlen(name) >= 256)
                return -ENAMETOOLONG;
        nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, 0);
        mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, name);
        r = pst_nl_request(NETLINK_NETFILTER, nlh, table_cb, &q);
        if (r < 0 && r != -ENOENT)
                return r;
        *ret_exists = q.exists;
        *ret_flags = q.flags;
        return 0;
}

/* Append one message to a one-buffer batch (msgs[] tells the sender what
 * each message is, for its error reports). */
static void claim_msg(struct pst_nft_batch *b, struct nlmsghdr *nlh, enum pst_nft_obj obj) {
        b->msgs[b->nmsgs++] = (struct pst_nft_msg) {
                .obj = (uint8_t) obj,
                .type = (uint8_t) (nlh->nlmsg_type & 0xff),
                .off = (uint32_t) b->iov[0].iov_len,
        };
        b->iov[0].iov_len += nlh->nlmsg_len;
        b->len += nlh->nlmsg_len;
}

int pst_nft_claim_table(struct pst_nft *nft, const char *name, uint32_t flags, struct pst_diag *diag) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = NULL;
        _cleanup_(pst_nft_batch_freep) struct pst_nft_batch *b = NULL;
        struct nftnl_table *t;
        struct nlmsghdr *nlh;
        char *buf;
        int r;

        r = pst_ruleset_new(&rs); /* only its table name is used, in error messages */
        if (r < 0)
                return r;
        r = strcpy_bounded(rs->table, sizeof(rs->table), name);
        if (r < 0)
                return r;
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->rs = rs;
        b->iov = calloc(1, sizeof(*b->iov));
        b->msgs = calloc(3, sizeof(*b->msgs));
        buf = calloc(1, 4096); /* three small messages */
        if (!b->iov || !b->msgs || !buf) {
                free(buf);
                return -ENOMEM;
        }
        b->niov = b->capiov = 1;
        b->capmsgs = 3;
        b->iov[0].iov_base = buf;

        claim_msg(b, nftnl_batch_begin(buf, 0), PST_NFT_OBJ_BATCH);
        t = nftnl_table_alloc();
        if (!t)
                return -ENOMEM;
        nftnl_table_set_str(t, NFTNL_TABLE_NAME, rs->table);
        nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
        nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, flags);
        /* The kernel creates a missing table even without NLM_F_CREATE, so
         * callers query first (pst_nft_table_query) and claim only what is there. */
        nlh = nftnl_nlmsg_build_hdr(buf + b->iov[0].iov_len, NFT_MSG_NEWTABLE, NFPROTO_INET, NLM_F_ACK, 1);
        nftnl_table_nlmsg_build_payload(nlh, t);
        nftnl_table_free(t);
        claim_msg(b, nlh, PST_NFT_OBJ_TABLE);
        claim_msg(b, nftnl_batch_end(buf + b->iov[0].iov_len, 2), PST_NFT_OBJ_BATCH);
        return pst_nft_batch_send(nft, b, diag);
}
