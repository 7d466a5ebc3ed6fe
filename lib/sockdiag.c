/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <libmnl/libmnl.h>

#include "nlreq.h"
#include "sockdiag.h"

struct dump {
        struct pst_listeners *l;
        uint8_t proto;
        int err;
};

static int attr_cb(const struct nlattr *a, void *data) {
        const struct nlattr **tb = data;

        if (mnl_attr_get_type(a) <= INET_DIAG_MAX)
                tb[mnl_attr_get_type(a)] = a;
        return MNL_CB_OK;
}

static bool all_zero(const void *p, size_t n) {
        const uint8_t *b = p;

        for (size_t i = 0; i < n; i++)
                if (b[i])
                        return false;
        return true;
}

static int sock_cb(const struct nlmsghdr *nlh, void *data) {
        struct dump *d = data;
        const struct nlattr *tb[INET_DIAG_MAX + 1] = {};
        const struct inet_diag_msg *m;
        struct pst_listener x = { .l4proto = d->proto };
        unsigned alen;

        if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*m))
                return MNL_CB_ERROR;
        m = mnl_nlmsg_get_payload(nlh);
        if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
                return MNL_CB_OK;
        alen = pst_addr_len(m->idiag_family);
        /* UDP: only sockets that take datagrams from anyone (not connected) */
        if (d->proto == IPPROTO_UDP && (m->id.idiag_dport || !all_zero(m->id.idiag_dst, alen)))
                return MNL_CB_OK;
        if (mnl_attr_parse(nlh, sizeof(*m), attr_cb, tb) >= 0 && tb[INET_DIAG_SKV6ONLY] &&
            mnl_attr_get_payload_len(tb[INET_DIAG_SKV6ONLY]) >= 1)
                x.v6only = mnl_attr_get_u8(tb[INET_DIAG_SKV6ONLY]) != 0;
        x.port = ntohs(m->id.idiag_sport);
        x.addr = (struct pst_addr) { .family = m->idiag_family, .prefixlen = (uint8_t) (alen * 8) };
        memcpy(x.addr.a, m->id.idiag_src, alen);
        x.inode = m->idiag_inode;
        if (d->l->n >= PST_LISTENERS_MAX) {
                d->err = -E2BIG;
                return MNL_CB_OK;
        }
        if (GROW(d->l->v, d->l->cap, d->l->n + 1, PST_LISTENERS_MAX) < 0) {
                d->err = -ENOMEM;
                return MNL_CB_OK;
        }
        d->l->v[d->l->n++] = x;
        return MNL_CB_OK;
}

static int dump(struct pst_listeners *l, uint8_t family, uint8_t proto, uint32_t states) {
        char buf[256];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct inet_diag_req_v2 *req;
        struct dump d = { .l = l, .proto = proto };
        int r;

        nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
        req->sdiag_family = family;
        req->sdiag_protocol = proto;
        req->idiag_states = states;
        r = pst_nl_request(NETLINK_SOCK_DIAG, nlh, sock_cb, &d);
        if (r == -ENOENT || r == -EINVAL)
                r = -EPROTONOSUPPORT; /* no tcp_diag / udp_diag */
        return r < 0 ? r : d.err;
}

int pst_listeners_load(struct pst_listeners *l) {
        static const uint8_t fams[] = { AF_INET, AF_INET6 };
        int r = 0;

        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(fams); i++) {
                r = dump(l, fams[i], IPPROTO_TCP, 1U << TCP_LISTEN);
                if (r >= 0)
                        r = dump(l, fams[i], IPPROTO_UDP, ~0U);
        }
        return r;
}

void pst_listeners_clear(struct pst_listeners *l) {
        free(l->v);
        *l = (struct pst_listeners) {};
}

static void name_inode(struct pst_listeners *l, uint32_t inode, const char *comm) {
        for (size_t i = 0; i < l->n; i++)
                if (l->v[i].inode == inode && !l->v[i].comm[0])
                        snprintf(l->v[i].comm, sizeof(l->v[i].comm), "%s", comm);
}

static void read_comm(const char *proc, const char *pid, char comm[16]) {
        char path[PATH_MAX];
        _cleanup_fclose_ FILE *f = NULL;

        comm[0] = 0;
        snprintf(path, sizeof(path), "%s/%s/comm", proc, pid);
        f = fopen(path, "re");
        if (f && fgets(comm, 16, f))
                comm[strcspn(comm, "\n")] = 0;
}

/* the sockets of one process; returns the fd entries looked at */
static size_t name_pid(struct pst_listeners *l, const char *proc, const char *pid, size_t budget) {
        char path[PATH_MAX], comm[16] = "";
        DIR *dir;
        struct dirent *de;
        size_t seen = 0;

        snprintf(path, sizeof(path), "%s/%s/fd", proc, pid);
        dir = opendir(path);
        if (!dir)
                return 0; /* gone, or not ours to see */
        while (seen < budget && (de = readdir(dir))) {
                char link[64], fdpath[PATH_MAX];
                ssize_t k;
                unsigned long inode;

                seen++;
                if (de->d_name[0] == '.')
                        continue;
                if (snprintf(fdpath, sizeof(fdpath), "%s/%s", path, de->d_name) >= (int) sizeof(fdpath))
                        continue;
                k = readlink(fdpath, link, sizeof(link) - 1);
                if (k <= 0)
                        continue;
                link[k] = 0;
                if (sscanf(link, "socket:[%lu]", &inode) != 1)
                        continue;
                if (!comm[0])
                        read_comm(proc, pid, comm);
                if (comm[0])
                        name_inode(l, (uint32_t) inode, comm);
        }
        closedir(dir);
        return seen;
}

int pst_listeners_name(struct pst_listeners *l, const char *proc) {
        DIR *dir;
        struct dirent *de;
        size_t budget = PST_PROC_FDS_MAX;

        if (l->n == 0)
                return 0;
        dir = opendir(proc);
        if (!dir)
                return -errno;
        while (budget > 0 && (de = readdir(dir))) {
                if (!isdigit((unsigned char) de->d_name[0]))
                        continue;
                budget -= MIN(budget, name_pid(l, proc, de->d_name, budget) + 1);
        }
        closedir(dir);
        return 0;
}

static void where(const struct pst_listener *x, char *buf, size_t size) {
        char a[INET6_ADDRSTRLEN];

        if (all_zero(x->addr.a, pst_addr_len(x->addr.family)))
                snprintf(buf, size, "*:%u", x->port);
        else if (x->addr.family == AF_INET6)
                snprintf(buf, size, "[%s]:%u", inet_ntop(AF_INET6, x->addr.a, a, sizeof(a)), x->port);
        else
                snprintf(buf, size, "%s:%u", inet_ntop(AF_INET, x->addr.a, a, sizeof(a)), x->port);
}

void pst_listeners_describe(const struct pst_listeners *l, uint8_t l4proto, uint16_t port, char *buf, size_t size) {
        size_t len = 0;

        buf[0] = 0;
        for (size_t i = 0; i < l->n; i++) {
                const struct pst_listener *x = &l->v[i];
                char one[128], w[64];
                bool dup = false;

                if (x->l4proto != l4proto || x->port != port)
                        continue;
                where(x, w, sizeof(w));
                snprintf(one, sizeof(one), "%s listens on %s", x->comm[0] ? x->comm : "something", w);
                /* IPv4 and IPv6 wildcards of one daemon are one "*" */
                for (size_t j = 0; j < i && !dup; j++) {
                        char ow[64];

                        if (l->v[j].l4proto != l4proto || l->v[j].port != port || !streq(l->v[j].comm, x->comm))
                                continue;
                        where(&l->v[j], ow, sizeof(ow));
                        dup = streq(ow, w);
                }
                if (dup || len + strlen(one) + 3 >= size)
                        continue;
                len += (size_t) snprintf(buf + len, size - len, "%s%s", len ? ", " : "", one);
        }
}
