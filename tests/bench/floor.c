/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * floor — the fastest way we know to install the benchmark's table: the
 * table postern installs for P1/P2 (same chains, sets, expressions, so `nft
 * list` shows the same text), built by hand in one batch.  Tables, chains,
 * set headers and rules are libnftnl objects; set elements are written with
 * libmnl straight into the batch buffer (no object per element).  No policy
 * language, no checks beyond what the kernel does: this is the cost of the
 * kernel work plus the least userspace work that can feed it.
 *
 *   floor SPEC          SPEC lines: "ppp0 ADDR", "list FILE" (relative to
 *                       SPEC's directory), "svc NET/LEN ADDR PORT"
 *   floor --exit        exit at once (the cost of starting the process)
 *
 * Prints {"parse_us":..,"build_us":..,"commit_us":..,"bytes":..,"msgs":..}:
 * reading the inputs, building the batch, sendmsg() until the last ACK (the
 * socket is opened between build and commit, outside both).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define TABLE "postern"
#define ELEM_MSG_MAX 60000 /* the element list nest has a 16-bit length */

enum { TYPE_NFPROTO = 2, TYPE_IPADDR = 7, TYPE_IP6ADDR = 8, TYPE_INET_PROTO = 12, TYPE_INET_SERVICE = 13,
       TYPE_CT_STATE = 26, TYPE_ICMP6_TYPE = 29, TYPE_IFNAME = 41 };
enum { BO_INVALID = 0, BO_HOST = 1, BO_BIG = 2 }; /* nft's key byte order, in set userdata */

static void die(const char *what) {
        fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
        exit(2);
}

/* ---- inputs ---- */

struct range4 {
        uint32_t first, last; /* host byte order */
};
struct svc {
        uint32_t net, netlast, dst; /* host byte order */
        uint16_t port;
};

static struct range4 *list;
static size_t nlist, caplist;
static struct svc *svcs;
static size_t nsvc, capsvc;
static uint32_t ppp0_addr; /* network byte order */

static char *slurp(const char *path, size_t *len) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        char *buf;
        size_t got = 0;

        if (fd < 0 || fstat(fd, &st) < 0)
                die(path);
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                die("malloc");
        while (got < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + got, (size_t) st.st_size - got);

                if (n <= 0)
                        die(path);
                got += (size_t) n;
        }
        buf[got] = 0;
        close(fd);
        *len = got;
        return buf;
}

/* "a.b.c.d[/len]" at *p; advances *p.  Returns false on junk. */
static bool parse_cidr(const char **p, uint32_t *addr, unsigned *plen) {
        const char *s = *p;
        uint32_t a = 0;

        for (int i = 0; i < 4; i++) {
                unsigned v = 0, d = 0;

                while (*s >= '0' && *s <= '9' && d < 4)
                        v = v * 10 + (unsigned) (*s++ - '0'), d++;
                if (!d || v > 255 || (i < 3 && *s++ != '.'))
                        return false;
                a = a << 8 | v;
        }
        *plen = 32;
        if (*s == '/') {
                unsigned v = 0, d = 0;

                s++;
                while (*s >= '0' && *s <= '9' && d < 3)
                        v = v * 10 + (unsigned) (*s++ - '0'), d++;
                if (!d || v > 32)
                        return false;
                *plen = v;
        }
        *addr = a;
        *p = s;
        return true;
}

static void read_list(const char *path) {
        size_t len;
        char *buf = slurp(path, &len);
        const char *p = buf;
        bool sorted = true;

        while (*p) {
                uint32_t a, mask;
                unsigned plen;

                while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
                        p++;
                if (!*p)
                        break;
                if (*p == '#') {
                        while (*p && *p != '\n')
                                p++;
                        continue;
                }
                if (!parse_cidr(&p, &a, &plen)) {
                        fprintf(stderr, "floor: %s: bad entry near '%.20s'\n", path, p);
                        exit(2);
                }
                if (nlist == caplist) {
                        caplist = caplist ? caplist * 2 : 131072;
                        list = realloc(list, caplist * sizeof(*list));
                        if (!list)
                                die("realloc");
                }
                mask = plen ? ~0u << (32 - plen) : 0;
                list[nlist] = (struct range4) { a & mask, (a & mask) | ~mask };
                if (nlist && list[nlist].first <= list[nlist - 1].last)
                        sorted = false;
                nlist++;
                while (*p && *p != '\n')
                        p++;
        }
        free(buf);
        /* The generated list is sorted and disjoint; anything else is not
         * what the floor measures. */
        if (!sorted) {
                fprintf(stderr, "floor: %s: entries must be sorted and disjoint\n", path);
                exit(2);
        }
}

/* postern sorts set elements; so does the floor, so both list the same. */
static int svc_cmp(const void *a, const void *b) {
        const struct svc *x = a, *y = b;

        if (x->net != y->net)
                return x->net < y->net ? -1 : 1;
        if (x->dst != y->dst)
                return x->dst < y->dst ? -1 : 1;
        return (int) x->port - (int) y->port;
}

static void read_spec(const char *path) {
        size_t len;
        char *buf = slurp(path, &len), *save = NULL, *dir = strdup(path), *slash;

        slash = strrchr(dir, '/');
        if (slash)
                slash[1] = 0;
        else
                dir[0] = 0;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char a[64], b[64], file[4096];
                unsigned port;

                if (sscanf(line, "ppp0 %63s", a) == 1) {
                        if (inet_pton(AF_INET, a, &ppp0_addr) != 1)
                                die("ppp0 address");
                } else if (sscanf(line, "list %4000s", file) == 1) {
                        char full[8192];

                        snprintf(full, sizeof(full), "%s%s", file[0] == '/' ? "" : dir, file);
                        read_list(full);
                } else if (sscanf(line, "svc %63s %63s %u", a, b, &port) == 3) {
                        const char *p = a;
                        uint32_t net, dst, mask;
                        unsigned plen, plen2;

                        if (!parse_cidr(&p, &net, &plen) || (p = b, !parse_cidr(&p, &dst, &plen2)) || port > 65535)
                                die("svc line");
                        if (nsvc == capsvc) {
                                capsvc = capsvc ? capsvc * 2 : 4096;
                                svcs = realloc(svcs, capsvc * sizeof(*svcs));
                                if (!svcs)
                                        die("realloc");
                        }
                        mask = plen ? ~0u << (32 - plen) : 0;
                        svcs[nsvc++] = (struct svc) { net & mask, (net & mask) | ~mask, dst, (uint16_t) port };
                }
        }
        free(buf);
        free(dir);
        if (nsvc) /* P1 has none: qsort(NULL, 0, ...) is undefined (UBSan says so) */
                qsort(svcs, nsvc, sizeof(*svcs), svc_cmp);
}

/* ---- the batch: one buffer ---- */

static char *bbuf;
static size_t blen, bcap;
static uint32_t seq = 1, nmsgs;

static void *msg_room(size_t need) {
        if (blen + need > bcap)
                die("batch buffer too small");
        return bbuf + blen;
}

static void msg_done(struct nlmsghdr *nlh) {
        blen += nlh->nlmsg_len;
        nmsgs++;
}

static struct nlmsghdr *hdr(uint16_t type, uint16_t flags) {
        return nftnl_nlmsg_build_hdr(msg_room(65536), type, NFPROTO_INET, flags | NLM_F_ACK, seq++);
}

static void put_table(uint16_t type) {
        struct nftnl_table *t = nftnl_table_alloc();
        struct nlmsghdr *nlh;

        nftnl_table_set_str(t, NFTNL_TABLE_NAME, TABLE);
        nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
        if (type == NFT_MSG_NEWTABLE)
                nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, 0);
        nlh = hdr(type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0);
        nftnl_table_nlmsg_build_payload(nlh, t);
        msg_done(nlh);
        nftnl_table_free(t);
}

static void put_chain(const char *name, int hook) {
        struct nftnl_chain *c = nftnl_chain_alloc();
        struct nlmsghdr *nlh;

        nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, TABLE);
        nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
        nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
        if (hook >= 0) {
                nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
                nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t) hook);
                nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, 0);
                nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_DROP);
        }
        nlh = hdr(NFT_MSG_NEWCHAIN, NLM_F_CREATE);
        nftnl_chain_nlmsg_build_payload(nlh, c);
        msg_done(nlh);
        nftnl_chain_free(c);
}

struct setdef {
        const char *name; /* "__set%d" / "__map%d" for anonymous ones */
        uint32_t id, flags, keytype, keylen, size, byteorder;
        uint8_t nfields, field_len[3];
};

static void put_set(const struct setdef *d) {
        struct nftnl_set *s = nftnl_set_alloc();
        struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
        struct nlmsghdr *nlh;

        nftnl_set_set_str(s, NFTNL_SET_TABLE, TABLE);
        nftnl_set_set_str(s, NFTNL_SET_NAME, d->name);
        nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
        nftnl_set_set_u32(s, NFTNL_SET_FLAGS, d->flags);
        nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, d->keytype);
        nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, d->keylen);
        nftnl_set_set_u32(s, NFTNL_SET_ID, d->id);
        if (d->flags & NFT_SET_MAP) {
                nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
                nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, 0);
        }
        if (d->flags & NFT_SET_ANONYMOUS)
                nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, d->size);
        if (d->flags & NFT_SET_CONCAT)
                nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, d->field_len, d->nfields);
        nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, d->byteorder);
        if (d->flags & NFT_SET_MAP) {
                nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_DATABYTEORDER, BO_INVALID);
                nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_DATA_INTERVAL, 0);
        }
        nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
        nlh = hdr(NFT_MSG_NEWSET, NLM_F_CREATE);
        nftnl_set_nlmsg_build_payload(nlh, s);
        msg_done(nlh);
        nftnl_udata_buf_free(ud);
        nftnl_set_free(s);
}

/* Element writer: opens NEWSETELEM messages as they fill up. */
struct ew {
        const struct setdef *d;
        struct nlmsghdr *nlh;
        struct nlattr *list;
};

static void ew_close(struct ew *w) {
        if (!w->nlh)
                return;
        mnl_attr_nest_end(w->nlh, w->list);
        msg_done(w->nlh);
        w->nlh = NULL;
}

static void ew_room(struct ew *w, size_t need) {
        if (w->nlh && w->nlh->nlmsg_len + need <= ELEM_MSG_MAX)
                return;
        ew_close(w);
        w->nlh = hdr(NFT_MSG_NEWSETELEM, NLM_F_CREATE);
        mnl_attr_put_strz(w->nlh, NFTA_SET_ELEM_LIST_TABLE, TABLE);
        mnl_attr_put_strz(w->nlh, NFTA_SET_ELEM_LIST_SET, w->d->name);
        mnl_attr_put_u32(w->nlh, NFTA_SET_ELEM_LIST_SET_ID, htonl(w->d->id));
        w->list = mnl_attr_nest_start(w->nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
}

static void put_value(struct nlmsghdr *nlh, uint16_t type, const void *v, size_t len) {
        struct nlattr *n = mnl_attr_nest_start(nlh, type);

        mnl_attr_put(nlh, NFTA_DATA_VALUE, len, v);
        mnl_attr_nest_end(nlh, n);
}

/* key [, key_end] [, INTERVAL_END] [, verdict (+ chain)] */
static void ew_put(struct ew *w, const void *key, const void *key_end, bool end, int verdict, const char *chain) {
        struct nlattr *e;

        ew_room(w, 160);
        e = mnl_attr_nest_start(w->nlh, NFTA_LIST_ELEM);
        if (end)
                mnl_attr_put_u32(w->nlh, NFTA_SET_ELEM_FLAGS, htonl(NFT_SET_ELEM_INTERVAL_END));
        put_value(w->nlh, NFTA_SET_ELEM_KEY, key, w->d->keylen);
        if (key_end)
                put_value(w->nlh, NFTA_SET_ELEM_KEY_END, key_end, w->d->keylen);
        if (chain || verdict != INT32_MIN) {
                struct nlattr *data = mnl_attr_nest_start(w->nlh, NFTA_SET_ELEM_DATA);
                struct nlattr *v = mnl_attr_nest_start(w->nlh, NFTA_DATA_VERDICT);

                mnl_attr_put_u32(w->nlh, NFTA_VERDICT_CODE, htonl((uint32_t) verdict));
                if (chain)
                        mnl_attr_put_strz(w->nlh, NFTA_VERDICT_CHAIN, chain);
                mnl_attr_nest_end(w->nlh, v);
                mnl_attr_nest_end(w->nlh, data);
        }
        mnl_attr_nest_end(w->nlh, e);
}

#define NOVERDICT INT32_MIN

/* ---- expressions ---- */

static uint32_t next_set_id = 1;

static void e_meta(struct nftnl_rule *r, uint32_t key) {
        struct nftnl_expr *e = nftnl_expr_alloc("meta");

        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
        nftnl_rule_add_expr(r, e);
}

static void e_cmp(struct nftnl_rule *r, const void *v, uint32_t len) {
        struct nftnl_expr *e = nftnl_expr_alloc("cmp");

        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
        nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, v, len);
        nftnl_rule_add_expr(r, e);
}

static void e_cmp_u8(struct nftnl_rule *r, uint8_t v) {
        e_cmp(r, &v, 1);
}

static void e_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg) {
        struct nftnl_expr *e = nftnl_expr_alloc("payload");

        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
        nftnl_rule_add_expr(r, e);
}

static void e_lookup(struct nftnl_rule *r, const struct setdef *d, bool vmap) {
        struct nftnl_expr *e = nftnl_expr_alloc("lookup");

        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
        nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, d->name);
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, d->id);
        if (vmap)
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
        nftnl_rule_add_expr(r, e);
}

static void e_accept(struct nftnl_rule *r, bool counter) {
        struct nftnl_expr *e;

        if (counter)
                nftnl_rule_add_expr(r, nftnl_expr_alloc("counter"));
        e = nftnl_expr_alloc("immediate");
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_ACCEPT);
        nftnl_rule_add_expr(r, e);
}

static struct nftnl_rule *rule_new(const char *chain) {
        struct nftnl_rule *r = nftnl_rule_alloc();

        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, TABLE);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
        return r;
}

static void rule_put(struct nftnl_rule *r, const char *comment) {
        struct nlmsghdr *nlh;

        if (comment) {
                struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);

                nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, comment);
                nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
                nftnl_udata_buf_free(ud);
        }
        nlh = hdr(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
        nftnl_rule_nlmsg_build_payload(nlh, r);
        msg_done(nlh);
        nftnl_rule_free(r);
}

/* An anonymous set of 1- or 2-byte big-endian / 1-byte values. */
static struct setdef anon_set(uint32_t keytype, uint32_t keylen, uint32_t bo, const uint32_t *v, size_t n) {
        struct setdef d = { "__set%d", next_set_id++, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT, keytype, keylen,
                            (uint32_t) n, bo, 0, {} };
        struct ew w = { &d };

        put_set(&d);
        for (size_t i = 0; i < n; i++) {
                uint8_t k[4] = {};

                if (keylen == 2) {
                        k[0] = (uint8_t) (v[i] >> 8);
                        k[1] = (uint8_t) v[i];
                } else
                        k[0] = (uint8_t) v[i];
                ew_put(&w, k, NULL, false, NOVERDICT, NULL);
        }
        ew_close(&w);
        return d;
}

static const uint32_t tcp_ports[] = { 22, 25, 53, 110, 389, 465, 587, 636, 953, 993, 995, 1023, 3268, 3269, 5222,
                                      5269, 5280, 8080 };
static const uint32_t udp_ports[] = { 53, 953 }; /* dns, rndc: seed 000 allows "ldap/tcp", no udp/389 */

static void rule_ct_vmap(const char *chain) {
        struct setdef d = { "__map%d", next_set_id++, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_MAP,
                            TYPE_CT_STATE, 4, 3, BO_HOST, 0, {} };
        struct ew w = { &d };
        uint32_t k;
        struct nftnl_rule *r;
        struct nftnl_expr *e;

        put_set(&d);
        k = 1, ew_put(&w, &k, NULL, false, NF_DROP, NULL);  /* invalid */
        k = 2, ew_put(&w, &k, NULL, false, NF_ACCEPT, NULL); /* established */
        k = 4, ew_put(&w, &k, NULL, false, NF_ACCEPT, NULL); /* related */
        ew_close(&w);
        r = rule_new(chain);
        e = nftnl_expr_alloc("ct");
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
        nftnl_rule_add_expr(r, e);
        e_lookup(r, &d, true);
        rule_put(r, NULL);
}

static void rule_l4_icmp(const char *chain) {
        static const uint32_t protos[] = { IPPROTO_ICMP, IPPROTO_ICMPV6 };
        struct setdef d = anon_set(TYPE_INET_PROTO, 1, BO_INVALID, protos, 2);
        struct nftnl_rule *r = rule_new(chain);

        e_meta(r, NFT_META_L4PROTO);
        e_lookup(r, &d, false);
        e_accept(r, false);
        rule_put(r, NULL);
}

static void rule_ports(const char *chain, uint8_t proto, const uint32_t *ports, size_t n, const char *comment) {
        struct setdef d = anon_set(TYPE_INET_SERVICE, 2, BO_BIG, ports, n);
        struct nftnl_rule *r = rule_new(chain);

        e_meta(r, NFT_META_L4PROTO);
        e_cmp_u8(r, proto);
        e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1);
        e_lookup(r, &d, false);
        e_accept(r, true);
        rule_put(r, comment);
}

static void build(void) {
        static const char in_c[] = "Outlook through SafeSquid";
        static const char fw_c[] = "Outlook through SafeSquid";
        static const char p3_c[] = "P3: the dial-up address";
        struct setdef list_d = { "list_allowlist_v4", next_set_id++, NFT_SET_INTERVAL, TYPE_IPADDR, 4, 0, BO_BIG, 0, {} };
        struct setdef if4 = { "ifaddr_ppp0_v4", next_set_id++, 0, TYPE_IPADDR, 4, 0, BO_BIG, 0, {} };
        struct setdef if6 = { "ifaddr_ppp0_v6", next_set_id++, 0, TYPE_IP6ADDR, 16, 0, BO_BIG, 0, {} };
        struct setdef hosts = { "forward_hosts_v4_tcp", next_set_id++, NFT_SET_INTERVAL | NFT_SET_CONCAT,
                                TYPE_IPADDR << 12 | TYPE_IPADDR << 6 | TYPE_INET_SERVICE, 12, 0, BO_INVALID,
                                3, { 4, 4, 2 } };
        struct nftnl_rule *r;
        struct ew w;

        /* The floor runs in a fresh namespace: the table is created, nothing
         * deleted (a DELTABLE, even of an empty table, makes close() wait
         * for an RCU grace period: nftables-facts.md), as postern's first
         * apply does */
        put_table(NFT_MSG_NEWTABLE);
        put_chain("input", NF_INET_LOCAL_IN);
        put_chain("forward", NF_INET_FORWARD);
        put_chain("input_ppp", -1);

        if (nlist) {
                uint32_t zero = 0;

                put_set(&list_d);
                w = (struct ew) { &list_d };
                /* rbtree intervals as nft sends them: a leading end at 0, then start, end = last + 1 */
                if (list[0].first != 0)
                        ew_put(&w, &zero, NULL, true, NOVERDICT, NULL);
                for (size_t i = 0; i < nlist; i++) {
                        uint32_t k = htonl(list[i].first), e = htonl(list[i].last + 1);

                        ew_put(&w, &k, NULL, false, NOVERDICT, NULL);
                        if (list[i].last != UINT32_MAX)
                                ew_put(&w, &e, NULL, true, NOVERDICT, NULL);
                }
                ew_close(&w);
        }
        put_set(&if4);
        w = (struct ew) { &if4 };
        ew_put(&w, &ppp0_addr, NULL, false, NOVERDICT, NULL);
        ew_close(&w);
        put_set(&if6);
        if (nsvc) {
                put_set(&hosts);
                w = (struct ew) { &hosts };
                for (size_t i = 0; i < nsvc; i++) {
                        uint32_t k[3] = { htonl(svcs[i].net), htonl(svcs[i].dst), htonl((uint32_t) svcs[i].port << 16) };
                        uint32_t e[3] = { htonl(svcs[i].netlast), k[1], k[2] };

                        ew_put(&w, k, e, false, NOVERDICT, NULL);
                }
                ew_close(&w);
        }

        /* chain input */
        rule_ct_vmap("input");
        r = rule_new("input");
        {
                char lo[16] = "lo";

                e_meta(r, NFT_META_IIFNAME);
                e_cmp(r, lo, sizeof(lo));
                e_accept(r, false);
                rule_put(r, NULL);
        }
        {
                static const uint32_t nd[] = { 134, 135, 136 };
                struct setdef d = anon_set(TYPE_ICMP6_TYPE, 1, BO_BIG, nd, 3);

                r = rule_new("input");
                e_meta(r, NFT_META_NFPROTO);
                e_cmp_u8(r, NFPROTO_IPV6);
                e_meta(r, NFT_META_L4PROTO);
                e_cmp_u8(r, IPPROTO_ICMPV6);
                e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NFT_REG_1);
                e_lookup(r, &d, false);
                e_accept(r, false);
                rule_put(r, NULL);
        }
        rule_l4_icmp("input");
        {
                struct setdef d = { "__map%d", next_set_id++, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_MAP,
                                    TYPE_IFNAME, 16, 1, BO_HOST, 0, {} };
                char ppp0[16] = "ppp0";

                put_set(&d);
                w = (struct ew) { &d };
                ew_put(&w, ppp0, NULL, false, NFT_JUMP, "input_ppp");
                ew_close(&w);
                r = rule_new("input");
                e_meta(r, NFT_META_IIFNAME);
                e_lookup(r, &d, true);
                rule_put(r, NULL);
        }
        rule_ports("input", IPPROTO_TCP, tcp_ports, sizeof(tcp_ports) / sizeof(tcp_ports[0]), in_c);
        rule_ports("input", IPPROTO_UDP, udp_ports, sizeof(udp_ports) / sizeof(udp_ports[0]), in_c);

        /* chain forward */
        rule_ct_vmap("forward");
        rule_l4_icmp("forward");
        rule_ports("forward", IPPROTO_TCP, tcp_ports, sizeof(tcp_ports) / sizeof(tcp_ports[0]), fw_c);
        rule_ports("forward", IPPROTO_UDP, udp_ports, sizeof(udp_ports) / sizeof(udp_ports[0]), fw_c);
        if (nlist)
                for (uint8_t proto = IPPROTO_TCP; proto; proto = proto == IPPROTO_TCP ? IPPROTO_UDP : 0) {
                        uint16_t port = htons(443);

                        r = rule_new("forward");
                        e_meta(r, NFT_META_NFPROTO);
                        e_cmp_u8(r, NFPROTO_IPV4);
                        e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG_1);
                        e_lookup(r, &list_d, false);
                        e_meta(r, NFT_META_L4PROTO);
                        e_cmp_u8(r, proto);
                        e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1);
                        e_cmp(r, &port, 2);
                        e_accept(r, true);
                        rule_put(r, "P2 allow-list");
                }
        if (nsvc) {
                r = rule_new("forward");
                e_meta(r, NFT_META_NFPROTO);
                e_cmp_u8(r, NFPROTO_IPV4);
                e_meta(r, NFT_META_L4PROTO);
                e_cmp_u8(r, IPPROTO_TCP);
                e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG_1);
                e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG32_01);
                e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_02);
                e_lookup(r, &hosts, false);
                e_accept(r, true);
                rule_put(r, NULL);
        }

        /* chain input_ppp */
        for (int v6 = 0; v6 < 2; v6++) {
                uint16_t port = htons(2222);

                r = rule_new("input_ppp");
                e_meta(r, NFT_META_NFPROTO);
                e_cmp_u8(r, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
                e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, v6 ? 24 : 16, v6 ? 16 : 4, NFT_REG_1);
                e_lookup(r, v6 ? &if6 : &if4, false);
                e_meta(r, NFT_META_L4PROTO);
                e_cmp_u8(r, IPPROTO_TCP);
                e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1);
                e_cmp(r, &port, 2);
                e_accept(r, true);
                rule_put(r, p3_c);
        }
}

/* ---- commit ---- */

static struct mnl_socket *nl;

static void open_socket(void) {
        nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
                die("netlink socket");
}

static void commit(void) {
        int fd, one = 1, sz;
        uint32_t acks = 0, expected = nmsgs - 2; /* BEGIN/END are not acknowledged */
        static char rbuf[1 << 16];
        ssize_t n;

        fd = mnl_socket_get_fd(nl);
        setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
        sz = (int) blen + 65536;
        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
                die("SO_SNDBUFFORCE");
        sz = (int) (expected * 2048 > 262144 ? expected * 2048 : 262144);
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
                die("SO_RCVBUFFORCE");
        if (mnl_socket_sendto(nl, bbuf, blen) != (ssize_t) blen)
                die("sendto");
        /* the kernel processes the batch inside sendto() and queues every ACK */
        while ((n = recv(fd, rbuf, sizeof(rbuf), MSG_DONTWAIT)) > 0) {
                const struct nlmsghdr *nlh = (const void *) rbuf;
                int left = (int) n;

                for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
                        const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

                        if (nlh->nlmsg_type != NLMSG_ERROR)
                                continue;
                        if (e->error) {
                                fprintf(stderr, "floor: kernel rejected message %u: %s\n", nlh->nlmsg_seq,
                                        strerror(-e->error));
                                exit(2);
                        }
                        acks++;
                }
        }
        if (acks != expected) {
                fprintf(stderr, "floor: %u of %u ACKs\n", acks, expected);
                exit(2);
        }
        mnl_socket_close(nl);
}

int main(int argc, char **argv) {
        uint64_t t0, t1, t2, t3;
        struct nlmsghdr *nlh;

        if (argc != 2) {
                fprintf(stderr, "usage: floor SPEC | --exit\n");
                return 2;
        }
        if (strcmp(argv[1], "--exit") == 0)
                return 0; /* process start-up only, for comparison with posternctl --help */
        t0 = now_us();
        read_spec(argv[1]);
        t1 = now_us();
        bcap = (nlist * 2 + nsvc + 16) * 64 + (1 << 20);
        bbuf = malloc(bcap);
        if (!bbuf)
                die("malloc");
        nlh = nftnl_batch_begin(msg_room(64), seq++);
        msg_done(nlh);
        build();
        nlh = nftnl_batch_end(msg_room(64), seq++);
        msg_done(nlh);
        open_socket();
        t2 = now_us(); /* commit: socket buffers, sendmsg() and every ACK, as phases.c times postern's */
        commit();
        t3 = now_us();
        printf("{\"parse_us\":%llu,\"build_us\":%llu,\"commit_us\":%llu,\"bytes\":%zu,\"msgs\":%u,"
               "\"list\":%zu,\"services\":%zu}\n",
               (unsigned long long) (t1 - t0), (unsigned long long) (t2 - t1), (unsigned long long) (t3 - t2), blen,
               nmsgs, nlist, nsvc);
        return 0;
}
