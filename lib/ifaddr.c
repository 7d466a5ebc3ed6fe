/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include "ifaddr.h"
#include "nlreq.h"

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
        char buf[NLMSG_SPACE(sizeof(struct rtgenmsg))] __attribute__((aligned(4))) = {};
        struct dump_ctx ctx = { .ifa = ret };
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct rtgenmsg *rt;
        int r;

        nlh->nlmsg_type = RTM_GETADDR;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
        rt->rtgen_family = AF_UNSPEC;
        r = pst_nl_request(NETLINK_ROUTE, nlh, addr_cb, &ctx);
        return ctx.err < 0 ? ctx.err : r;
}
