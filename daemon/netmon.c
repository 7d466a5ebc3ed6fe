/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include "log.h"
#include "manager.h"
#include "netmon.h"

/* Big enough for the largest RTM_NEWLINK (many VFs, long altnames) */
#define NETMON_RBUF (64 * 1024)
/* Messages read per wake-up before yielding to the rest of the loop */
#define NETMON_READS_PER_WAKEUP 64
/* What we ask for as receive buffer: room for a burst of ~10k messages */
#define NETMON_RCVBUF (8 * 1024 * 1024)

struct link {
        int ifindex;
        char name[IFNAMSIZ];
};

struct addr {
        int ifindex;
        uint8_t family, prefixlen;
        uint8_t local[16];   /* IFA_LOCAL, else IFA_ADDRESS: what the host answers on */
        uint8_t address[16]; /* IFA_ADDRESS: the peer on point-to-point links; part of the kernel's key */
};

struct table {
        size_t nlinks, caplinks;
        struct link *links;
        size_t naddrs, capaddrs;
        struct addr *addrs;
};

struct netmon {
        struct manager *m;
        struct mnl_socket *nl;
        sd_event_source *io, *timer;
        uint8_t *buf;
        struct table t;
        bool dirty, resync_pending;
        uint64_t first_event_usec;
        uint64_t resyncs;
};

static void table_clear(struct table *t) {
        free(t->links);
        free(t->addrs);
        *t = (struct table) {};
}

static struct link *link_find(struct table *t, int ifindex) {
        for (size_t i = 0; i < t->nlinks; i++)
                if (t->links[i].ifindex == ifindex)
                        return &t->links[i];
        return NULL;
}

static bool link_has_addrs(struct table *t, int ifindex) {
        for (size_t i = 0; i < t->naddrs; i++)
                if (t->addrs[i].ifindex == ifindex)
                        return true;
        return false;
}

/* Returns 1 when the address view changed (a link with addresses was renamed) */
static int link_set(struct table *t, int ifindex, const char *name) {
        struct link *l = link_find(t, ifindex);
        int r;

        if (l) {
                if (streq(l->name, name))
                        return 0;
                snprintf(l->name, sizeof(l->name), "%s", name);
                return link_has_addrs(t, ifindex);
        }
        r = GROW(t->links, t->caplinks, t->nlinks + 1, NETMON_LINKS_MAX);
        if (r < 0)
                return r;
        t->links[t->nlinks] = (struct link) { .ifindex = ifindex };
        snprintf(t->links[t->nlinks].name, IFNAMSIZ, "%s", name);
        t->nlinks++;
        /* addresses reported before their link now get a name */
        return link_has_addrs(t, ifindex);
}

static int link_del(struct table *t, int ifindex) {
        bool changed = false;
        size_t j = 0;

        for (size_t i = 0; i < t->nlinks; i++)
                if (t->links[i].ifindex == ifindex)
                        t->links[i] = t->links[--t->nlinks];
        for (size_t i = 0; i < t->naddrs; i++) {
                if (t->addrs[i].ifindex == ifindex) {
                        changed = true;
                        continue;
                }
                t->addrs[j++] = t->addrs[i];
        }
        t->naddrs = j;
        return changed;
}

static struct addr *addr_find(struct table *t, const struct addr *a) {
        for (size_t i = 0; i < t->naddrs; i++) {
                struct addr *b = &t->addrs[i];

                if (b->ifindex == a->ifindex && b->family == a->family && b->prefixlen == a->prefixlen &&
                    memcmp(b->local, a->local, 16) == 0 && memcmp(b->address, a->address, 16) == 0)
                        return b;
        }
        return NULL;
}

static int addr_add(struct table *t, const struct addr *a) {
        int r;

        if (addr_find(t, a))
                return 0; /* a flags/lifetime update: nothing we look at */
        r = GROW(t->addrs, t->capaddrs, t->naddrs + 1, PST_IFADDRS_MAX);
        if (r < 0)
                return r;
        t->addrs[t->naddrs++] = *a;
        return 1;
}

static int addr_del(struct table *t, const struct addr *a) {
        struct addr *b = addr_find(t, a);

        if (!b)
                return 0;
        *b = t->addrs[--t->naddrs];
        return 1;
}

/* ---- message parsing ---- */

static int attr_cb(const struct nlattr *a, void *data) {
        const struct nlattr **tb = data;
        int type = mnl_attr_get_type(a);

        /* IFLA_MAX > IFA_MAX: tb is always sized for links */
        if (mnl_attr_type_valid(a, IFLA_MAX) < 0)
                return MNL_CB_OK;
        tb[type] = a;
        return MNL_CB_OK;
}

static int parse_link(const struct nlmsghdr *nlh, int *ret_ifindex, char name[IFNAMSIZ]) {
        const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *tb[IFLA_MAX + 1] = {};

        if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
                return -EBADMSG;
        /* bridge port messages (AF_BRIDGE) also come as RTM_NEWLINK/DELLINK */
        if (ifi->ifi_family != AF_UNSPEC)
                return -EAGAIN;
        *ret_ifindex = ifi->ifi_index;
        if (!name)
                return 0;
        mnl_attr_parse(nlh, sizeof(*ifi), attr_cb, tb);
        if (!tb[IFLA_IFNAME] || mnl_attr_validate(tb[IFLA_IFNAME], MNL_TYPE_NUL_STRING) < 0)
                return -EBADMSG;
        snprintf(name, IFNAMSIZ, "%s", mnl_attr_get_str(tb[IFLA_IFNAME]));
        return 0;
}

static int parse_addr(const struct nlmsghdr *nlh, struct addr *ret) {
        const struct ifaddrmsg *ifm = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *tb[IFLA_MAX + 1] = {};
        const struct nlattr *local, *address;
        unsigned len;

        if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifm)))
                return -EBADMSG;
        if (ifm->ifa_family != AF_INET && ifm->ifa_family != AF_INET6)
                return -EAGAIN;
        mnl_attr_parse(nlh, sizeof(*ifm), attr_cb, tb);
        len = ifm->ifa_family == AF_INET ? 4 : 16;
        address = tb[IFA_ADDRESS];
        local = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : address;
        if (!local || mnl_attr_get_payload_len(local) < len)
                return -EBADMSG;
        *ret = (struct addr) { .ifindex = (int) ifm->ifa_index, .family = ifm->ifa_family,
                               .prefixlen = ifm->ifa_prefixlen };
        memcpy(ret->local, mnl_attr_get_payload(local), len);
        if (address && mnl_attr_get_payload_len(address) >= len)
                memcpy(ret->address, mnl_attr_get_payload(address), len);
        return 0;
}

/* Apply one message to t.  Returns 1 when the address view changed. */
static int table_apply(struct table *t, const struct nlmsghdr *nlh) {
        char name[IFNAMSIZ];
        struct addr a;
        int ifindex, r;

        switch (nlh->nlmsg_type) {
        case RTM_NEWLINK:
                r = parse_link(nlh, &ifindex, name);
                return r < 0 ? (r == -EAGAIN ? 0 : r) : link_set(t, ifindex, name);
        case RTM_DELLINK:
                r = parse_link(nlh, &ifindex, NULL);
                return r < 0 ? (r == -EAGAIN ? 0 : r) : link_del(t, ifindex);
        case RTM_NEWADDR:
                r = parse_addr(nlh, &a);
                return r < 0 ? (r == -EAGAIN ? 0 : r) : addr_add(t, &a);
        case RTM_DELADDR:
                r = parse_addr(nlh, &a);
                return r < 0 ? (r == -EAGAIN ? 0 : r) : addr_del(t, &a);
        default:
                return 0;
        }
}

/* ---- dump ---- */

struct dump_ctx {
        struct table *t;
        int err;
};

static int dump_cb(const struct nlmsghdr *nlh, void *data) {
        struct dump_ctx *ctx = data;
        int r = table_apply(ctx->t, nlh);

        /* a malformed message is skipped; only running out of room stops the dump */
        if (r == -ENOMEM || r == -E2BIG) {
                ctx->err = r;
                return MNL_CB_ERROR;
        }
        return MNL_CB_OK;
}

static int dump_one(struct mnl_socket *nl, uint8_t *buf, uint16_t type, uint32_t seq, struct table *t) {
        struct dump_ctx ctx = { .t = t };
        uint32_t portid = mnl_socket_get_portid(nl);
        struct nlmsghdr *nlh;
        struct rtgenmsg *rt;

        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        nlh->nlmsg_seq = seq;
        rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
        rt->rtgen_family = AF_UNSPEC;
        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
                return -errno;
        for (;;) {
                ssize_t n = mnl_socket_recvfrom(nl, buf, NETMON_RBUF);
                int r;

                if (n < 0)
                        return errno == EINTR ? -EINTR : -errno;
                r = mnl_cb_run(buf, (size_t) n, seq, portid, dump_cb, &ctx);
                if (r == MNL_CB_STOP)
                        return 0;
                if (r < 0)
                        return ctx.err < 0 ? ctx.err : -errno;
        }
}

/* A consistent-enough snapshot: links first so addresses find their names.
 * Events that race with the dump are queued on the monitor socket and are
 * applied afterwards; every one of them sets state, so replaying them on
 * top of a newer dump converges (see netmon_io for the ENOBUFS case).
 * A dump interrupted by a change (EINTR, NLM_F_DUMP_INTR) is retried. */
static int dump_all(uint8_t *buf, struct table *ret) {
        for (int attempt = 0; attempt < 5; attempt++) {
                struct table t = {};
                struct mnl_socket *nl;
                int r;

                nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
                if (!nl)
                        return -errno;
                r = mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ? -errno : 0;
                if (r >= 0)
                        r = dump_one(nl, buf, RTM_GETLINK, 1, &t);
                if (r >= 0)
                        r = dump_one(nl, buf, RTM_GETADDR, 2, &t);
                mnl_socket_close(nl);
                if (r == -EINTR) {
                        table_clear(&t);
                        continue;
                }
                if (r < 0) {
                        table_clear(&t);
                        return r;
                }
                table_clear(ret);
                *ret = t;
                return 0;
        }
        return -EINTR;
}

/* ---- events ---- */

static int arm_timer(struct netmon *nm) {
        int r;

        if (nm->first_event_usec == 0)
                nm->first_event_usec = now_usec();
        r = sd_event_source_get_enabled(nm->timer, NULL);
        if (r > 0)
                return 0; /* already armed: this event joins the burst */
        r = sd_event_source_set_time_relative(nm->timer, NETMON_COALESCE_USEC);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(nm->timer, SD_EVENT_ONESHOT);
}

int netmon_resync(struct netmon *nm) {
        int r = dump_all(nm->buf, &nm->t);

        if (r < 0) {
                log_errno(LOG_ERR, r, "cannot read links and addresses from the kernel: %m");
                return r;
        }
        nm->resyncs++;
        nm->resync_pending = false;
        nm->dirty = true; /* the manager compares with what is installed */
        if (nm->first_event_usec == 0)
                nm->first_event_usec = now_usec();
        return 0;
}

int netmon_request_resync(struct netmon *nm) {
        nm->resync_pending = true;
        return arm_timer(nm);
}

void netmon_flush(struct netmon *nm) {
        uint64_t t0 = nm->first_event_usec;

        (void) sd_event_source_set_enabled(nm->timer, SD_EVENT_OFF);
        if (nm->resync_pending)
                (void) netmon_resync(nm);
        nm->first_event_usec = 0;
        if (!nm->dirty)
                return;
        nm->dirty = false;
        manager_ifaddrs_changed(nm->m, t0);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        netmon_flush(userdata);
        return 0;
}

/* The kernel dropped events (our receive queue overflowed).  What is still
 * queued is older than what was lost, so replaying it on top of a fresh dump
 * could resurrect an address whose deletion was dropped: discard the queue
 * first (bounded), then dump. */
static void overflow(struct netmon *nm) {
        int fd = mnl_socket_get_fd(nm->nl);

        for (int i = 0; i < 100000; i++)
                if (recv(fd, nm->buf, NETMON_RBUF, MSG_DONTWAIT) < 0 && errno != ENOBUFS && errno != EINTR)
                        break;
        log_msg(LOG_WARNING, "rtnetlink events were dropped (receive queue overflow): re-reading every link "
                             "and address");
        (void) netmon_request_resync(nm);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct netmon *nm = userdata;

        for (int i = 0; i < NETMON_READS_PER_WAKEUP; i++) {
                struct sockaddr_nl snl;
                struct iovec iov = { nm->buf, NETMON_RBUF };
                struct msghdr mh = { .msg_name = &snl, .msg_namelen = sizeof(snl), .msg_iov = &iov, .msg_iovlen = 1 };
                const struct nlmsghdr *nlh;
                bool changed = false;
                ssize_t n;
                int left;

                n = recvmsg(fd, &mh, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        if (errno == ENOBUFS) {
                                overflow(nm);
                                return 0;
                        }
                        log_errno(LOG_ERR, -errno, "rtnetlink receive failed: %m");
                        return 0;
                }
                /* only the kernel (port 0) speaks for the kernel */
                if (snl.nl_pid != 0 || (mh.msg_flags & MSG_TRUNC))
                        continue;
                left = (int) n;
                for (nlh = (const struct nlmsghdr *) nm->buf; mnl_nlmsg_ok(nlh, left);
                     nlh = mnl_nlmsg_next(nlh, &left)) {
                        int r = table_apply(&nm->t, nlh);

                        if (r == -ENOMEM || r == -E2BIG) {
                                log_errno(LOG_ERR, r, "link/address table full (%m): re-reading");
                                (void) netmon_request_resync(nm);
                        } else if (r > 0)
                                changed = true;
                }
                if (changed) {
                        nm->dirty = true;
                        (void) arm_timer(nm);
                }
        }
        return 0;
}

int netmon_new(struct manager *m, struct netmon **ret) {
        struct netmon *nm = calloc(1, sizeof(*nm));

        if (!nm)
                return -ENOMEM;
        nm->m = m;
        nm->buf = malloc(NETMON_RBUF);
        if (!nm->buf) {
                free(nm);
                return -ENOMEM;
        }
        *ret = nm;
        return 0;
}

void netmon_free(struct netmon *nm) {
        if (!nm)
                return;
        sd_event_source_disable_unref(nm->io);
        sd_event_source_disable_unref(nm->timer);
        if (nm->nl)
                mnl_socket_close(nm->nl);
        table_clear(&nm->t);
        free(nm->buf);
        free(nm);
}

static void set_rcvbuf(int fd) {
        const char *e = getenv("POSTERN_RTNL_RCVBUF"); /* tests: a small queue to provoke ENOBUFS */
        int v = NETMON_RCVBUF;

        if (e && atoi(e) > 0) {
                v = atoi(e);
                (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
                return;
        }
        /* beyond net.core.rmem_max needs CAP_NET_ADMIN, which we have */
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
                (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
}

int netmon_start(struct netmon *nm, sd_event *e) {
        int groups[] = { RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR };
        int fd, r;

        nm->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (!nm->nl)
                return -errno;
        if (mnl_socket_bind(nm->nl, 0, MNL_SOCKET_AUTOPID) < 0)
                return -errno;
        for (size_t i = 0; i < ELEMENTSOF(groups); i++)
                if (mnl_socket_setsockopt(nm->nl, NETLINK_ADD_MEMBERSHIP, &groups[i], sizeof(groups[i])) < 0)
                        return -errno;
        fd = mnl_socket_get_fd(nm->nl);
        set_rcvbuf(fd);

        r = sd_event_add_io(e, &nm->io, fd, EPOLLIN, on_io, nm);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(nm->io, "rtnetlink");
        /* accuracy 1 µs: sd-event's default (250 ms) would swallow the whole point */
        r = sd_event_add_time_relative(e, &nm->timer, CLOCK_MONOTONIC, NETMON_COALESCE_USEC, 1, on_timer, nm);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(nm->timer, "rtnetlink-coalesce");
        r = sd_event_source_set_enabled(nm->timer, SD_EVENT_OFF);
        if (r < 0)
                return r;
        /* subscribed first, dumped second: nothing falls between the two */
        r = dump_all(nm->buf, &nm->t);
        if (r < 0)
                return r;
        nm->dirty = false;
        return 0;
}

int netmon_ifaddrs(struct netmon *nm, struct pst_ifaddrs *ret) {
        for (size_t i = 0; i < nm->t.naddrs; i++) {
                const struct addr *a = &nm->t.addrs[i];
                const struct link *l = link_find(&nm->t, a->ifindex);
                struct pst_addr pa = { .family = a->family };
                int r;

                if (!l)
                        continue; /* its RTM_NEWLINK is still to come */
                pa.prefixlen = (uint8_t) (pst_addr_len(a->family) * 8);
                memcpy(pa.a, a->local, pst_addr_len(a->family));
                r = pst_ifaddrs_add(ret, l->name, &pa);
                if (r < 0)
                        return r;
        }
        return 0;
}

bool netmon_has_link(struct netmon *nm, const char *ifname) {
        for (size_t i = 0; i < nm->t.nlinks; i++)
                if (streq(nm->t.links[i].name, ifname))
                        return true;
        return false;
}

uint64_t netmon_resyncs(struct netmon *nm) {
        return nm->resyncs;
}

size_t netmon_nlinks(struct netmon *nm) {
        return nm->t.nlinks;
}

size_t netmon_naddrs(struct netmon *nm) {
        return nm->t.naddrs;
}
