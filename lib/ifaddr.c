/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <time.h>

#include "ifaddr.h"

struct dump_ctx {
        struct pst_ifaddrs *ifa;
        int err;
};

static int addr_attr_cb(const struct nlattr *a, void *data) {
        const struct nlattr **tb = data;
        int type = mnl_attr_get_type(a);

        if (mnl_attr_type_valid(a, IFA_MAX) < 0)
                return MNL_CB_OK;
        tb[type] = a;
        return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data) {
        struct dump_ctx *ctx = data;
        const struct ifaddrmsg *ifm = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *tb[IFA_MAX + 1] = {};
        const struct nlattr *a;
        struct pst_addr addr = {};
        char name[IF_NAMESIZE];
        unsigned len;

        if (ifm->ifa_family != AF_INET && ifm->ifa_family != AF_INET6)
                return MNL_CB_OK;
        mnl_attr_parse(nlh, sizeof(*ifm), addr_attr_cb, tb);
        a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
        len = ifm->ifa_family == AF_INET ? 4 : 16;
        if (!a || mnl_attr_get_payload_len(a) < len)
                return MNL_CB_OK;
        if (!if_indextoname(ifm->ifa_index, name))
                return MNL_CB_OK; /* gone meanwhile */
        addr.family = ifm->ifa_family;
        addr.prefixlen = (uint8_t) (len * 8);
        memcpy(addr.a, mnl_attr_get_payload(a), len);
        ctx->err = pst_ifaddrs_add(ctx->ifa, name, &addr);
        return ctx->err < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

int pst_ifaddrs_dump(struct pst_ifaddrs *ret) {
        _cleanup_free_ char *buf = NULL;
        struct mnl_socket *nl;
        struct nlmsghdr *nlh;
        struct rtgenmsg *rt;
        struct dump_ctx ctx = { .ifa = ret };
        unsigned seq = 1, portid; /* a private socket: any fixed number will do */
        ssize_t n;
        int r = 0;

        buf = malloc(MNL_SOCKET_BUFFER_SIZE);
        if (!buf)
                return -ENOMEM;
        nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!nl)
                return -errno;
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                r = -errno;
                goto out;
        }
        portid = mnl_socket_get_portid(nl);
        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_GETADDR;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        nlh->nlmsg_seq = seq;
        rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
        rt->rtgen_family = AF_UNSPEC;
        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
                r = -errno;
                goto out;
        }
        for (;;) {
                n = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE);
                if (n < 0) {
                        r = -errno;
                        break;
                }
                r = mnl_cb_run(buf, (size_t) n, seq, portid, addr_cb, &ctx);
                if (r <= MNL_CB_STOP) {
                        r = r < 0 ? (ctx.err < 0 ? ctx.err : -errno) : 0;
                        break;
                }
        }
out:
        mnl_socket_close(nl);
        return r;
}
