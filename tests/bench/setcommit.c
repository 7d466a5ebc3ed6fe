/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * setcommit — what the kernel's commit of a one-element change costs in an
 * interval set of N elements (issue 15: a one-entry reload of P2 touches
 * its 100,000-element allow-list).  Run it in a private network namespace
 * (it creates table inet postern_setcommit there).
 *
 *   setcommit N ROUNDS
 *
 * Fills set s (ipv4_addr, flags interval) with N /24 ranges 512 apart in
 * transactions of 2,000, then ROUNDS times commits one batch that adds one
 * range in a gap (start + end element, as nft sends an interval) and one
 * that deletes it again, each timed from sendmsg() to its ACK (the kernel
 * acknowledges a batch's messages after the commit).  Prints
 * {"n":N,"add_us":[...],"del_us":[...]}.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#define TABLE "postern_setcommit"
#define BUFSZ (1u << 20)
#define MIN(a, b) ((a) < (b) ? (a) : (b))

static uint32_t seq = 1, nmsgs;

static void die(const char *what) {
        fprintf(stderr, "setcommit: %s: %s\n", what, strerror(errno));
        exit(1);
}

static struct nlmsghdr *msg(struct mnl_nlmsg_batch *b, uint16_t type, uint16_t flags, uint16_t res_id) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b));
        struct nfgenmsg *g;

        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | flags;
        nlh->nlmsg_seq = seq++;
        nmsgs++;
        g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
        g->nfgen_family = type == NFNL_MSG_BATCH_BEGIN || type == NFNL_MSG_BATCH_END ? AF_UNSPEC : NFPROTO_INET;
        g->version = NFNETLINK_V0;
        g->res_id = htons(res_id);
        return nlh;
}

static void done(struct mnl_nlmsg_batch *b) {
        if (!mnl_nlmsg_batch_next(b)) {
                errno = ENOSPC;
                die("batch full");
        }
}

static void put_elem(struct nlmsghdr *nlh, uint32_t key, bool end) {
        struct nlattr *e = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM), *k;

        if (end)
                mnl_attr_put_u32(nlh, NFTA_SET_ELEM_FLAGS, htonl(NFT_SET_ELEM_INTERVAL_END));
        k = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
        mnl_attr_put_u32(nlh, NFTA_DATA_VALUE, htonl(key));
        mnl_attr_nest_end(nlh, k);
        mnl_attr_nest_end(nlh, e);
}

/* ranges [first + i*512, first + i*512 + 256) for i in [from, to) */
static void put_elems(struct mnl_nlmsg_batch *b, uint16_t type, const char *set, uint32_t first, size_t from,
                      size_t to) {
        struct nlmsghdr *nlh = msg(b, (NFNL_SUBSYS_NFTABLES << 8) | type, NLM_F_CREATE | NLM_F_ACK, 0);
        struct nlattr *l;

        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, TABLE);
        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
        l = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
        for (size_t i = from; i < to; i++) {
                put_elem(nlh, first + (uint32_t) i * 512, false);
                put_elem(nlh, first + (uint32_t) i * 512 + 256, true);
        }
        mnl_attr_nest_end(nlh, l);
        done(b);
}

/* One batch: BEGIN, what fill() puts, END; sent, every ACK read.  µs. */
static uint64_t commit(struct mnl_socket *nl, void (*fill)(struct mnl_nlmsg_batch *b, void *u), void *u,
                       uint32_t nacks) {
        static char buf[BUFSZ], rbuf[1 << 16];
        struct mnl_nlmsg_batch *b = mnl_nlmsg_batch_start(buf, BUFSZ);
        uint64_t t0;
        ssize_t n;
        int r = 1;

        nmsgs = 0;
        msg(b, NFNL_MSG_BATCH_BEGIN, 0, NFNL_SUBSYS_NFTABLES);
        done(b);
        fill(b, u);
        msg(b, NFNL_MSG_BATCH_END, 0, NFNL_SUBSYS_NFTABLES);
        done(b);
        t0 = now_us();
        if (mnl_socket_sendto(nl, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b)) < 0)
                die("sendto");
        /* the messages that ask for an ACK get it after the commit */
        if (!nacks) /* every message asked */
                nacks = nmsgs - 2;
        for (uint32_t acks = 0; acks < nacks && r > 0;) {
                n = mnl_socket_recvfrom(nl, rbuf, sizeof(rbuf));
                if (n < 0)
                        die("recvfrom");
                r = mnl_cb_run(rbuf, (size_t) n, 0, mnl_socket_get_portid(nl), NULL, NULL);
                if (r < 0)
                        die("the kernel refused the batch");
                acks++;
        }
        mnl_nlmsg_batch_stop(b);
        return now_us() - t0;
}

static unsigned nsets = 1;

static void set_name(char name[16], size_t j) {
        snprintf(name, 16, "s%u", (unsigned) (j % 1000));
}

static void fill_table(struct mnl_nlmsg_batch *b, void *u) {
        struct nlmsghdr *nlh = msg(b, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_ACK, 0);

        mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, TABLE);
        done(b);
        for (size_t j = 0; j < nsets; j++) {
                char name[16];

                set_name(name, j);
                nlh = msg(b, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSET, NLM_F_CREATE, 0);
                mnl_attr_put_strz(nlh, NFTA_SET_TABLE, TABLE);
                mnl_attr_put_strz(nlh, NFTA_SET_NAME, name);
                mnl_attr_put_u32(nlh, NFTA_SET_ID, htonl((uint32_t) j + 1));
                mnl_attr_put_u32(nlh, NFTA_SET_FLAGS, htonl(NFT_SET_INTERVAL));
                mnl_attr_put_u32(nlh, NFTA_SET_KEY_TYPE, htonl(7)); /* ipv4_addr */
                mnl_attr_put_u32(nlh, NFTA_SET_KEY_LEN, htonl(4));
                done(b);
        }
}

struct span {
        uint16_t type;
        size_t from, to, per_set;
};

/* 500 ranges a message: an attribute nest's length is 16 bits */
static void fill_span(struct mnl_nlmsg_batch *b, void *u) {
        const struct span *s = u;

        for (size_t i = s->from; i < s->to;) {
                /* ranges [j * per_set, (j + 1) * per_set) go to set j */
                size_t j = i / s->per_set, end = MIN(MIN(i + 500, s->to), (j + 1) * s->per_set);
                char name[16];

                set_name(name, j);
                put_elems(b, s->type, name, 0x0a000000, i, end); /* 10.0.0.0 */
                i = end;
        }
}

/* one range [key, key + 128) in the gap after the middle range */
struct one {
        uint16_t type;
        uint32_t key;
        char set[16];
};

static void fill_one(struct mnl_nlmsg_batch *b, void *u) {
        const struct one *o = u;
        struct nlmsghdr *nlh = msg(b, (NFNL_SUBSYS_NFTABLES << 8) | o->type,
                                   o->type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE | NLM_F_ACK : NLM_F_ACK, 0);
        struct nlattr *l;

        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, TABLE);
        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, o->set);
        l = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
        put_elem(nlh, o->key, false);
        put_elem(nlh, o->key + 128, true);
        mnl_attr_nest_end(nlh, l);
        done(b);
}

static void pause_ms(int ms) {
        struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };

        while (ms > 0 && nanosleep(&t, &t) < 0 && errno == EINTR)
                ;
}

int main(int argc, char **argv) {
        int idle_ms = 0;
        struct mnl_socket *nl;
        size_t n, per_set;
        int rounds;
        uint64_t *add, *del;

        if (argc < 3 || argc > 5 || (n = strtoul(argv[1], NULL, 10)) < 1 || n > 1000000 ||
            (rounds = atoi(argv[2])) < 1 || rounds > 10000 ||
            (argc >= 4 && ((nsets = (unsigned) atoi(argv[3])) < 1 || nsets > 1000 || nsets > n)) ||
            (argc == 5 && ((idle_ms = atoi(argv[4])) < 0 || idle_ms > 10000))) {
                fprintf(stderr, "usage: setcommit N(1..1000000) ROUNDS(1..10000) [SETS(1..1000) [IDLE_MS(0..10000)]]\n"
                                "  IDLE_MS: a pause before every commit measured (a reload comes after a while:\n"
                                "  6.6+ kernels collect an interval set's garbage, a walk of all of it, in a\n"
                                "  commit at least a second after the last one)\n");
                return 2;
        }
        per_set = (n + nsets - 1) / nsets;
        add = calloc((size_t) rounds, sizeof(*add));
        del = calloc((size_t) rounds, sizeof(*del));
        nl = mnl_socket_open(NETLINK_NETFILTER);
        if (!add || !del || !nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
            mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &(int) { 1 }, sizeof(int)) < 0)
                die("netlink"); /* CAP_ACK: an error does not echo a 100 kB request */
        commit(nl, fill_table, NULL, 1);
        for (size_t i = 0; i < n; i += 2000)
                commit(nl, fill_span, &(struct span) { NFT_MSG_NEWSETELEM, i, MIN(i + 2000, n), per_set }, 0);
        for (int k = 0; k < rounds; k++) {
                struct one o = { NFT_MSG_NEWSETELEM, 0x0a000000 + (uint32_t) (n / 2) * 512 + 320 };

                set_name(o.set, (n / 2) / per_set);

                pause_ms(idle_ms);
                add[k] = commit(nl, fill_one, &o, 1);
                o.type = NFT_MSG_DELSETELEM;
                pause_ms(idle_ms);
                del[k] = commit(nl, fill_one, &o, 1);
        }
        printf("{\"n\":%zu,\"sets\":%u,\"idle_ms\":%d", n, nsets, idle_ms);
        printf(",");
        print_samples("add_us", add, (size_t) rounds);
        printf(",");
        print_samples("del_us", del, (size_t) rounds);
        printf("}\n");
        mnl_socket_close(nl);
        return 0;
}
