/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Who else changed our table (nft.h says how the kernel tells).  The state
 * is per commit: object messages first, then the commit's NEWGEN.
 */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include "backend.h"
#include "nft.h"

#define WATCH_RBUF (64 * 1024)
#define WATCH_READS_MAX 1024   /* datagrams per call, so a flood cannot starve the caller's loop */
#define WATCH_RCVBUF (4 << 20) /* our own P2 replace notifies ~100k elements: that overflows; see ENOBUFS */

struct pst_nft_watch {
        struct mnl_socket *nl;
        char table[PST_NAME_MAX + 1];
        uint8_t *buf;
        /* the commit being read */
        bool touched, deleted;
        bool others; /* chains or rules of other tables */
        uint32_t portid;
        uint32_t trusted; /* another socket of the caller's own (the rpc reader's), 0: none */
};

void pst_nft_watch_close(struct pst_nft_watch *w) {
        if (!w)
                return;
        if (w->nl)
                mnl_socket_close(w->nl);
        free(w->buf);
        free(w);
}

int pst_nft_watch_open(const char *table, struct pst_nft_watch **ret) {
        _cleanup_(pst_nft_watch_closep) struct pst_nft_watch *w = calloc(1, sizeof(*w));
        int group = NFNLGRP_NFTABLES, rcvbuf = WATCH_RCVBUF, fd, r;

        if (!w)
                return -ENOMEM;
        r = strcpy_bounded(w->table, sizeof(w->table), table);
        if (r < 0)
                return r;
        w->buf = malloc(WATCH_RBUF);
        if (!w->buf)
                return -ENOMEM;
        w->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (!w->nl)
                return -errno;
        if (mnl_socket_bind(w->nl, 0, MNL_SOCKET_AUTOPID) < 0)
                return -errno;
        if (mnl_socket_setsockopt(w->nl, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0)
                return -errno;
        fd = mnl_socket_get_fd(w->nl);
        /* beyond net.core.rmem_max needs CAP_NET_ADMIN, which the daemon has */
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
                (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
        *ret = TAKE_PTR(w);
        return 0;
}

void pst_nft_watch_trust(struct pst_nft_watch *w, uint32_t portid) {
        w->trusted = portid;
}

int pst_nft_watch_fd(const struct pst_nft_watch *w) {
        return mnl_socket_get_fd(w->nl);
}

static bool names_table(const struct pst_nft_watch *w, const struct nlmsghdr *nlh) {
        const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *a;

        if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*nfg)) || nfg->nfgen_family != NFPROTO_INET)
                return false;
        mnl_attr_for_each(a, nlh, sizeof(*nfg))
                if (mnl_attr_get_type(a) == 1 && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
                        return streq(mnl_attr_get_str(a), w->table);
        return false;
}

/* What can add or remove a base chain that drops (nft-observe.h) */
static bool other_table_object(int type) {
        switch (type) {
        case NFT_MSG_NEWTABLE: case NFT_MSG_DELTABLE: case NFT_MSG_NEWCHAIN: case NFT_MSG_DELCHAIN:
        case NFT_MSG_NEWRULE: case NFT_MSG_DELRULE:
                return true;
        default:
                return false;
        }
}

/* A commit's NEWGEN: was it someone else's, on our table?  Then who. */
static bool end_of_commit(struct pst_nft_watch *w, const struct nlmsghdr *nlh, uint32_t own_portid,
                          struct pst_drift *ret) {
        const struct nlattr *a;
        bool ours = w->portid == own_portid || (w->trusted && w->portid == w->trusted);
        bool drift = w->touched && !ours;

        /* kept beside a drift or not: the caller zeroes *ret before reading */
        if (w->others && !ours)
                ret->elsewhere = true;

        if (drift) {
                *ret = (struct pst_drift) { .portid = w->portid, .deleted = w->deleted, .elsewhere = ret->elsewhere };
                mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
                        if (mnl_attr_get_type(a) == NFTA_GEN_PROC_PID && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                                ret->pid = ntohl(mnl_attr_get_u32(a));
                        else if (mnl_attr_get_type(a) == NFTA_GEN_PROC_NAME &&
                                 mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
                                snprintf(ret->comm, sizeof(ret->comm), "%s", mnl_attr_get_str(a));
                }
        }
        w->touched = w->deleted = w->others = false;
        return drift;
}

int pst_nft_watch_process(struct pst_nft_watch *w, const void *buf, size_t len, uint32_t own_portid,
                          struct pst_drift *ret) {
        int left = (int) MIN(len, (size_t) INT32_MAX), found = 0;

        for (const struct nlmsghdr *nlh = buf; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
                int type = NFNL_MSG_TYPE(nlh->nlmsg_type);

                if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
                        continue;
                if (type == NFT_MSG_NEWGEN) {
                        found |= end_of_commit(w, nlh, own_portid, ret);
                        continue;
                }
                if (!names_table(w, nlh)) {
                        w->others |= other_table_object(type);
                        w->portid = nlh->nlmsg_pid;
                        continue;
                }
                w->touched = true;
                w->portid = nlh->nlmsg_pid;
                w->deleted |= type == NFT_MSG_DELTABLE;
        }
        return found;
}

int pst_nft_watch_read(struct pst_nft_watch *w, uint32_t own_portid, struct pst_drift *ret) {
        int fd = mnl_socket_get_fd(w->nl), found = 0;
        bool lost = false;

        for (int i = 0; i < WATCH_READS_MAX; i++) {
                struct sockaddr_nl snl;
                struct iovec iov = { w->buf, WATCH_RBUF };
                struct msghdr mh = { .msg_name = &snl, .msg_namelen = sizeof(snl), .msg_iov = &iov, .msg_iovlen = 1 };
                ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == ENOBUFS) {
                        lost = true; /* the commit being read is cut: forget it */
                        w->touched = w->deleted = w->others = false;
                        continue;
                }
                if (n < 0 && errno != EAGAIN)
                        return -errno;
                if (n < 0)
                        break;
                /* only the kernel (port 0) speaks for the kernel */
                if (snl.nl_pid != 0 || (mh.msg_flags & MSG_TRUNC))
                        continue;
                found |= pst_nft_watch_process(w, w->buf, (size_t) n, own_portid, ret);
        }
        /* a drift seen is a drift, whatever was lost around it */
        return found ? 1 : lost ? -ENOBUFS : 0;
}
