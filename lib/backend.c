/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include "config.h"
#include "backend.h"
#include "nlreq.h"
#if HAVE_IPTC
#include "iptc.h"
#endif

static const char *const names[] = {
        [PST_BACKEND_AUTO] = "auto",
        [PST_BACKEND_NFTABLES] = "nftables",
        [PST_BACKEND_IPTABLES] = "iptables",
};

const char *pst_backend_name(enum pst_backend b) {
        return (unsigned) b < ELEMENTSOF(names) ? names[b] : "?";
}

int pst_backend_from_string(const char *s, enum pst_backend *ret) {
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(s, names[i])) {
                        *ret = (enum pst_backend) i;
                        return 0;
                }
        return -EINVAL;
}

bool pst_backend_have_iptables(void) {
        return HAVE_IPTC;
}

/* A NEWGEN answer means nf_tables is there; an error (no such subsystem:
 * EINVAL/EOPNOTSUPP) means it is not. */
static int gen_cb(const struct nlmsghdr *nlh, void *data) {
        if (nlh->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN))
                *(bool *) data = true;
        return MNL_CB_OK;
}

int pst_nft_probe(void) {
        char buf[NLMSG_SPACE(sizeof(struct nfgenmsg))] __attribute__((aligned(4))) = {};
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct nfgenmsg *nfg;
        bool gen = false;
        int r;

        nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
        nfg->nfgen_family = AF_UNSPEC;
        nfg->version = NFNETLINK_V0;
        r = pst_nl_request(NETLINK_NETFILTER, nlh, gen_cb, &gen);
        if (r < 0)
                return r;
        return gen ? 0 : -EPROTONOSUPPORT;
}

int pst_backend_resolve(enum pst_backend want, enum pst_backend *ret) {
        switch (want) {
        case PST_BACKEND_NFTABLES:
                *ret = want;
                return 0;
        case PST_BACKEND_IPTABLES:
                if (!HAVE_IPTC)
                        return -EOPNOTSUPP;
                *ret = want;
                return 0;
        case PST_BACKEND_AUTO:
                if (pst_nft_probe() == 0) {
                        *ret = PST_BACKEND_NFTABLES;
                        return 0;
                }
#if HAVE_IPTC
                if (pst_iptc_available() == 0) {
                        *ret = PST_BACKEND_IPTABLES;
                        return 0;
                }
#endif
                return -EPROTONOSUPPORT;
        }
        return -EINVAL;
}
