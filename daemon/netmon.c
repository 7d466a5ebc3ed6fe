/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <limits.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include "log.h"
#include "netmon.h"

/* Big enough for the largest RTM_NEWLINK (many VFs, long altnames) */
#define NETMON_RBUF (64 * 1024)
/* Datagrams read per wake-up before yielding to the rest of the loop */
#define NETMON_READS_PER_WAKEUP 64
/* What we ask for as receive buffer: room for a burst of ~10k messages */
#define NETMON_RCVBUF (8 * 1024 * 1024)
/* After ENOBUFS, at most this many queued datagrams are thrown away */
#define NETMON_DISCARD_MAX 100000

struct link {
        int ifindex;
        char name[IFNAMSIZ];
};

struct table {
        size_t nlinks, caplinks;
        struct link *links;
        size_t naddrs, capaddrs;
        struct pst_ifaddr_msg *addrs;
};

struct netmon {
        sd_event *event;
        netmon_handler_t handler;
        void *userdata;
        struct netmon_source src;
        struct mnl_socket *nl; /* the default source's monitor socket */
        sd_event_source *io, *defer;
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

static struct pst_ifaddr_msg *addr_find(struct table *t, const struct pst_ifaddr_msg *a) {
        for (size_t i = 0; i < t->naddrs; i++) {
                struct pst_ifaddr_msg *b = &t->addrs[i];

                if (b->ifindex == a->ifindex && b->family == a->family && b->prefixlen == a->prefixlen &&
                    memcmp(b->local, a->local, 16) == 0 && memcmp(b->address, a->address, 16) == 0)
                        return b;
        }
        return NULL;
}

/* Returns 1 when the address view changed: an address of a link without a
 * name yet (its RTM_NEWLINK is still to come) is kept but not shown. */
static int addr_add(struct table *t, const struct pst_ifaddr_msg *a) {
        struct pst_ifaddr_msg *b = addr_find(t, a);
        int r;

        if (b) {
                /* a flags/lifetime update: it matters only when DAD ends (or fails) */
                bool was = pst_ifaddr_msg_usable(b);

                b->flags = a->flags;
                return was != pst_ifaddr_msg_usable(b) && link_find(t, a->ifindex) != NULL;
        }
        r = GROW(t->addrs, t->capaddrs, t->naddrs + 1, PST_IFADDRS_MAX);
        if (r < 0)
                return r;
        t->addrs[t->naddrs++] = *a;
        return link_find(t, a->ifindex) != NULL;
}

static int addr_del(struct table *t, const struct pst_ifaddr_msg *a) {
        struct pst_ifaddr_msg *b = addr_find(t, a);

        if (!b)
                return 0;
        *b = t->addrs[--t->naddrs];
        return link_find(t, a->ifindex) != NULL;
}

/* ---- message parsing ---- */

static int link_attr_cb(const struct nlattr *a, void *data) {
        const struct nlattr **tb = data;

        if (mnl_attr_type_valid(a, IFLA_MAX) < 0)
                return MNL_CB_OK;
        tb[mnl_attr_get_type(a)] = a;
        return MNL_CB_OK;
}

/* -EAFNOSUPPORT: not a link message of ours */
static int parse_link(const struct nlmsghdr *nlh, int *ret_ifindex, char ret_name[IFNAMSIZ]) {
        const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *tb[IFLA_MAX + 1] = {};

        if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
                return -EBADMSG;
        /* bridge port messages (AF_BRIDGE) also come as RTM_NEWLINK/DELLINK */
        if (ifi->ifi_family != AF_UNSPEC)
                return -EAFNOSUPPORT;
        if (ret_name) {
                mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, tb);
                if (!tb[IFLA_IFNAME] || mnl_attr_validate(tb[IFLA_IFNAME], MNL_TYPE_NUL_STRING) < 0)
                        return -EBADMSG;
                snprintf(ret_name, IFNAMSIZ, "%s", mnl_attr_get_str(tb[IFLA_IFNAME]));
        }
        *ret_ifindex = ifi->ifi_index;
        return 0;
}

/* Apply one message to t.  Returns 1 when the address view changed, 0 when
 * it did not or the message is not for us (malformed ones are skipped),
 * -ENOMEM/-E2BIG when the table cannot hold it. */
static int table_apply(struct table *t, const struct nlmsghdr *nlh) {
        char name[IFNAMSIZ];
        struct pst_ifaddr_msg a;
        int ifindex;

        switch (nlh->nlmsg_type) {
        case RTM_NEWLINK:
                return parse_link(nlh, &ifindex, name) < 0 ? 0 : link_set(t, ifindex, name);
        case RTM_DELLINK:
                return parse_link(nlh, &ifindex, NULL) < 0 ? 0 : link_del(t, ifindex);
        case RTM_NEWADDR:
                return pst_ifaddr_parse(nlh, &a) < 0 ? 0 : addr_add(t, &a);
        case RTM_DELADDR:
                return pst_ifaddr_parse(nlh, &a) < 0 ? 0 : addr_del(t, &a);
        default:
                return 0;
        }
}

/* ---- the snapshot and the handler ---- */

static int snapshot_build(struct table *t, struct pst_ifaddrs *ret) {
        struct pst_ifaddrs ifa = {};

        for (size_t i = 0; i < t->naddrs; i++) {
                const struct link *l = link_find(t, t->addrs[i].ifindex);
                struct pst_addr pa;
                int r;

                if (!l)
                        continue; /* its RTM_NEWLINK is still to come */
                if (!pst_ifaddr_msg_usable(&t->addrs[i]))
                        continue; /* tentative or dadfailed: kept, its next RTM_NEWADDR may clear that */
                pst_ifaddr_msg_host(&t->addrs[i], &pa);
                r = pst_ifaddrs_add(&ifa, l->name, &pa);
                if (r < 0) {
                        pst_ifaddrs_clear(&ifa);
                        return r;
                }
        }
        *ret = ifa;
        return 0;
}

static int deliver(struct netmon *nm, uint64_t first_event_usec) {
        struct pst_ifaddrs ifa;
        int r;

        r = snapshot_build(&nm->t, &ifa);
        if (r < 0)
                return log_errno(LOG_ERR, r, "cannot list the interface addresses: %m");
        r = nm->handler(nm, &ifa, first_event_usec, nm->userdata);
        pst_ifaddrs_clear(&ifa);
        return r;
}

/* ---- dump ---- */

struct dump_ctx {
        struct table *t;
        int err;
};

static int dump_cb(const struct nlmsghdr *nlh, void *data) {
        struct dump_ctx *ctx = data;
        int r = table_apply(ctx->t, nlh);

        /* only running out of room stops the dump */
        if (r < 0) {
                ctx->err = r;
                return MNL_CB_ERROR;
        }
        return MNL_CB_OK;
}

/* A consistent-enough snapshot: links first so addresses find their names.
 * Events that race with the dump are queued on the monitor socket and are
 * applied afterwards; every one of them sets state, so replaying them on
 * top of a newer dump converges (see overflow() for the ENOBUFS case).
 * A dump interrupted by a change (EINTR, NLM_F_DUMP_INTR) is retried. */
static int dump_all(struct netmon *nm) {
        for (int attempt = 0; attempt < 5; attempt++) {
                struct table t = {};
                struct dump_ctx ctx = { .t = &t };
                int r;

                r = nm->src.dump(nm->src.userdata, dump_cb, &ctx);
                if (ctx.err < 0)
                        r = ctx.err;
                if (r < 0) {
                        table_clear(&t);
                        if (r == -EINTR)
                                continue;
                        return r;
                }
                table_clear(&nm->t);
                nm->t = t;
                return 0;
        }
        return -EINTR;
}

static int resync(struct netmon *nm) {
        int r = dump_all(nm);

        if (r < 0)
                return log_errno(LOG_ERR, r, "cannot read links and addresses from the kernel: %m");
        nm->resyncs++;
        nm->resync_pending = false;
        return 0;
}

/* ---- events ---- */

static int arm(struct netmon *nm) {
        if (nm->first_event_usec == 0)
                nm->first_event_usec = now_usec();
        /* already enabled: this event joins the burst */
        return sd_event_source_set_enabled(nm->defer, SD_EVENT_ONESHOT);
}

int netmon_resync(struct netmon *nm) {
        uint64_t t0 = nm->first_event_usec ? nm->first_event_usec : now_usec();
        int r;

        r = resync(nm);
        if (r < 0)
                return r;
        /* the dump holds whatever the defer source was waiting for */
        (void) sd_event_source_set_enabled(nm->defer, SD_EVENT_OFF);
        nm->first_event_usec = 0;
        nm->dirty = false;
        return deliver(nm, t0);
}

int netmon_request_resync(struct netmon *nm) {
        nm->resync_pending = true;
        return arm(nm);
}

static int on_defer(sd_event_source *s, void *userdata) {
        struct netmon *nm = userdata;
        uint64_t t0 = nm->first_event_usec;

        /* a failed re-read stays pending for the next burst; the events' table is still handed over */
        if (nm->resync_pending && resync(nm) >= 0)
                nm->dirty = true; /* the handler compares with what is installed */
        nm->first_event_usec = 0;
        if (!nm->dirty)
                return 0;
        nm->dirty = false;
        (void) deliver(nm, t0);
        return 0;
}

void netmon_process(struct netmon *nm, const void *buf, size_t len) {
        int left = (int) MIN(len, (size_t) INT_MAX);
        bool changed = false;

        for (const struct nlmsghdr *nlh = buf; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
                int r = table_apply(&nm->t, nlh);

                if (r < 0) {
                        log_errno(LOG_ERR, r, "link/address table full (%m): re-reading");
                        (void) netmon_request_resync(nm);
                } else if (r > 0)
                        changed = true;
        }
        if (changed) {
                nm->dirty = true;
                (void) arm(nm);
        }
}

/* The kernel dropped events (our receive queue overflowed).  What is still
 * queued is older than what was lost, so replaying it on top of a fresh dump
 * could resurrect an address whose deletion was dropped: discard the queue
 * first (bounded), then dump. */
static void overflow(struct netmon *nm) {
        for (int i = 0; i < NETMON_DISCARD_MAX; i++) {
                ssize_t n = nm->src.recv(nm->src.userdata, nm->buf, NETMON_RBUF);

                if (n < 0 && n != -ENOBUFS && n != -EINTR)
                        break;
        }
        log_msg(LOG_WARNING, "rtnetlink events were dropped (receive queue overflow): re-reading every link "
                             "and address");
        (void) netmon_request_resync(nm);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct netmon *nm = userdata;

        for (int i = 0; i < NETMON_READS_PER_WAKEUP; i++) {
                ssize_t n = nm->src.recv(nm->src.userdata, nm->buf, NETMON_RBUF);

                if (n == -EAGAIN || n == -EINTR)
                        return 0;
                if (n == -ENOBUFS) {
                        overflow(nm);
                        return 0;
                }
                if (n < 0) {
                        log_errno(LOG_ERR, (int) n, "rtnetlink receive failed: %m");
                        return 0;
                }
                netmon_process(nm, nm->buf, (size_t) n);
        }
        return 0;
}

/* ---- the default source: rtnetlink ---- */

static ssize_t rtnl_recv(void *userdata, void *buf, size_t size) {
        struct netmon *nm = userdata;
        struct sockaddr_nl snl;
        struct iovec iov = { buf, size };
        struct msghdr mh = { .msg_name = &snl, .msg_namelen = sizeof(snl), .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        n = recvmsg(mnl_socket_get_fd(nm->nl), &mh, MSG_DONTWAIT);
        if (n < 0)
                return -errno;
        /* only the kernel (port 0) speaks for the kernel */
        if (snl.nl_pid != 0 || (mh.msg_flags & MSG_TRUNC))
                return 0;
        return n;
}

static int dump_one(struct mnl_socket *nl, uint8_t *buf, uint16_t type, uint32_t seq, mnl_cb_t cb, void *data) {
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
                        return -errno;
                r = mnl_cb_run(buf, (size_t) n, seq, portid, cb, data);
                if (r == MNL_CB_STOP)
                        return 0;
                if (r < 0)
                        return errno > 0 ? -errno : -EIO; /* a cb error: dump_all has it */
        }
}

/* On a private socket of its own: the answers do not mix with the events. */
static int rtnl_dump(void *userdata, mnl_cb_t cb, void *data) {
        struct netmon *nm = userdata;
        struct mnl_socket *nl;
        int r;

        nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!nl)
                return -errno;
        r = mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ? -errno : 0;
        if (r >= 0)
                r = dump_one(nl, nm->buf, RTM_GETLINK, 1, cb, data);
        if (r >= 0)
                r = dump_one(nl, nm->buf, RTM_GETADDR, 2, cb, data);
        mnl_socket_close(nl);
        return r;
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

static int rtnl_open(struct netmon *nm) {
        int groups[] = { RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR };

        nm->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (!nm->nl)
                return -errno;
        if (mnl_socket_bind(nm->nl, 0, MNL_SOCKET_AUTOPID) < 0)
                return -errno;
        for (size_t i = 0; i < ELEMENTSOF(groups); i++)
                if (mnl_socket_setsockopt(nm->nl, NETLINK_ADD_MEMBERSHIP, &groups[i], sizeof(groups[i])) < 0)
                        return -errno;
        set_rcvbuf(mnl_socket_get_fd(nm->nl));
        nm->src = (struct netmon_source) {
                .fd = mnl_socket_get_fd(nm->nl),
                .recv = rtnl_recv,
                .dump = rtnl_dump,
                .userdata = nm,
        };
        return 0;
}

/* ---- life cycle ---- */

int netmon_new(sd_event *e, netmon_handler_t handler, void *userdata, struct netmon **ret) {
        _cleanup_(netmon_freep) struct netmon *nm = calloc(1, sizeof(*nm));

        if (!nm)
                return -ENOMEM;
        nm->event = sd_event_ref(e);
        nm->handler = handler;
        nm->userdata = userdata;
        nm->src.fd = -1;
        nm->buf = malloc(NETMON_RBUF);
        if (!nm->buf)
                return -ENOMEM;
        *ret = TAKE_PTR(nm);
        return 0;
}

void netmon_free(struct netmon *nm) {
        if (!nm)
                return;
        sd_event_source_disable_unref(nm->io);
        sd_event_source_disable_unref(nm->defer);
        if (nm->nl)
                mnl_socket_close(nm->nl);
        sd_event_unref(nm->event);
        table_clear(&nm->t);
        free(nm->buf);
        free(nm);
}

void netmon_set_source(struct netmon *nm, const struct netmon_source *source) {
        nm->src = *source;
}

int netmon_start(struct netmon *nm) {
        int r;

        if (!nm->src.dump) {
                r = rtnl_open(nm);
                if (r < 0)
                        return r;
        }
        if (nm->src.fd >= 0) {
                r = sd_event_add_io(nm->event, &nm->io, nm->src.fd, EPOLLIN, on_io, nm);
                if (r < 0)
                        return r;
                (void) sd_event_source_set_description(nm->io, "rtnetlink");
        }
        r = sd_event_add_defer(nm->event, &nm->defer, on_defer, nm);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(nm->defer, "rtnetlink-coalesce");
        r = sd_event_source_set_enabled(nm->defer, SD_EVENT_OFF);
        if (r < 0)
                return r;
        /* subscribed first, dumped second: nothing falls between the two */
        r = dump_all(nm);
        if (r < 0)
                return r;
        return deliver(nm, 0);
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
