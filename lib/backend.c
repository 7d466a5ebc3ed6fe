/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include "config.h"
#include "backend.h"
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

int pst_nft_probe(void) {
        char buf[8192] __attribute__((aligned(4)));
        struct mnl_socket *nl;
        struct nlmsghdr *nlh;
        struct nfgenmsg *nfg;
        uint32_t seq = 1, portid;
        ssize_t n;
        int r = -EPROTONOSUPPORT;

        nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        if (!nl)
                return -errno;
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                r = -errno;
                goto out;
        }
        portid = mnl_socket_get_portid(nl);
        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        nlh->nlmsg_seq = seq;
        nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
        nfg->nfgen_family = AF_UNSPEC;
        nfg->version = NFNETLINK_V0;
        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
                r = -errno;
                goto out;
        }
        /* a NEWGEN answer means nf_tables is there; an error (no such
         * subsystem: EINVAL/EOPNOTSUPP) means it is not */
        for (int i = 0; i < 4; i++) {
                n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
                if (n <= 0) {
                        r = n < 0 ? -errno : -EIO;
                        break;
                }
                for (nlh = (struct nlmsghdr *) buf; mnl_nlmsg_ok(nlh, (int) n); nlh = mnl_nlmsg_next(nlh, (int *) &n)) {
                        if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != portid)
                                continue;
                        if (nlh->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN))
                                r = 0;
                        else if (nlh->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

                                if (e->error != 0)
                                        r = e->error;
                                goto out; /* the ACK comes last */
                        }
                }
        }
out:
        mnl_socket_close(nl);
        return r;
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
