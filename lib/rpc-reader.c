/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The NFLOG / NFQUEUE reply reader for endpoint-mapper pinholes (see rpc-reader.h). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <endian.h>
#include <time.h>

#include "ir.h"
#include "nflog.h"
#include "nlreq.h"
#include "rpc-reader.h"

struct conn {
        bool used;
        int family;
        uint8_t client[16], server[16];
        uint16_t cport;
        bool started; /* next_seq is known */
        uint32_t next_seq;
        uint64_t last_used;
        const struct pst_rpc_target *t;
        struct pst_dcerpc_stream *s;
};

struct pst_rpc_reader {
        struct mnl_socket *log, *nft; /* log: the packet source's socket, NFLOG or NFQUEUE */
        enum pst_rpc_source_kind kind;
        uint16_t group;
        uint32_t seq;
        uint64_t tick;
        uint64_t t_packet_us; /* when the reply being read passed the firewall */
        struct conn *cur;     /* the connection whose reply is being parsed */
        size_t ntargets;
        struct pst_rpc_target targets[PST_RPC_READER_TARGETS];
        struct conn conns[PST_RPC_READER_CONNS];
        struct pst_rpc_reader_counters c;
        uint8_t buf[65536 + 4096];
};

struct pkt {
        int family;
        const uint8_t *src, *dst;
        uint16_t sport, dport;
        uint32_t seq;
        uint8_t flags;
        const uint8_t *data;
        size_t len;
};

static uint64_t realtime_us(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* ---- NFLOG and NFQUEUE configuration ---- */

/* A config (or verdict) message, TYPE = subsystem << 8 | message, for NFLOG group / NFQUEUE RES_ID. */
static struct nlmsghdr *config_header(struct pst_rpc_reader *r, void *buf, uint16_t type, uint16_t res_id,
                                      uint16_t flags) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct nfgenmsg *g;

        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | flags;
        nlh->nlmsg_seq = ++r->seq;
        g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
        *g = (struct nfgenmsg) { .nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0, .res_id = htons(res_id) };
        return nlh;
}

/* Send and read its ACK (the socket still blocks: only the constructor configures). */
static int config_send(struct pst_rpc_reader *r, const struct nlmsghdr *nlh) {
        int k;

        if (mnl_socket_sendto(r->log, nlh, nlh->nlmsg_len) < 0)
                return -errno;
        k = (int) mnl_socket_recvfrom(r->log, r->buf, sizeof(r->buf));
        if (k < 0)
                return -errno;
        return mnl_cb_run(r->buf, (size_t) k, nlh->nlmsg_seq, mnl_socket_get_portid(r->log), NULL, NULL) < 0 ? -errno
                                                                                                          : 0;
}

/* Bind NFQUEUE QUEUE to our socket: whole packets, bounded, fail-open (rpc-reader.h).
 * ack: wait for the kernel's answer — only while nothing can be queued for
 * us yet (the constructor); later a queued packet may come before the ACK,
 * so a reload only sends, and an error comes back as a message the packet
 * reader reads and ignores. */
static int queue_config(struct pst_rpc_reader *r, uint16_t queue, bool ack) {
        uint8_t buf[256];
        struct nlmsghdr *nlh =
                config_header(r, buf, (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_CONFIG, queue, ack ? NLM_F_ACK : 0);

        mnl_attr_put(nlh, NFQA_CFG_CMD, sizeof(struct nfqnl_msg_config_cmd),
                     &(struct nfqnl_msg_config_cmd) { .command = NFQNL_CFG_CMD_BIND });
        mnl_attr_put(nlh, NFQA_CFG_PARAMS, sizeof(struct nfqnl_msg_config_params),
                     &(struct nfqnl_msg_config_params) { .copy_range = htonl(0xffff),
                                                         .copy_mode = NFQNL_COPY_PACKET });
        mnl_attr_put_u32(nlh, NFQA_CFG_QUEUE_MAXLEN, htonl(PST_RPC_READER_QUEUE_MAXLEN));
        mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN));
        mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_FAIL_OPEN));
        if (!ack)
                return mnl_socket_sendto(r->log, nlh, nlh->nlmsg_len) < 0 ? -errno : 0;
        return config_send(r, nlh);
}

/* Bind the queues of t[n] that neither old[nold] nor an earlier t has (each once). */
static int bind_queues(struct pst_rpc_reader *r, const struct pst_rpc_target *old, size_t nold,
                       const struct pst_rpc_target *t, size_t n, bool ack) {
        for (size_t i = 0; i < n; i++) {
                bool bound = false;
                int k;

                for (size_t j = 0; j < nold && !bound; j++)
                        bound = old[j].queue == t[i].queue;
                for (size_t j = 0; j < i && !bound; j++)
                        bound = t[j].queue == t[i].queue;
                k = bound ? 0 : queue_config(r, t[i].queue, ack);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int log_config(struct pst_rpc_reader *r, uint8_t cmd) {
        uint8_t buf[256];
        struct nlmsghdr *nlh = config_header(r, buf, (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG, r->group, NLM_F_ACK);

        if (cmd)
                mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof(struct nfulnl_msg_config_cmd),
                             &(struct nfulnl_msg_config_cmd) { .command = cmd });
        else {
                mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof(struct nfulnl_msg_config_mode),
                             &(struct nfulnl_msg_config_mode) { .copy_range = htonl(0xffff),
                                                                 .copy_mode = NFULNL_COPY_PACKET });
                /* one copy per message: the kernel otherwise batches them for up to 1 s */
                mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(1));
        }
        return config_send(r, nlh);
}

/* The packet source: NFLOG's group, or every target's queue (each once). */
static int source_config(struct pst_rpc_reader *r) {
        int k;

        if (r->kind == PST_RPC_SOURCE_NFLOG) {
                k = log_config(r, NFULNL_CFG_CMD_BIND);
                return k < 0 ? k : log_config(r, 0);
        }
        return bind_queues(r, NULL, 0, r->targets, r->ntargets, true);
}

static int open_socket(struct mnl_socket **ret) {
        struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);

        if (!nl)
                return -errno;
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                int k = -errno;

                mnl_socket_close(nl);
                return k;
        }
        *ret = nl;
        return 0;
}

int pst_rpc_reader_open(const struct pst_rpc_source *src, const struct pst_rpc_target *targets, size_t n,
                        struct pst_rpc_reader **ret) {
        _cleanup_(pst_rpc_reader_freep) struct pst_rpc_reader *r = NULL;
        int k;

        if (n > PST_RPC_READER_TARGETS)
                return -E2BIG;
        if (src->kind != PST_RPC_SOURCE_NFLOG && src->kind != PST_RPC_SOURCE_QUEUE)
                return -EINVAL;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->kind = src->kind;
        r->group = src->group;
        r->ntargets = n;
        memcpy(r->targets, targets, n * sizeof(*targets));
        k = open_socket(&r->log);
        if (k >= 0)
                k = open_socket(&r->nft);
        if (k >= 0)
                k = source_config(r);
        if (k < 0)
                return k;
        if (fcntl(mnl_socket_get_fd(r->log), F_SETFL, O_NONBLOCK) < 0)
                return -errno;
        *ret = TAKE_PTR(r);
        return 0;
}

int pst_rpc_reader_new(uint16_t group, const struct pst_rpc_target *targets, size_t n, struct pst_rpc_reader **ret) {
        return pst_rpc_reader_open(&(struct pst_rpc_source) { .kind = PST_RPC_SOURCE_NFLOG, .group = group }, targets, n,
                                   ret);
}

struct pst_rpc_reader *pst_rpc_reader_free(struct pst_rpc_reader *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < PST_RPC_READER_CONNS; i++)
                pst_dcerpc_stream_free(r->conns[i].s);
        if (r->log)
                mnl_socket_close(r->log);
        if (r->nft)
                mnl_socket_close(r->nft);
        free(r);
        return NULL;
}

int pst_rpc_reader_fd(const struct pst_rpc_reader *r) {
        return mnl_socket_get_fd(r->log);
}

const struct pst_rpc_reader_counters *pst_rpc_reader_counters(const struct pst_rpc_reader *r) {
        return &r->c;
}

uint32_t pst_rpc_reader_nft_portid(const struct pst_rpc_reader *r) {
        return mnl_socket_get_portid(r->nft);
}

static ssize_t target_index(const struct pst_rpc_target *v, size_t n, const char *set, int family) {
        for (size_t i = 0; i < n; i++)
                if (streq(v[i].set, set) && v[i].family == family)
                        return (ssize_t) i;
        return -1;
}

int pst_rpc_reader_set_targets(struct pst_rpc_reader *r, const struct pst_rpc_target *targets, size_t n) {
        int16_t at[PST_RPC_READER_CONNS]; /* each connection's set in targets, -1: gone */

        if (n > PST_RPC_READER_TARGETS)
                return -E2BIG;
        /* the packet source stays: the caller opens another reader for another mechanism */
        for (size_t i = 0; i < n; i++)
                if ((targets[i].queue != 0) != (r->kind == PST_RPC_SOURCE_QUEUE))
                        return -EPROTOTYPE;
        if (r->kind == PST_RPC_SOURCE_QUEUE) {
                int k = bind_queues(r, r->targets, r->ntargets, targets, n, false);

                if (k < 0)
                        return k;
        }
        for (size_t i = 0; i < PST_RPC_READER_CONNS; i++)
                at[i] = r->conns[i].used ? (int16_t) target_index(targets, n, r->conns[i].t->set,
                                                                  r->conns[i].t->family)
                                         : -1;
        memmove(r->targets, targets, n * sizeof(*targets));
        r->ntargets = n;
        for (size_t i = 0; i < PST_RPC_READER_CONNS; i++) {
                if (!r->conns[i].used)
                        continue;
                if (at[i] < 0) {
                        r->conns[i].s = pst_dcerpc_stream_free(r->conns[i].s);
                        r->conns[i].used = false;
                } else
                        r->conns[i].t = &r->targets[at[i]];
        }
        return 0;
}

/* ---- adding an element ---- */

/* One batch: NEWSETELEM client . server . port into table inet postern's set. */
static int add_element(struct pst_rpc_reader *r, const struct conn *cn, uint16_t port) {
        size_t alen = cn->family == AF_INET ? 4 : 16;
        uint8_t key[40] = {}, buf[4096];
        struct mnl_nlmsg_batch *b = mnl_nlmsg_batch_start(buf, sizeof(buf));
        struct nftnl_set *s = nftnl_set_alloc();
        struct nftnl_set_elem *e = nftnl_set_elem_alloc();
        uint32_t elem_seq;
        struct nlmsghdr *nlh;
        int k;

        if (!b || !s || !e) {
                if (b)
                        mnl_nlmsg_batch_stop(b);
                nftnl_set_free(s);
                nftnl_set_elem_free(e);
                return -ENOMEM;
        }
        memcpy(key, cn->client, alen);
        memcpy(key + alen, cn->server, alen);
        key[2 * alen] = port >> 8;
        key[2 * alen + 1] = port & 0xff;
        nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, 2 * alen + 4);
        nftnl_set_set_str(s, NFTNL_SET_TABLE, PST_TABLE);
        nftnl_set_set_str(s, NFTNL_SET_NAME, cn->t->set);
        nftnl_set_elem_add(s, e);

        nftnl_batch_begin(mnl_nlmsg_batch_current(b), ++r->seq);
        mnl_nlmsg_batch_next(b);
        elem_seq = ++r->seq;
        nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), NFT_MSG_NEWSETELEM, NFPROTO_INET,
                                    NLM_F_CREATE | NLM_F_ACK, elem_seq);
        nftnl_set_elems_nlmsg_build_payload(nlh, s);
        nftnl_set_free(s);
        mnl_nlmsg_batch_next(b);
        nftnl_batch_end(mnl_nlmsg_batch_current(b), ++r->seq);
        mnl_nlmsg_batch_next(b);
        k = (int) mnl_socket_sendto(r->nft, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b));
        mnl_nlmsg_batch_stop(b);
        if (k < 0)
                return -errno;
        /* the batch is applied when sendto returns; the ACK says whether the set took it */
        k = (int) mnl_socket_recvfrom(r->nft, buf, sizeof(buf));
        if (k < 0)
                return -errno;
        return mnl_cb_run(buf, (size_t) k, elem_seq, mnl_socket_get_portid(r->nft), NULL, NULL) < 0 ? -errno : 0;
}

static bool interface_listed(const struct pst_rpc_target *t, const uint8_t uuid[16]) {
        if (t->nifs == 0)
                return true;
        for (size_t i = 0; i < t->nifs; i++)
                if (!memcmp(t->ifs[i], uuid, 16))
                        return true;
        return false;
}

static void on_reply(const struct pst_dcerpc_ept_map *m, void *userdata) {
        struct pst_rpc_reader *r = userdata;

        for (size_t i = 0; i < m->n_towers; i++) {
                int k;

                if (!interface_listed(r->cur->t, m->towers[i].if_uuid)) {
                        r->c.skipped++;
                        continue;
                }
                k = add_element(r, r->cur, m->towers[i].port);
                if (k < 0) {
                        r->c.refused++;
                        continue;
                }
                r->c.added++;
                r->c.last_latency_us = realtime_us() - r->t_packet_us;
        }
}

/* ---- packets ---- */

static int parse_tcp(const uint8_t *p, size_t n, struct pkt *k) {
        size_t doff;

        if (n < 20)
                return -EBADMSG;
        doff = (size_t) (p[12] >> 4) * 4;
        if (doff < 20 || doff > n)
                return -EBADMSG;
        k->sport = (uint16_t) (p[0] << 8 | p[1]);
        k->dport = (uint16_t) (p[2] << 8 | p[3]);
        k->seq = (uint32_t) p[4] << 24 | (uint32_t) p[5] << 16 | (uint32_t) p[6] << 8 | p[7];
        k->flags = p[13];
        k->data = p + doff;
        k->len = n - doff;
        return 0;
}

/* An IPv4 or IPv6 TCP packet as NFLOG copies it (from the network header). */
static int parse_packet(const uint8_t *p, size_t n, struct pkt *ret) {
        size_t hl, tot;

        if (n >= 20 && p[0] >> 4 == 4) {
                hl = (size_t) (p[0] & 0x0f) * 4;
                tot = (size_t) (p[2] << 8 | p[3]);
                /* fragments carry no complete segment: not followed */
                if (hl < 20 || tot < hl || tot > n || p[9] != IPPROTO_TCP || ((p[6] & 0x3f) | p[7]))
                        return -EBADMSG;
                *ret = (struct pkt) { .family = AF_INET, .src = p + 12, .dst = p + 16 };
                return parse_tcp(p + hl, tot - hl, ret);
        }
        if (n >= 40 && p[0] >> 4 == 6) {
                tot = 40 + (size_t) (p[4] << 8 | p[5]);
                /* extension headers: not followed (the endpoint mapper's replies have none) */
                if (tot > n || p[6] != IPPROTO_TCP)
                        return -EBADMSG;
                *ret = (struct pkt) { .family = AF_INET6, .src = p + 8, .dst = p + 24 };
                return parse_tcp(p + 40, tot - 40, ret);
        }
        return -EBADMSG;
}

/* The set a reply is for: by its NFLOG prefix, or by the queue it waited in. */
static const struct pst_rpc_target *find_target(const struct pst_rpc_reader *r, const char *prefix, uint16_t queue,
                                                int family) {
        for (size_t i = 0; i < r->ntargets; i++) {
                const struct pst_rpc_target *t = &r->targets[i];

                if (t->family == family &&
                    (r->kind == PST_RPC_SOURCE_QUEUE ? t->queue == queue : streq(t->set, prefix)))
                        return t;
        }
        return NULL;
}

/* The connection of a reply (server = its source), a fresh one, or the least recently used one reused. */
static struct conn *find_conn(struct pst_rpc_reader *r, const struct pkt *k, bool create) {
        size_t alen = k->family == AF_INET ? 4 : 16;
        struct conn *lru = &r->conns[0];

        for (size_t i = 0; i < PST_RPC_READER_CONNS; i++) {
                struct conn *c = &r->conns[i];

                if (c->used && c->family == k->family && c->cport == k->dport && !memcmp(c->server, k->src, alen) &&
                    !memcmp(c->client, k->dst, alen))
                        return c;
                if (!c->used || (lru->used && c->last_used < lru->last_used))
                        lru = c;
        }
        if (!create)
                return NULL;
        pst_dcerpc_stream_free(lru->s);
        *lru = (struct conn) { .used = true, .family = k->family, .cport = k->dport };
        memcpy(lru->server, k->src, alen);
        memcpy(lru->client, k->dst, alen);
        if (pst_dcerpc_stream_new(&lru->s) < 0) {
                lru->used = false;
                return NULL;
        }
        return lru;
}

static void forget(struct conn *c) {
        c->s = pst_dcerpc_stream_free(c->s);
        c->used = false;
}

/* Feed the segment's new bytes in sequence order; a gap means a lost copy: stop following. */
static void follow(struct pst_rpc_reader *r, struct conn *c, const struct pkt *k) {
        int32_t ahead = (int32_t) (k->seq - c->next_seq);
        size_t skip = ahead < 0 ? (size_t) -ahead : 0;
        uint64_t before = pst_dcerpc_stream_counters(c->s)->unparsed;

        if (ahead > 0) {
                r->c.lost++;
                forget(c);
                return;
        }
        if (skip < k->len) {
                r->cur = c;
                (void) pst_dcerpc_stream_feed(c->s, k->data + skip, k->len - skip, on_reply, r);
                c->next_seq = k->seq + (uint32_t) k->len;
        }
        r->c.unparsed += pst_dcerpc_stream_counters(c->s)->unparsed - before;
}

static void handle_packet(struct pst_rpc_reader *r, const char *prefix, uint16_t queue, const uint8_t *p, size_t n) {
        const struct pst_rpc_target *t;
        struct pkt k;
        struct conn *c;
        bool syn;

        r->c.packets++;
        if (parse_packet(p, n, &k) < 0 || !(t = find_target(r, prefix, queue, k.family))) {
                r->c.lost++;
                return;
        }
        syn = k.flags & 0x02;
        c = find_conn(r, &k, syn || k.len > 0);
        if (!c)
                return;
        c->t = t;
        c->last_used = ++r->tick;
        if (syn) /* SYN-ACK: the server's stream starts after it */
                c->next_seq = k.seq + 1;
        else if (!c->started) /* followed from the middle: from here */
                c->next_seq = k.seq;
        c->started = true;
        follow(r, c, &k);
        if (k.flags & 0x05) /* FIN or RST */
                forget(c);
}

/* ---- NFLOG messages ---- */

static int packet_cb(const struct nlmsghdr *nlh, void *data) {
        struct pst_rpc_reader *r = data;
        const struct nlattr *tb[NFULA_MAX + 1] = {};
        char prefix[64] = "";

        if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFULNL_MSG_PACKET ||
            mnl_attr_parse(nlh, sizeof(struct nfgenmsg), pst_nflog_attr_cb, tb) < 0 || !tb[NFULA_PAYLOAD])
                return MNL_CB_OK;
        if (tb[NFULA_PREFIX])
                snprintf(prefix, sizeof(prefix), "%.*s", (int) mnl_attr_get_payload_len(tb[NFULA_PREFIX]),
                         (const char *) mnl_attr_get_payload(tb[NFULA_PREFIX]));
        r->t_packet_us = realtime_us();
        if (tb[NFULA_TIMESTAMP] && mnl_attr_get_payload_len(tb[NFULA_TIMESTAMP]) >= 16) {
                struct nfulnl_msg_packet_timestamp ts; /* netlink attributes are 4-aligned: copy, not cast */
                uint64_t t;

                memcpy(&ts, mnl_attr_get_payload(tb[NFULA_TIMESTAMP]), sizeof(ts));
                t = be64toh(ts.sec) * 1000000 + be64toh(ts.usec);

                if (t && t <= r->t_packet_us)
                        r->t_packet_us = t;
        }
        handle_packet(r, prefix, 0, mnl_attr_get_payload(tb[NFULA_PAYLOAD]), mnl_attr_get_payload_len(tb[NFULA_PAYLOAD]));
        return MNL_CB_OK;
}

/* ---- NFQUEUE messages ---- */

static int queue_attr_cb(const struct nlattr *a, void *data) {
        const struct nlattr **tb = data;
        uint16_t type = mnl_attr_get_type(a);

        /* newer kernels' attributes and short ones are skipped, never an error: the
         * packet id must be found whatever else the message holds */
        if (mnl_attr_type_valid(a, NFQA_MAX) < 0 ||
            (type == NFQA_PACKET_HDR && mnl_attr_get_payload_len(a) < sizeof(struct nfqnl_msg_packet_hdr)) ||
            (type == NFQA_TIMESTAMP && mnl_attr_get_payload_len(a) < sizeof(struct nfqnl_msg_packet_timestamp)))
                return MNL_CB_OK;
        tb[type] = a;
        return MNL_CB_OK;
}

/* NF_ACCEPT for packet ID of QUEUE (no ACK asked: an error would come back as a message, read and ignored). */
static int queue_verdict(struct pst_rpc_reader *r, uint16_t queue, uint32_t id_be) {
        uint8_t buf[128];
        struct nlmsghdr *nlh = config_header(r, buf, (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT, queue, 0);

        mnl_attr_put(nlh, NFQA_VERDICT_HDR, sizeof(struct nfqnl_msg_verdict_hdr),
                     &(struct nfqnl_msg_verdict_hdr) { .verdict = htonl(NF_ACCEPT), .id = id_be });
        return mnl_socket_sendto(r->log, nlh, nlh->nlmsg_len) < 0 ? -errno : 0;
}

static int queue_packet_cb(const struct nlmsghdr *nlh, void *data) {
        struct pst_rpc_reader *r = data;
        const struct nlattr *tb[NFQA_MAX + 1] = {};
        const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
        struct nfqnl_msg_packet_hdr ph;
        uint16_t queue;

        if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFQNL_MSG_PACKET || nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*g) ||
            mnl_attr_parse(nlh, sizeof(*g), queue_attr_cb, tb) < 0 || !tb[NFQA_PACKET_HDR])
                return MNL_CB_OK; /* without its id a packet cannot be given back: the queue's owner is gone */
        queue = ntohs(g->res_id);
        memcpy(&ph, mnl_attr_get_payload(tb[NFQA_PACKET_HDR]), sizeof(ph)); /* 4-aligned: copy, not cast */
        r->t_packet_us = realtime_us();
        if (tb[NFQA_TIMESTAMP]) {
                struct nfqnl_msg_packet_timestamp ts;
                uint64_t t;

                memcpy(&ts, mnl_attr_get_payload(tb[NFQA_TIMESTAMP]), sizeof(ts));
                t = be64toh(ts.sec) * 1000000 + be64toh(ts.usec);
                if (t && t <= r->t_packet_us)
                        r->t_packet_us = t;
        }
        if (tb[NFQA_PAYLOAD])
                handle_packet(r, "", queue, mnl_attr_get_payload(tb[NFQA_PAYLOAD]),
                              mnl_attr_get_payload_len(tb[NFQA_PAYLOAD]));
        else {
                r->c.packets++;
                r->c.lost++;
        }
        /* the elements are in (handle_packet waits for each batch's ACK): let the reply go */
        if (queue_verdict(r, queue, ph.packet_id) >= 0)
                r->c.verdicts++;
        return MNL_CB_OK;
}

int pst_rpc_reader_process(struct pst_rpc_reader *r) {
        for (int i = 0; i < 1024; i++) {
                ssize_t n = mnl_socket_recvfrom(r->log, r->buf, sizeof(r->buf));

                if (n < 0) {
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                return 0;
                        /* copies dropped (queued replies: let through, fail-open): the streams have gaps */
                        if (errno == ENOBUFS) {
                                r->c.lost++;
                                continue;
                        }
                        return -errno;
                }
                /* an error answer among the packets (a queue bind of a reload, sent without an ACK; a
                 * verdict for a packet the kernel no longer holds: packets - verdicts counts it) must
                 * not cost the queued replies after it their verdict */
                (void) pst_nl_each(r->buf, (size_t) n, r->kind == PST_RPC_SOURCE_QUEUE ? queue_packet_cb : packet_cb, r);
        }
        return 0;
}
