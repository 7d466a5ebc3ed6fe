/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Sending batches: one NETLINK_NETFILTER socket, one sendmsg() per batch,
 * every ACK drained and matched to the message (and so to the policy line)
 * it answers.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <sys/socket.h>

#include "nft-internal.h"
#include "nlreq.h"

/* Receive buffer for one datagram.  With NETLINK_CAP_ACK an error ACK is
 * the header plus extack attributes; without it (old kernels) the kernel
 * echoes the whole failing message, which is at most PST_NFT_MSG_MAX. */
#define PST_NFT_RBUF (PST_NFT_MSG_MAX + 4096)

/* What one queued ACK costs in the socket's receive budget (skb truesize of
 * a small netlink message, rounded up generously).  The kernel sends the
 * ACKs of a whole batch at once after processing it; if they do not fit,
 * the rest are dropped and recv() says ENOBUFS. */
#define PST_NFT_ACK_TRUESIZE 2048

struct pst_nft {
        struct mnl_socket *nl;
        uint32_t portid;
        uint32_t seq;
        int sndbuf, rcvbuf; /* what we last asked for */
        uint8_t *rbuf;
};

void pst_nft_close(struct pst_nft *nft) {
        if (!nft)
                return;
        if (nft->nl)
                mnl_socket_close(nft->nl);
        free(nft->rbuf);
        free(nft);
}

int pst_nft_open(struct pst_nft **ret) {
        _cleanup_(pst_nft_closep) struct pst_nft *nft = NULL;
        int one = 1;

        nft = calloc(1, sizeof(*nft));
        if (!nft)
                return -ENOMEM;
        nft->rbuf = malloc(PST_NFT_RBUF);
        if (!nft->rbuf)
                return -ENOMEM;
        nft->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        if (!nft->nl)
                return -errno;
        if (mnl_socket_bind(nft->nl, 0, MNL_SOCKET_AUTOPID) < 0)
                return -errno;
        nft->portid = mnl_socket_get_portid(nft->nl);
        /* Both are optimisations for error reporting; kernels without them
         * still work, so failures are ignored. */
        (void) mnl_socket_setsockopt(nft->nl, NETLINK_CAP_ACK, &one, sizeof(one));
        (void) mnl_socket_setsockopt(nft->nl, NETLINK_EXT_ACK, &one, sizeof(one));
        /* Any start value works: ACKs are unicast to this socket's port id. */
        nft->seq = 1;
        *ret = TAKE_PTR(nft);
        return 0;
}

/* SO_xxxBUFFORCE lets root go past net.core.{w,r}mem_max; without
 * CAP_NET_ADMIN fall back to the capped option. */
static int set_sockbuf(struct pst_nft *nft, int force_opt, int opt, int *cur, size_t want) {
        int fd = mnl_socket_get_fd(nft->nl), v;

        if (want > INT_MAX / 2)
                return -E2BIG;
        v = (int) want;
        if (v <= *cur)
                return 0;
        if (setsockopt(fd, SOL_SOCKET, force_opt, &v, sizeof(v)) < 0 &&
            setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v)) < 0)
                return -errno;
        *cur = v;
        return 0;
}

/* Name the object message idx creates, for "kernel rejected <what>". */
static void describe(const struct pst_nft_batch *b, size_t idx, uint32_t bad_attr, char *buf, size_t size,
                     const char **ret_file, unsigned *ret_line) {
        const struct pst_ruleset *rs = b->rs;
        const struct pst_nft_msg *m = &b->msgs[idx];

        *ret_file = NULL;
        *ret_line = 0;
        switch ((enum pst_nft_obj) m->obj) {
        case PST_NFT_OBJ_TABLE:
                snprintf(buf, size, "%s table inet %s", m->type == NFT_MSG_DELTABLE ? "deleting" : "creating",
                         rs->table);
                return;
        case PST_NFT_OBJ_CHAIN:
                snprintf(buf, size, "chain %s", rs->chains[m->a].name);
                return;
        case PST_NFT_OBJ_SET:
        case PST_NFT_OBJ_ELEMS:
        case PST_NFT_OBJ_FLUSH: {
                const struct pst_set *s = &rs->sets[m->a];
                char what[PST_NAME_MAX + 32];
                size_t ir;
                bool end;

                *ret_file = pst_origin_file(rs, s->origin);
                *ret_line = s->origin.line;
                if (s->flags & PST_SET_ANON)
                        snprintf(what, sizeof(what), "anonymous %s", (s->flags & PST_SET_MAP) ? "map" : "set");
                else
                        snprintf(what, sizeof(what), "%s %s", (s->flags & PST_SET_MAP) ? "map" : "set", s->name);
                if (m->obj == PST_NFT_OBJ_SET)
                        snprintf(buf, size, "%s", what);
                else if (m->obj == PST_NFT_OBJ_FLUSH)
                        snprintf(buf, size, "flushing %s", what);
                else if (bad_attr != UINT32_MAX && pst_nft_elem_origin(s, m->b + bad_attr, &ir, &end) == 0)
                        snprintf(buf, size, "%selement %zu of %s", end ? "the end of " : "", ir + 1, what);
                else
                        snprintf(buf, size, "elements of %s", what);
                return;
        }
        case PST_NFT_OBJ_RULE:
                *ret_file = pst_origin_file(rs, rs->chains[m->a].rules[m->b].origin);
                *ret_line = rs->chains[m->a].rules[m->b].origin.line;
                snprintf(buf, size, "rule %u of chain %s", m->b + 1, rs->chains[m->a].name);
                return;
        case PST_NFT_OBJ_DELTA_ELEMS:
                snprintf(buf, size, "%s elements of set %s", m->b == NFT_MSG_DELSETELEM ? "removing" : "adding",
                         rs->sets[m->a].name);
                return;
        case PST_NFT_OBJ_DEL:
                snprintf(buf, size, "removing a %s of the running table",
                         m->a == NFT_MSG_DELRULE ? "rule" : m->a == NFT_MSG_DELSET ? "set" : "chain");
                return;
        case PST_NFT_OBJ_BATCH:
                break;
        }
        snprintf(buf, size, "the batch");
}

/* NLMSGERR_ATTR_OFFS points into the message we sent; for NEWSETELEM it
 * points at the element the kernel refused: return its index in the
 * message, or UINT32_MAX. */
static uint32_t bad_elem_index(const struct pst_nft_batch *b, size_t idx, uint32_t offs) {
        const struct pst_nft_msg *m = &b->msgs[idx];
        const struct nlmsghdr *nlh;
        const struct nlattr *attr, *elem;
        uint32_t i = 0;

        if (m->obj != PST_NFT_OBJ_ELEMS || offs == UINT32_MAX)
                return UINT32_MAX;
        nlh = (const struct nlmsghdr *) ((const char *) b->iov[m->buf].iov_base + m->off);
        if (offs >= nlh->nlmsg_len)
                return UINT32_MAX;
        mnl_attr_for_each(attr, nlh, sizeof(struct nfgenmsg)) {
                if (mnl_attr_get_type(attr) != NFTA_SET_ELEM_LIST_ELEMENTS)
                        continue;
                mnl_attr_for_each_nested(elem, attr) {
                        size_t start = (size_t) ((const char *) elem - (const char *) nlh);

                        if (offs >= start && offs < start + elem->nla_len)
                                return i;
                        i++;
                }
        }
        return UINT32_MAX;
}

struct ack_state {
        const struct pst_nft_batch *b;
        struct pst_diag *diag;
        size_t nacked;
        int first_error;
        /* After one failure the kernel goes on through the batch, and most
         * later errors are consequences (the same EPERM for every object of
         * a foreign-owned table): report each errno once, count the rest. */
        int seen[8];
        size_t nseen, suppressed;
};

static void handle_error(struct ack_state *st, const struct nlmsghdr *nlh, size_t idx) {
        const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
        const char *ext = NULL, *file;
        uint32_t offs = UINT32_MAX;
        char what[256];
        unsigned line;

        if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
                /* The TLVs follow the echoed request: just its header when
                 * the kernel capped the ACK, the whole message otherwise. */
                size_t skip = sizeof(*e);
                const struct nlattr *attr;

                if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
                        skip += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
                if (NLMSG_HDRLEN + skip <= nlh->nlmsg_len)
                        mnl_attr_for_each(attr, nlh, skip) {
                                if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
                                    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
                                        ext = mnl_attr_get_str(attr);
                                else if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_OFFS &&
                                         mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
                                        offs = mnl_attr_get_u32(attr);
                        }
        }
        if (st->first_error == 0)
                st->first_error = e->error;
        if (e->error == -ERESTART && st->b->msgs[idx].obj == PST_NFT_OBJ_BATCH)
                return; /* NFNL_BATCH_GENID: the ruleset moved on, nothing was done; pst_nft_apply() retries */
        for (size_t i = 0; i < st->nseen; i++)
                if (st->seen[i] == e->error) {
                        st->suppressed++;
                        return;
                }
        if (st->nseen >= ELEMENTSOF(st->seen)) {
                st->suppressed++;
                return;
        }
        st->seen[st->nseen++] = e->error;

        if (!ext && st->b->msgs[idx].obj == PST_NFT_OBJ_TABLE && e->error == -EPERM)
                ext = "the table belongs to another process: is posternd running?";
        describe(st->b, idx, bad_elem_index(st->b, idx, offs), what, sizeof(what), &file, &line);
        pst_error(st->diag, e->error, file, line, "kernel rejected %s: %s%s%s%s", what, strerror(-e->error),
                  ext ? " (" : "", ext ?: "", ext ? ")" : "");
}

static void handle_datagram(struct ack_state *st, uint32_t portid, const void *buf, size_t len) {
        const struct nlmsghdr *nlh = buf;
        int left = (int) len;

        for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
                const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
                size_t idx = nlh->nlmsg_seq - st->b->seq0; /* unsigned: wraps with seq */

                if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*e) ||
                    nlh->nlmsg_pid != portid || idx >= st->b->nmsgs) {
                        pst_warning(st->diag, NULL, 0,
                                    "unexpected netlink message (type %u, sequence %u, expected %u..%zu), ignoring",
                                    nlh->nlmsg_type, nlh->nlmsg_seq, st->b->seq0,
                                    st->b->seq0 + st->b->nmsgs - 1);
                        continue;
                }
                if (st->b->msgs[idx].obj != PST_NFT_OBJ_BATCH)
                        st->nacked++;
                if (e->error != 0)
                        handle_error(st, nlh, idx);
        }
}

static void renumber(struct pst_nft_batch *b, uint32_t seq0) {
        uint32_t seq = seq0;

        for (size_t i = 0; i < b->niov; i++) {
                int left = (int) b->iov[i].iov_len;

                for (struct nlmsghdr *nlh = b->iov[i].iov_base; mnl_nlmsg_ok(nlh, left);
                     nlh = mnl_nlmsg_next(nlh, &left))
                        nlh->nlmsg_seq = seq++;
        }
        b->seq0 = seq0;
}

int pst_nft_batch_send(struct pst_nft *nft, struct pst_nft_batch *b, struct pst_diag *diag) {
        struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
        struct msghdr msg = {
                .msg_name = &snl,
                .msg_namelen = sizeof(snl),
                .msg_iov = b->iov,
                .msg_iovlen = b->niov,
        };
        struct ack_state st = { .b = b, .diag = diag };
        int fd = mnl_socket_get_fd(nft->nl);
        size_t expected = 0;
        bool enobufs = false;
        ssize_t n;
        int r;

        renumber(b, nft->seq);
        nft->seq += (uint32_t) b->nmsgs;
        for (size_t i = 0; i < b->nmsgs; i++)
                if (b->msgs[i].obj != PST_NFT_OBJ_BATCH)
                        expected++;

        /* The whole batch is one datagram: netlink refuses a datagram larger
         * than the send buffer (EMSGSIZE). */
        r = set_sockbuf(nft, SO_SNDBUFFORCE, SO_SNDBUF, &nft->sndbuf, b->len + 64 * 1024);
        if (r < 0)
                return pst_error(diag, r, NULL, 0, "cannot size the netlink send buffer for %zu bytes: %s",
                                 b->len, strerror(-r));
        r = set_sockbuf(nft, SO_RCVBUFFORCE, SO_RCVBUF, &nft->rcvbuf,
                        MAX((size_t) 256 * 1024, expected * PST_NFT_ACK_TRUESIZE));
        if (r < 0)
                return pst_error(diag, r, NULL, 0, "cannot size the netlink receive buffer for %zu ACKs: %s",
                                 expected, strerror(-r));

        do
                n = sendmsg(fd, &msg, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return pst_error(diag, -errno, NULL, 0, "sending the nf_tables batch (%zu bytes) failed: %m",
                                 b->len);
        if ((size_t) n != b->len)
                return pst_error(diag, -EIO, NULL, 0, "short send of the nf_tables batch (%zd of %zu bytes)", n,
                                 b->len);

        /* nfnetlink processes the batch synchronously inside sendmsg() and
         * queues all ACKs before it returns, so drain without blocking. */
        for (;;) {
                n = recv(fd, nft->rbuf, PST_NFT_RBUF, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                break;
                        if (errno == ENOBUFS) {
                                enobufs = true; /* some ACKs were dropped; keep reading the rest */
                                continue;
                        }
                        return pst_error(diag, -errno, NULL, 0, "reading nf_tables acknowledgements failed: %m");
                }
                handle_datagram(&st, nft->portid, nft->rbuf, (size_t) n);
        }

        if (enobufs)
                return pst_error(diag, -ENOBUFS, NULL, 0,
                                 "the socket receive buffer overflowed (ENOBUFS): %zu of %zu acknowledgements lost, "
                                 "the outcome of the batch is unknown",
                                 expected - MIN(expected, st.nacked), expected);
        if (st.first_error < 0) {
                if (st.suppressed > 0)
                        pst_error(diag, st.first_error, NULL, 0,
                                  "the kernel rejected %zu more messages of the batch with the same errors", st.suppressed);
                return st.first_error;
        }
        if (st.nacked != expected)
                return pst_error(diag, -EPROTO, NULL, 0, "the kernel acknowledged %zu of %zu nf_tables messages",
                                 st.nacked, expected);
        return 0;
}

/*
 * One request on nft's own socket (not a private one: closing a netfilter
 * socket right after a commit that deleted objects waits for an RCU grace
 * period).  Answered synchronously inside sendto(): the data messages (to
 * cb), then the ACK.  Returns the ACK's error (0, or a negative errno).
 */
static int nft_request(struct pst_nft *nft, struct nlmsghdr *req, mnl_cb_t cb, void *data) {
        uint32_t seq = nft->seq++;
        bool acked = false;
        int err = 0;

        req->nlmsg_seq = seq;
        if (mnl_socket_sendto(nft->nl, req, req->nlmsg_len) < 0)
                return -errno;
        while (!acked) {
                ssize_t n = recv(mnl_socket_get_fd(nft->nl), nft->rbuf, PST_NFT_RBUF, MSG_DONTWAIT);
                int left;

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                left = (int) n;
                for (struct nlmsghdr *nlh = (struct nlmsghdr *) nft->rbuf; mnl_nlmsg_ok(nlh, left);
                     nlh = mnl_nlmsg_next(nlh, &left)) {
                        if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != nft->portid)
                                continue;
                        if (nlh->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

                                if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*e))
                                        return -EPROTO;
                                err = e->error;
                                acked = true;
                        } else
                                (void) cb(nlh, data);
                }
        }
        return err;
}

/* What a GET answers with: does a message of type msg come, and the u32
 * attribute attr in it (GETTABLE: NFTA_TABLE_FLAGS, GETGEN: NFTA_GEN_ID). */
struct u32_answer {
        uint16_t msg, attr;
        bool seen;
        uint32_t value;
};

static int u32_answer_cb(const struct nlmsghdr *nlh, void *data) {
        struct u32_answer *u = data;
        const struct nlattr *a;

        if (NFNL_MSG_TYPE(nlh->nlmsg_type) != u->msg)
                return MNL_CB_OK;
        u->seen = true;
        mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
                if (mnl_attr_get_type(a) == u->attr && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                        u->value = ntohl(mnl_attr_get_u32(a));
        return MNL_CB_OK;
}

int pst_nft_table_query(struct pst_nft *nft, const char *name, struct pst_diag *diag, bool *ret_exists,
                        uint32_t *ret_flags) {
        char buf[512]; /* one GETTABLE request with a name < PST_NAME_MAX */
        struct u32_answer t = { .msg = NFT_MSG_NEWTABLE, .attr = NFTA_TABLE_FLAGS };
        struct nlmsghdr *nlh;
        int r;

        nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, 0);
        mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, name);
        r = nft_request(nft, nlh, u32_answer_cb, &t);
        if (r < 0 && r != -ENOENT)
                return pst_error(diag, r, NULL, 0, "querying table inet %s failed: %m", name);
        *ret_exists = t.seen;
        *ret_flags = t.value;
        return 0;
}

#define APPLY_TRIES 8 /* generation moved under us this often: someone commits non-stop */

/*
 * Look (GETGEN, then GETTABLE), then one batch guarded by what we saw: the
 * kernel applies it only if no commit came in between (NFNL_BATCH_GENID),
 * else answers ERESTART and we look again.  Knowing the table is absent
 * spares the NEWTABLE + DELTABLE pair that makes it go first — and the RCU
 * grace period close() then waits for (~11 ms in a one-shot process).
 *
 * The kernel refuses to change ownership flags of an existing table in
 * place (EOPNOTSUPP), but a table may always be deleted and created anew
 * in the same batch: so the leading create-if-missing NEWTABLE restates
 * the flags the table has now, and only the new table gets o->table_flags.
 */
int pst_nft_apply(struct pst_nft *nft, const struct pst_ruleset *rs, const struct pst_apply_opts *o,
                  struct pst_diag *diag) {
        for (unsigned try = 0; try < APPLY_TRIES; try++) {
                _cleanup_(pst_nft_batch_freep) struct pst_nft_batch *b = NULL;
                struct pst_apply_opts g = *o;
                uint32_t cur = 0;
                bool exists;
                int r;

                r = pst_nft_genid(nft, &g.genid);
                if (r < 0)
                        return pst_error(diag, r, NULL, 0, "reading the ruleset generation failed: %m");
                r = pst_nft_table_query(nft, rs->table, diag, &exists, &cur);
                if (r < 0)
                        return r;
                g.guard_genid = true;
                g.table_absent = !exists;
                r = pst_nft_batch_build_full(rs, &g, exists ? cur : o->table_flags, nft->seq, &b, diag);
                if (r < 0)
                        return r;
                r = pst_nft_batch_send(nft, b, diag);
                if (r != -ERESTART)
                        return r;
        }
        return pst_error(diag, -EAGAIN, NULL, 0, "the ruleset changed under every one of %u attempts to apply: "
                         "someone else commits without pause", APPLY_TRIES);
}

int pst_nft_update_set(struct pst_nft *nft, const struct pst_ruleset *rs, uint32_t set, struct pst_diag *diag) {
        _cleanup_(pst_nft_batch_freep) struct pst_nft_batch *b = NULL;
        int r;

        r = pst_nft_batch_build_set_update(rs, set, nft->seq, &b, diag);
        if (r < 0)
                return r;
        return pst_nft_batch_send(nft, b, diag);
}

/* A NEWGEN answer means nf_tables is there (an error — no such subsystem:
 * EINVAL/EOPNOTSUPP — that it is not), and carries the generation. */
#define GEN_ANSWER { .msg = NFT_MSG_NEWGEN, .attr = NFTA_GEN_ID }

static struct nlmsghdr *gen_request(char buf[static NLMSG_SPACE(sizeof(struct nfgenmsg))]) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct nfgenmsg *nfg;

        nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
        nfg->nfgen_family = AF_UNSPEC;
        nfg->version = NFNETLINK_V0;
        return nlh;
}

int pst_nft_probe(void) {
        char buf[NLMSG_SPACE(sizeof(struct nfgenmsg))] __attribute__((aligned(4))) = {};
        struct u32_answer g = GEN_ANSWER;
        int r;

        r = pst_nl_request(NETLINK_NETFILTER, gen_request(buf), u32_answer_cb, &g);
        if (r < 0)
                return r;
        return g.seen ? 0 : -EPROTONOSUPPORT;
}

int pst_nft_genid(struct pst_nft *nft, uint32_t *ret) {
        char buf[NLMSG_SPACE(sizeof(struct nfgenmsg))] __attribute__((aligned(4))) = {};
        struct u32_answer g = GEN_ANSWER;
        int r;

        r = nft_request(nft, gen_request(buf), u32_answer_cb, &g);
        if (r < 0)
                return r;
        if (!g.seen)
                return -EPROTO;
        *ret = g.value;
        return 0;
}

uint32_t pst_nft_portid(const struct pst_nft *nft) {
        return nft->portid;
}
