/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <libmnl/libmnl.h>

#include "nflog.h"
#include "nlreq.h"

#define NFLOG_BUF 65536
#define NFLOG_RCVBUF (1 << 20)      /* a burst of rate-limited packets fits many times over */
#define NFLOG_READS_PER_CALL 64     /* the event loop gets its turn back after this many reads */
#define NFLOG_IPV6_EXT_MAX 8        /* extension headers we walk before giving up */

struct pst_nflog {
        struct mnl_socket *nl;
        uint32_t seq;
        char buf[NFLOG_BUF];
};

/* ---- parsing: all lengths are checked, the kernel's and the packet's ---- */

static int parse_l4(const uint8_t *p, size_t len, uint8_t proto, struct pst_nflog_pkt *pkt) {
        pkt->l4proto = proto;
        switch (proto) {
        case IPPROTO_TCP:
        case IPPROTO_UDP:
        case IPPROTO_UDPLITE:
        case IPPROTO_SCTP:
        case IPPROTO_DCCP:
                if (len < 4)
                        return -EBADMSG;
                pkt->sport = (uint16_t) (p[0] << 8 | p[1]);
                pkt->dport = (uint16_t) (p[2] << 8 | p[3]);
                return 0;
        default: /* ICMP, ESP ...: the protocol is all we report */
                return 0;
        }
}

static int parse_ip4(const uint8_t *p, size_t len, struct pst_nflog_pkt *pkt) {
        size_t ihl;

        if (len < 20)
                return -EBADMSG;
        ihl = (size_t) (p[0] & 0x0f) * 4;
        if (ihl < 20 || ihl > len)
                return -EBADMSG;
        pkt->family = AF_INET;
        pkt->saddr = (struct pst_addr) { .family = AF_INET, .prefixlen = 32 };
        pkt->daddr = (struct pst_addr) { .family = AF_INET, .prefixlen = 32 };
        memcpy(pkt->saddr.a, p + 12, 4);
        memcpy(pkt->daddr.a, p + 16, 4);
        if ((p[6] & 0x1f) || p[7]) { /* a later fragment: no transport header */
                pkt->l4proto = p[9];
                return 0;
        }
        return parse_l4(p + ihl, len - ihl, p[9], pkt);
}

static int parse_ip6(const uint8_t *p, size_t len, struct pst_nflog_pkt *pkt) {
        size_t off = 40;
        uint8_t next;

        if (len < 40)
                return -EBADMSG;
        pkt->family = AF_INET6;
        pkt->saddr = (struct pst_addr) { .family = AF_INET6, .prefixlen = 128 };
        pkt->daddr = (struct pst_addr) { .family = AF_INET6, .prefixlen = 128 };
        memcpy(pkt->saddr.a, p + 8, 16);
        memcpy(pkt->daddr.a, p + 24, 16);
        next = p[6];
        for (int i = 0; i < NFLOG_IPV6_EXT_MAX; i++) {
                switch (next) {
                case IPPROTO_HOPOPTS:
                case IPPROTO_ROUTING:
                case IPPROTO_DSTOPTS:
                        if (off + 8 > len)
                                return -EBADMSG;
                        next = p[off];
                        off += ((size_t) p[off + 1] + 1) * 8;
                        continue;
                case IPPROTO_FRAGMENT:
                        if (off + 8 > len)
                                return -EBADMSG;
                        next = p[off];
                        if ((p[off + 2] << 8 | p[off + 3]) & 0xfff8) { /* offset ≠ 0 */
                                pkt->l4proto = next;
                                return 0;
                        }
                        off += 8;
                        continue;
                default:
                        if (off > len)
                                return -EBADMSG;
                        return parse_l4(p + off, len - off, next, pkt);
                }
        }
        return -EBADMSG;
}

int pst_nflog_parse_ip(const uint8_t *p, size_t len, struct pst_nflog_pkt *pkt) {
        if (len < 1)
                return -EBADMSG;
        switch (p[0] >> 4) {
        case 4:
                return parse_ip4(p, len, pkt);
        case 6:
                return parse_ip6(p, len, pkt);
        }
        return -EBADMSG;
}

int pst_nflog_attr_cb(const struct nlattr *a, void *data) {
        const struct nlattr **tb = data;
        uint16_t type = mnl_attr_get_type(a);

        if (type <= NFULA_MAX)
                tb[type] = a;
        return MNL_CB_OK;
}

int pst_nflog_parse(const void *msg, size_t len, struct pst_nflog_pkt *ret) {
        const struct nlmsghdr *nlh = msg;
        const struct nlattr *tb[NFULA_MAX + 1] = {};
        const struct nfgenmsg *nfg;
        struct pst_nflog_pkt pkt = {};
        int r;

        if (len < sizeof(*nlh) || nlh->nlmsg_len > len || !mnl_nlmsg_ok(nlh, (int) len))
                return -EBADMSG;
        if (nlh->nlmsg_type != ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET))
                return -ENOMSG;
        if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*nfg))
                return -EBADMSG;
        nfg = mnl_nlmsg_get_payload(nlh);
        pkt.group = ntohs(nfg->res_id);
        if (mnl_attr_parse(nlh, sizeof(*nfg), pst_nflog_attr_cb, tb) < 0)
                return -EBADMSG;
        if (tb[NFULA_PACKET_HDR]) {
                const struct nfulnl_msg_packet_hdr *h = mnl_attr_get_payload(tb[NFULA_PACKET_HDR]);

                if (mnl_attr_get_payload_len(tb[NFULA_PACKET_HDR]) < sizeof(*h))
                        return -EBADMSG;
                pkt.hook = h->hook;
        }
        if (tb[NFULA_IFINDEX_INDEV]) {
                if (mnl_attr_get_payload_len(tb[NFULA_IFINDEX_INDEV]) < 4)
                        return -EBADMSG;
                pkt.indev = ntohl(mnl_attr_get_u32(tb[NFULA_IFINDEX_INDEV]));
        }
        if (tb[NFULA_PREFIX]) {
                size_t l = strnlen(mnl_attr_get_payload(tb[NFULA_PREFIX]), mnl_attr_get_payload_len(tb[NFULA_PREFIX]));

                l = MIN(l, sizeof(pkt.prefix) - 1);
                memcpy(pkt.prefix, mnl_attr_get_payload(tb[NFULA_PREFIX]), l);
        }
        if (tb[NFULA_PAYLOAD]) {
                r = pst_nflog_parse_ip(mnl_attr_get_payload(tb[NFULA_PAYLOAD]),
                                       mnl_attr_get_payload_len(tb[NFULA_PAYLOAD]), &pkt);
                if (r < 0)
                        pkt.family = 0; /* not IP, or cut short: reported by zone and prefix only */
        }
        *ret = pkt;
        return 0;
}

/* ---- the socket ---- */

int pst_nflog_open(struct pst_nflog **ret) {
        _cleanup_free_ struct pst_nflog *nl = calloc(1, sizeof(*nl));
        int sz = NFLOG_RCVBUF;

        if (!nl)
                return -ENOMEM;
        nl->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        if (!nl->nl)
                return -errno;
        if (mnl_socket_bind(nl->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                int r = -errno;

                mnl_socket_close(nl->nl);
                return r;
        }
        (void) setsockopt(mnl_socket_get_fd(nl->nl), SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
        *ret = TAKE_PTR(nl);
        return 0;
}

static int config(struct pst_nflog *nl, uint16_t group, uint16_t attr, const void *data, size_t len) {
        char req[256];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);
        struct nfgenmsg *nfg;

        nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        nlh->nlmsg_seq = ++nl->seq;
        nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
        nfg->nfgen_family = AF_UNSPEC;
        nfg->version = NFNETLINK_V0;
        nfg->res_id = htons(group);
        mnl_attr_put(nlh, attr, len, data);
        /* packets of groups bound before may come in between: they are not
         * the answer, and are lost (the callback is NULL) */
        return pst_nl_run(nl->nl, nlh, nl->buf, sizeof(nl->buf), 1024, NULL, NULL);
}

int pst_nflog_bind(struct pst_nflog *nl, uint16_t group) {
        struct nfulnl_msg_config_cmd cmd = { .command = NFULNL_CFG_CMD_BIND };
        struct nfulnl_msg_config_mode mode = { .copy_range = htonl(PST_NFLOG_SNAPLEN),
                                               .copy_mode = NFULNL_COPY_PACKET };
        uint32_t qthresh = htonl(1); /* every packet at once: the rule's limit keeps them few */
        int r;

        r = config(nl, group, NFULA_CFG_CMD, &cmd, sizeof(cmd));
        if (r >= 0)
                r = config(nl, group, NFULA_CFG_MODE, &mode, sizeof(mode));
        if (r >= 0)
                r = config(nl, group, NFULA_CFG_QTHRESH, &qthresh, sizeof(qthresh));
        return r;
}

int pst_nflog_fd(const struct pst_nflog *nl) {
        return mnl_socket_get_fd(nl->nl);
}

static void dispatch(const char *buf, size_t n, pst_nflog_cb cb, void *userdata, int *count) {
        int len = (int) n;

        for (const struct nlmsghdr *h = (const void *) buf; mnl_nlmsg_ok(h, len); h = mnl_nlmsg_next(h, &len)) {
                struct pst_nflog_pkt pkt;

                if (pst_nflog_parse(h, h->nlmsg_len, &pkt) < 0)
                        continue; /* ACKs of nothing we wait for, malformed messages */
                cb(&pkt, userdata);
                (*count)++;
        }
}

int pst_nflog_read(struct pst_nflog *nl, pst_nflog_cb cb, void *userdata, uint64_t *ret_lost) {
        int count = 0;

        for (int i = 0; i < NFLOG_READS_PER_CALL; i++) {
                ssize_t n = recv(pst_nflog_fd(nl), nl->buf, sizeof(nl->buf), MSG_DONTWAIT);

                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        if (errno == ENOBUFS) { /* the socket overflowed: the kernel dropped some */
                                if (ret_lost)
                                        (*ret_lost)++;
                                continue;
                        }
                        return -errno;
                }
                dispatch(nl->buf, (size_t) n, cb, userdata, &count);
        }
        return count;
}

void pst_nflog_close(struct pst_nflog *nl) {
        if (!nl)
                return;
        if (nl->nl)
                mnl_socket_close(nl->nl);
        free(nl);
}
