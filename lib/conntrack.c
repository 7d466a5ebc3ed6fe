/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/rtnetlink.h>
#include <string.h>

#include "conntrack.h"
#include "eval.h"
#include "lockout.h"
#include "nlreq.h"

/* route lookups remembered per dump: a direct-mapped cache, fixed size */
#define ROUTE_CACHE 256

struct route_slot {
        bool used;
        int err;                /* the lookup's error, remembered too */
        uint8_t family;
        uint8_t addr[16];
        char ifname[IFNAMSIZ];
        unsigned type;          /* RTN_* */
};

struct tuple {
        uint8_t family;
        bool have_src, have_dst;
        uint8_t src[16], dst[16];
        uint8_t proto;
        uint16_t sport, dport;  /* host byte order */
        uint8_t icmp_type, icmp_code;
};

struct count_ctx {
        const struct pst_ruleset *rs;
        const struct pst_ifaddrs *ifa;
        uint8_t family;
        uint64_t cut, total;
        int err;
        struct route_slot cache[ROUTE_CACHE];
};

static int ip_cb(const struct nlattr *a, void *data) {
        struct tuple *t = data;
        uint16_t type = mnl_attr_get_type(a);
        uint16_t len = mnl_attr_get_payload_len(a);

        if ((type == CTA_IP_V4_SRC || type == CTA_IP_V4_DST) && len == 4) {
                memcpy(type == CTA_IP_V4_SRC ? t->src : t->dst, mnl_attr_get_payload(a), 4);
                t->family = AF_INET;
        } else if ((type == CTA_IP_V6_SRC || type == CTA_IP_V6_DST) && len == 16) {
                memcpy(type == CTA_IP_V6_SRC ? t->src : t->dst, mnl_attr_get_payload(a), 16);
                t->family = AF_INET6;
        } else
                return MNL_CB_OK;
        if (type == CTA_IP_V4_SRC || type == CTA_IP_V6_SRC)
                t->have_src = true;
        else
                t->have_dst = true;
        return MNL_CB_OK;
}

static int proto_cb(const struct nlattr *a, void *data) {
        struct tuple *t = data;
        uint16_t type = mnl_attr_get_type(a);
        uint16_t len = mnl_attr_get_payload_len(a);

        switch (type) {
        case CTA_PROTO_NUM:
                if (len == 1)
                        t->proto = mnl_attr_get_u8(a);
                break;
        case CTA_PROTO_SRC_PORT:
        case CTA_PROTO_DST_PORT:
                if (len == 2) {
                        uint16_t v = ntohs(mnl_attr_get_u16(a));

                        *(type == CTA_PROTO_SRC_PORT ? &t->sport : &t->dport) = v;
                }
                break;
        case CTA_PROTO_ICMP_TYPE:
        case CTA_PROTO_ICMPV6_TYPE:
                if (len == 1)
                        t->icmp_type = mnl_attr_get_u8(a);
                break;
        case CTA_PROTO_ICMP_CODE:
        case CTA_PROTO_ICMPV6_CODE:
                if (len == 1)
                        t->icmp_code = mnl_attr_get_u8(a);
                break;
        }
        return MNL_CB_OK;
}

static int tuple_cb(const struct nlattr *a, void *data) {
        uint16_t type = mnl_attr_get_type(a);

        if (type == CTA_TUPLE_IP && mnl_attr_validate(a, MNL_TYPE_NESTED) >= 0)
                mnl_attr_parse_nested(a, ip_cb, data);
        else if (type == CTA_TUPLE_PROTO && mnl_attr_validate(a, MNL_TYPE_NESTED) >= 0)
                mnl_attr_parse_nested(a, proto_cb, data);
        return MNL_CB_OK;
}

struct entry {
        struct tuple orig, reply;
};

static int entry_cb(const struct nlattr *a, void *data) {
        struct entry *e = data;
        uint16_t type = mnl_attr_get_type(a);

        if ((type == CTA_TUPLE_ORIG || type == CTA_TUPLE_REPLY) && mnl_attr_validate(a, MNL_TYPE_NESTED) >= 0)
                mnl_attr_parse_nested(a, tuple_cb, type == CTA_TUPLE_ORIG ? &e->orig : &e->reply);
        return MNL_CB_OK;
}

static bool is_local(const struct pst_ifaddrs *ifa, uint8_t family, const uint8_t *a) {
        for (size_t i = 0; i < ifa->n; i++)
                if (ifa->v[i].addr.family == family && memcmp(ifa->v[i].addr.a, a, pst_addr_len(family)) == 0)
                        return true;
        return false;
}

static int route_cached(struct count_ctx *c, uint8_t family, const uint8_t *a, char ret[IFNAMSIZ],
                        unsigned *ret_type) {
        uint32_t h = 2166136261u; /* FNV-1a over the address */
        struct route_slot *s;

        for (unsigned i = 0; i < pst_addr_len(family); i++)
                h = (h ^ a[i]) * 16777619u;
        s = &c->cache[h % ROUTE_CACHE];
        if (!s->used || s->family != family || memcmp(s->addr, a, 16) != 0) {
                *s = (struct route_slot) { .used = true, .family = family };
                memcpy(s->addr, a, 16);
                s->err = pst_route_lookup(family, a, s->ifname, &s->type);
        }
        if (s->err < 0)
                return s->err;
        memcpy(ret, s->ifname, IFNAMSIZ);
        *ret_type = s->type;
        return 0;
}

/* One entry: would rs accept the packet that opened it as new? */
static int judge(struct count_ctx *c, const struct entry *e, bool *ret_cut) {
        const struct tuple *o = &e->orig;
        struct pst_packet pkt = { .family = o->family, .l4proto = o->proto, .sport = o->sport, .dport = o->dport,
                                  .icmp_type = o->icmp_type, .icmp_code = o->icmp_code, .ct_state = PST_CT_NEW };
        struct pst_eval_result res;
        char oif[IFNAMSIZ];
        enum pst_hook hook;
        unsigned type;
        bool local;
        int r;

        *ret_cut = false;
        memcpy(pkt.saddr, o->src, 16);
        memcpy(pkt.daddr, o->dst, 16);
        /* the destination the filter saw: after DNAT, the reply's source */
        if (e->reply.have_src && e->reply.family == o->family) {
                memcpy(pkt.daddr, e->reply.src, 16);
                if (o->proto == IPPROTO_TCP || o->proto == IPPROTO_UDP)
                        pkt.dport = e->reply.sport;
        }
        if (is_local(c->ifa, pkt.family, pkt.saddr))
                return 0; /* opened by this host: output, no chain of ours */
        /* without a route back to the source its packets could not have come: not ours to judge */
        if (route_cached(c, pkt.family, pkt.saddr, pkt.iifname, &type) < 0)
                return 0;
        /* delivered here or forwarded: the route's type decides, as in ip_route_input()
         * (a local address, but also a broadcast or multicast destination, goes to input) */
        if (route_cached(c, pkt.family, pkt.daddr, oif, &type) < 0)
                return 0;
        local = is_local(c->ifa, pkt.family, pkt.daddr) || type == RTN_LOCAL || type == RTN_BROADCAST ||
                type == RTN_MULTICAST;
        hook = local ? PST_HOOK_INPUT : PST_HOOK_FORWARD;
        if (hook == PST_HOOK_FORWARD)
                memcpy(pkt.oifname, oif, IFNAMSIZ);
        r = pst_eval(c->rs, hook, &pkt, &res);
        if (r < 0)
                return r;
        *ret_cut = res.verdict != PST_V_ACCEPT;
        return 0;
}

static int ct_cb(const struct nlmsghdr *nlh, void *data) {
        struct count_ctx *c = data;
        struct entry e = {};
        bool cut;
        int r;

        if (nlh->nlmsg_type != ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW))
                return MNL_CB_OK;
        mnl_attr_parse(nlh, sizeof(struct nfgenmsg), entry_cb, &e);
        if (!e.orig.have_src || !e.orig.have_dst || e.orig.family != c->family) {
                c->err = -EBADMSG;
                return MNL_CB_ERROR;
        }
        r = judge(c, &e, &cut);
        if (r < 0) {
                c->err = r;
                return MNL_CB_ERROR;
        }
        c->total++;
        c->cut += cut;
        return MNL_CB_OK;
}

static void ct_header(struct nlmsghdr *nlh, uint16_t msg, uint16_t flags, uint8_t family) {
        struct nfgenmsg *nfg;

        nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | msg;
        nlh->nlmsg_flags = NLM_F_REQUEST | flags;
        nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
        nfg->nfgen_family = family;
        nfg->version = NFNETLINK_V0;
        nfg->res_id = 0;
}

static int dump_family(struct count_ctx *c, uint8_t family) {
        char buf[256];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        int r;

        ct_header(nlh, IPCTNL_MSG_CT_GET, NLM_F_DUMP, family);
        c->family = family;
        c->err = 0;
        r = pst_nl_request(NETLINK_NETFILTER, nlh, ct_cb, c);
        return c->err < 0 ? c->err : r;
}

int pst_conntrack_count_cut(const struct pst_ruleset *rs, const struct pst_ifaddrs *ifa, uint64_t *cut,
                            uint64_t *total) {
        struct pst_ifaddrs own = {};
        struct count_ctx *c;
        int r;

        if (!rs || !cut || !total)
                return -EINVAL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        if (!ifa) {
                r = pst_ifaddrs_dump(&own);
                if (r < 0)
                        goto out;
                ifa = &own;
        }
        c->rs = rs;
        c->ifa = ifa;
        r = dump_family(c, AF_INET);
        if (r >= 0)
                r = dump_family(c, AF_INET6);
        if (r >= 0) {
                *cut = c->cut;
                *total = c->total;
                r = 0;
        }
out:
        pst_ifaddrs_clear(&own);
        free(c);
        return r;
}

/* ---- NAT entries of addresses that went away ---- */

#define FLUSH_MAX 65536 /* entries deleted per call; the rest time out */
#define TUPLE_ATTR_MAX 256

struct stale {
        uint16_t len;
        uint8_t attr[TUPLE_ATTR_MAX]; /* CTA_TUPLE_ORIG as the kernel sent it */
};

struct flush_ctx {
        const struct pst_ifaddrs *gone;
        uint8_t family;
        size_t n, cap;
        struct stale *v;
        int err;
};

static bool is_gone(const struct flush_ctx *c, const uint8_t *a) {
        for (size_t i = 0; i < c->gone->n; i++)
                if (c->gone->v[i].addr.family == c->family &&
                    memcmp(c->gone->v[i].addr.a, a, pst_addr_len(c->family)) == 0)
                        return true;
        return false;
}

struct nat_entry {
        struct entry e;
        uint32_t status;
        const struct nlattr *orig;
};

static int nat_entry_cb(const struct nlattr *a, void *data) {
        struct nat_entry *ne = data;

        if (mnl_attr_get_type(a) == CTA_STATUS && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                ne->status = ntohl(mnl_attr_get_u32(a));
        if (mnl_attr_get_type(a) == CTA_TUPLE_ORIG)
                ne->orig = a;
        return entry_cb(a, &ne->e);
}

/* SNAT/masquerade to a gone address (the reply goes to it), or DNAT of
 * connections made to one: no packet of theirs can come again. */
static int stale_cb(const struct nlmsghdr *nlh, void *data) {
        struct flush_ctx *c = data;
        struct nat_entry ne = {};
        struct stale *s;

        if (nlh->nlmsg_type != ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW))
                return MNL_CB_OK;
        mnl_attr_parse(nlh, sizeof(struct nfgenmsg), nat_entry_cb, &ne);
        if (!ne.orig || ne.e.orig.family != c->family || !ne.e.orig.have_dst || !ne.e.reply.have_dst)
                return MNL_CB_OK;
        if (!((ne.status & IPS_SRC_NAT) && is_gone(c, ne.e.reply.dst)) &&
            !((ne.status & IPS_DST_NAT) && is_gone(c, ne.e.orig.dst)))
                return MNL_CB_OK;
        if (c->n >= FLUSH_MAX || ne.orig->nla_len > TUPLE_ATTR_MAX)
                return MNL_CB_OK;
        if (GROW(c->v, c->cap, c->n + 1, FLUSH_MAX) < 0) {
                c->err = -ENOMEM;
                return MNL_CB_ERROR;
        }
        s = &c->v[c->n++];
        s->len = ne.orig->nla_len;
        memcpy(s->attr, ne.orig, s->len);
        return MNL_CB_OK;
}

static int flush_family(struct flush_ctx *c, uint8_t family, uint64_t *deleted) {
        char buf[512];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        int r;

        ct_header(nlh, IPCTNL_MSG_CT_GET, NLM_F_DUMP, family);
        c->family = family;
        c->n = 0;
        c->err = 0;
        r = pst_nl_request(NETLINK_NETFILTER, nlh, stale_cb, c);
        if (c->err < 0 || r < 0)
                return c->err < 0 ? c->err : r;
        /* after the dump, not during it: deleting entries under a dump skips others */
        for (size_t i = 0; i < c->n; i++) {
                nlh = mnl_nlmsg_put_header(buf);
                ct_header(nlh, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, family);
                memcpy(mnl_nlmsg_get_payload_tail(nlh), c->v[i].attr, c->v[i].len);
                nlh->nlmsg_len += MNL_ALIGN(c->v[i].len);
                r = pst_nl_request(NETLINK_NETFILTER, nlh, NULL, NULL);
                if (r == -ENOENT)
                        continue; /* gone meanwhile */
                if (r < 0)
                        return r;
                (*deleted)++;
        }
        return 0;
}

int pst_conntrack_flush_nat(const struct pst_ifaddrs *gone, uint64_t *ret_deleted) {
        struct flush_ctx c = { .gone = gone };
        uint64_t deleted = 0;
        int r;

        if (!gone || !ret_deleted)
                return -EINVAL;
        r = flush_family(&c, AF_INET, &deleted);
        if (r >= 0)
                r = flush_family(&c, AF_INET6, &deleted);
        free(c.v);
        *ret_deleted = deleted;
        return r < 0 ? r : 0;
}
