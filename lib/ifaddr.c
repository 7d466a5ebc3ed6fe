/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include "ifaddr.h"
#include "nlreq.h"
#include "util.h"

/* ---- the list ---- */

bool pst_addr_is_linklocal(const struct pst_addr *addr) {
        if (addr->family == AF_INET)
                return addr->a[0] == 169 && addr->a[1] == 254;
        return addr->family == AF_INET6 && addr->a[0] == 0xfe && (addr->a[1] & 0xc0) == 0x80;
}

int pst_ifaddrs_add(struct pst_ifaddrs *ifa, const char *ifname, const struct pst_addr *addr) {
        int r = GROW(ifa->v, ifa->cap, ifa->n + 1, PST_IFADDRS_MAX);

        if (r < 0)
                return r;
        ifa->v[ifa->n] = (struct pst_ifaddr) { .addr = *addr, .linklocal = pst_addr_is_linklocal(addr) };
        snprintf(ifa->v[ifa->n].ifname, IFNAMSIZ, "%s", ifname);
        ifa->n++;
        return 0;
}

int pst_ifaddrs_copy(const struct pst_ifaddrs *ifa, struct pst_ifaddrs *ret) {
        struct pst_ifaddr *v = NULL;

        if (ifa->n > 0) {
                v = malloc(ifa->n * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                memcpy(v, ifa->v, ifa->n * sizeof(*v));
        }
        *ret = (struct pst_ifaddrs) { .n = ifa->n, .cap = ifa->n, .v = v };
        return 0;
}

void pst_ifaddrs_clear(struct pst_ifaddrs *ifa) {
        free(ifa->v);
        *ifa = (struct pst_ifaddrs) {};
}

/* ---- RTM_NEWADDR / RTM_DELADDR ---- */

static int addr_attr_cb(const struct nlattr *a, void *data) {
        const struct nlattr **tb = data;

        if (mnl_attr_type_valid(a, IFA_MAX) < 0)
                return MNL_CB_OK;
        tb[mnl_attr_get_type(a)] = a;
        return MNL_CB_OK;
}

int pst_ifaddr_parse(const struct nlmsghdr *nlh, struct pst_ifaddr_msg *ret) {
        const struct ifaddrmsg *ifm = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *tb[IFA_MAX + 1] = {};
        const struct nlattr *local, *address;
        struct pst_ifaddr_msg msg;
        unsigned len;

        if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifm)))
                return -EBADMSG;
        if (ifm->ifa_family != AF_INET && ifm->ifa_family != AF_INET6)
                return -EAFNOSUPPORT;
        mnl_attr_parse(nlh, sizeof(*ifm), addr_attr_cb, tb);
        len = pst_addr_len(ifm->ifa_family);
        address = tb[IFA_ADDRESS];
        local = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : address;
        if (!local || mnl_attr_get_payload_len(local) < len)
                return -EBADMSG;
        msg = (struct pst_ifaddr_msg) { .ifindex = (int) ifm->ifa_index, .family = ifm->ifa_family,
                                        .prefixlen = ifm->ifa_prefixlen, .flags = ifm->ifa_flags };
        /* ifa_flags has 8 bits; IFA_FLAGS (since Linux 3.14) carries them all */
        if (tb[IFA_FLAGS] && mnl_attr_get_payload_len(tb[IFA_FLAGS]) >= sizeof(uint32_t))
                msg.flags = mnl_attr_get_u32(tb[IFA_FLAGS]);
        memcpy(msg.local, mnl_attr_get_payload(local), len);
        if (address && mnl_attr_get_payload_len(address) >= len)
                memcpy(msg.address, mnl_attr_get_payload(address), len);
        *ret = msg;
        return 0;
}

bool pst_ifaddr_msg_usable(const struct pst_ifaddr_msg *msg) {
        if (msg->flags & IFA_F_DADFAILED)
                return false;
        /* an optimistic address (RFC 4429) is tentative too, yet already in use */
        return !(msg->flags & IFA_F_TENTATIVE) || (msg->flags & IFA_F_OPTIMISTIC);
}

void pst_ifaddr_msg_host(const struct pst_ifaddr_msg *msg, struct pst_addr *ret) {
        unsigned len = pst_addr_len(msg->family);

        *ret = (struct pst_addr) { .family = msg->family, .prefixlen = (uint8_t) (len * 8) };
        memcpy(ret->a, msg->local, len);
}

/* ---- one dump ---- */

struct dump_ctx {
        struct pst_ifaddrs *ifa;
        int err;
};

static int addr_cb(const struct nlmsghdr *nlh, void *data) {
        struct dump_ctx *ctx = data;
        struct pst_ifaddr_msg msg;
        struct pst_addr addr;
        char name[IF_NAMESIZE];

        if (pst_ifaddr_parse(nlh, &msg) < 0)
                return MNL_CB_OK; /* not IPv4/IPv6, or malformed: skipped */
        if (!pst_ifaddr_msg_usable(&msg))
                return MNL_CB_OK; /* tentative or dadfailed: the host does not answer there */
        if (!if_indextoname((unsigned) msg.ifindex, name))
                return MNL_CB_OK; /* gone meanwhile */
        pst_ifaddr_msg_host(&msg, &addr);
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
