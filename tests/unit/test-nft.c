/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The nf_tables batch without a kernel: build it from a hand-made IR, parse
 * every message back with libnftnl and compare field by field.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "diag.h"
#include "nft.h"
#include "../kernel/nft-sample.h"

#define SEQ0 1000u

/* All messages of a batch, in order. */
struct msgs {
        const struct nlmsghdr *m[4096];
        size_t n;
};

static void collect(const struct pst_nft_batch *b, struct msgs *out) {
        size_t total = 0;

        out->n = 0;
        for (size_t i = 0; i < pst_nft_batch_nbufs(b); i++) {
                size_t len;
                const struct nlmsghdr *nlh = pst_nft_batch_buf(b, i, &len);
                int left = (int) len;

                assert_non_null(nlh);
                total += len;
                for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
                        assert_true(out->n < ELEMENTSOF(out->m));
                        out->m[out->n++] = nlh;
                }
                assert_int_equal(left, 0); /* whole messages only */
        }
        assert_int_equal(total, pst_nft_batch_len(b));
        assert_int_equal(out->n, pst_nft_batch_nmsgs(b));
}

static uint16_t type_of(const struct nlmsghdr *nlh) {
        return NFNL_MSG_TYPE(nlh->nlmsg_type);
}

static struct pst_nft_batch *build(const struct pst_ruleset *rs, bool check_only, uint32_t flags) {
        struct pst_apply_opts o = { .check_only = check_only, .table_flags = flags };
        struct pst_nft_batch *b = NULL;
        struct pst_diag d;

        pst_diag_init(&d);
        assert_int_equal(pst_nft_batch_build(rs, &o, SEQ0, &b, &d), 0);
        assert_false(pst_diag_has_errors(&d));
        pst_diag_clear(&d);
        return b;
}

/* ---- expressions as short strings, from libnftnl's getters ---- */

static void expr_str(struct nftnl_expr *e, char *buf, size_t size) {
        const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
        char hex[2 * PST_KEY_MAX + 1] = "";
        uint32_t len = 0;

        if (streq(name, "meta"))
                snprintf(buf, size, "meta %u => %u", nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY),
                         nftnl_expr_get_u32(e, NFTNL_EXPR_META_DREG));
        else if (streq(name, "ct"))
                snprintf(buf, size, "ct %u => %u", nftnl_expr_get_u32(e, NFTNL_EXPR_CT_KEY),
                         nftnl_expr_get_u32(e, NFTNL_EXPR_CT_DREG));
        else if (streq(name, "payload"))
                snprintf(buf, size, "payload %u+%u/%u => %u", nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE),
                         nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET),
                         nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN), nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_DREG));
        else if (streq(name, "cmp")) {
                const uint8_t *d = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);
                static const char *const ops[] = {
                        [NFT_CMP_EQ] = "==", [NFT_CMP_NEQ] = "!=", [NFT_CMP_LT] = "<",
                        [NFT_CMP_LTE] = "<=", [NFT_CMP_GT] = ">", [NFT_CMP_GTE] = ">=",
                };
                uint32_t op = nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP);

                for (uint32_t i = 0; i < len; i++)
                        sprintf(hex + 2 * i, "%02x", d[i]);
                snprintf(buf, size, "cmp %s %u %s", op < ELEMENTSOF(ops) ? ops[op] : "?",
                         nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_SREG), hex);
        } else if (streq(name, "bitwise")) {
                const uint8_t *mask = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_MASK, &len);
                const uint8_t *x = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_XOR, &len);

                /* nft's prefix bitwise: reg 1 = (reg 1 & mask) ^ 0, full length */
                assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_SREG), 1);
                assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_DREG), 1);
                assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_LEN), len);
                for (uint32_t i = 0; i < len; i++) {
                        assert_int_equal(x[i], 0);
                        sprintf(hex + 2 * i, "%02x", mask[i]);
                }
                snprintf(buf, size, "bitwise %s", hex);
        } else if (streq(name, "lookup"))
                snprintf(buf, size, "lookup %u %s id %u dreg %d", nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_SREG),
                         nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET), nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_SET_ID),
                         nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG) ? (int) nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_DREG)
                                                                      : -1);
        else if (streq(name, "immediate"))
                snprintf(buf, size, "verdict %d%s%s", (int) nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT),
                         nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN) ? " " : "",
                         nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN) ? nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN) : "");
        else if (streq(name, "limit"))
                snprintf(buf, size, "limit %" PRIu64 "/%" PRIu64 " burst %u type %u flags %u",
                         nftnl_expr_get_u64(e, NFTNL_EXPR_LIMIT_RATE), nftnl_expr_get_u64(e, NFTNL_EXPR_LIMIT_UNIT),
                         nftnl_expr_get_u32(e, NFTNL_EXPR_LIMIT_BURST), nftnl_expr_get_u32(e, NFTNL_EXPR_LIMIT_TYPE),
                         nftnl_expr_get_u32(e, NFTNL_EXPR_LIMIT_FLAGS));
        else if (streq(name, "log"))
                snprintf(buf, size, "log '%s'", nftnl_expr_get_str(e, NFTNL_EXPR_LOG_PREFIX));
        else if (streq(name, "queue"))
                snprintf(buf, size, "queue %u total %u flags %u%s", nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_NUM),
                         nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_TOTAL), nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_FLAGS),
                         nftnl_expr_is_set(e, NFTNL_EXPR_QUEUE_SREG_QNUM) ? " sreg" : "");
        else
                snprintf(buf, size, "%s", name);
}

struct rule_expect {
        const char *chain;
        const char *comment;
        const char *exprs[16];
};

/* meta keys, payload bases, registers, verdicts as numbers (uapi values) */
#define NFP "meta 15 => 1"  /* NFT_META_NFPROTO */
#define L4P "meta 16 => 1"  /* NFT_META_L4PROTO */
#define IIF "meta 6 => 1"   /* NFT_META_IIFNAME */
#define OIF "meta 7 => 1"   /* NFT_META_OIFNAME */
#define IPV4 "cmp == 1 02"
#define IPV6 "cmp == 1 0a"
#define TCP "cmp == 1 06"
#define UDP "cmp == 1 11"
#define DPORT "payload 2+2/2 => 1"
#define ACCEPT "verdict 1"

static const struct rule_expect expect_rules[] = {
        { "input", NULL, { "ct 0 => 1", "lookup 1 __map%d id 5 dreg 0" } },
        { "input", NULL, { IIF, "cmp == 1 6c6f0000000000000000000000000000", ACCEPT } },
        { "input", NULL, { NFP, IPV6, L4P, "cmp == 1 3a", "payload 2+0/1 => 1", "lookup 1 __set%d id 8 dreg -1", ACCEPT } },
        { "input", NULL, { IIF, "lookup 1 __map%d id 6 dreg 0" } },
        { "input", NULL, { L4P, TCP, DPORT, "lookup 1 __set%d id 7 dreg -1", "counter", ACCEPT } },
        { "input", NULL, { L4P, "lookup 1 __set%d id 9 dreg -1", ACCEPT } },
        /* concatenation: both dependencies first, then reg 1, reg 9 (NFT_REG32_01), reg 10 */
        { "input", NULL,
          { NFP, IPV4, L4P, TCP, "payload 1+12/4 => 1", "payload 1+16/4 => 9", "payload 2+2/2 => 10",
            "lookup 1 t4 id 3 dreg -1", ACCEPT } },
        { "input", "v6 dns",
          { NFP, IPV6, "payload 1+8/16 => 1", "lookup 1 nets6 id 2 dreg -1", L4P, UDP, DPORT,
            "lookup 1 __set%d id 11 dreg -1", ACCEPT } },
        { "input", NULL,
          { IIF, "cmp != 1 65746830000000000000000000000000", NFP, IPV4, "payload 1+12/4 => 1", "cmp == 1 c6120001",
            L4P, "cmp == 1 01", "payload 2+0/1 => 1", "cmp == 1 08", "counter", ACCEPT } },
        { "input", NULL, { "limit 5/60 burst 5 type 0 flags 0", "log 'postern drop: '" } },
        { "forward", NULL,
          { NFP, IPV4, "payload 1+12/4 => 1", "lookup 1 nets4 id 1 dreg -1", OIF,
            "cmp == 1 65746831000000000000000000000000", "verdict -4 in_lan" } },
        { "in_wan", "mail",
          { NFP, IPV4, "payload 1+16/4 => 1", "lookup 1 ifa_ppp0_v4 id 4 dreg -1", L4P, TCP, DPORT,
            "lookup 1 __set%d id 10 dreg -1", ACCEPT } },
        { "in_lan", NULL, { NFP, IPV4, "payload 1+12/4 => 1", "lookup 1 nets4 id 1 dreg -1", L4P, UDP, DPORT, "cmp == 1 0035", ACCEPT } },
        { "in_lan", NULL, { "verdict -5" } },
        /* PST_M_RANGE */
        { "ranges", NULL, { NFP, IPV4, "payload 1+12/3 => 1", "cmp == 1 c61204", ACCEPT } },
        { "ranges", NULL, { NFP, IPV4, "payload 1+12/4 => 1", "bitwise fffffe00", "cmp == 1 c6120400", ACCEPT } },
        { "ranges", NULL,
          { NFP, IPV6, "payload 1+8/8 => 1", "cmp == 1 20010db800040000", IIF, "cmp == 1 707070", ACCEPT } },
        { "ranges", NULL,
          { NFP, IPV6, "payload 1+8/16 => 1", "bitwise fffffffffffffffe0000000000000000",
            "cmp == 1 20010db8000400000000000000000000", ACCEPT } },
        { "ranges", NULL, { NFP, IPV4, "payload 1+16/4 => 1", "bitwise 00000000", "cmp == 1 00000000", ACCEPT } },
        { "ranges", NULL, { L4P, TCP, DPORT, "cmp >= 1 0400", "cmp <= 1 07d0", "verdict 0" } },
        { "ranges", NULL, { NFP, IPV4, "payload 1+16/4 => 1", "cmp >= 1 c612000a", "cmp <= 1 c6120014", ACCEPT } },
};

static void check_rule(const struct nlmsghdr *nlh, const struct rule_expect *x) {
        struct nftnl_rule *r = nftnl_rule_alloc();
        struct nftnl_expr_iter *it;
        struct nftnl_expr *e;
        size_t i = 0;

        assert_non_null(r);
        assert_int_equal(nftnl_rule_nlmsg_parse(nlh, r), 0);
        assert_string_equal(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), "postern");
        assert_string_equal(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), x->chain);
        assert_int_equal(nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY), NFPROTO_INET);
        assert_true(nlh->nlmsg_flags & NLM_F_APPEND);

        it = nftnl_expr_iter_create(r);
        assert_non_null(it);
        while ((e = nftnl_expr_iter_next(it))) {
                char s[256];

                expr_str(e, s, sizeof(s));
                assert_non_null(x->exprs[i]);
                if (!streq(s, x->exprs[i]))
                        fail_msg("chain %s, expression %zu: got \"%s\", expected \"%s\"", x->chain, i, s, x->exprs[i]);
                i++;
        }
        assert_null(x->exprs[i]);
        nftnl_expr_iter_destroy(it);

        if (x->comment) {
                uint32_t len;
                const uint8_t *ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);

                /* udata TLV: type NFTNL_UDATA_RULE_COMMENT, length incl. NUL, text */
                assert_non_null(ud);
                assert_int_equal(len, 2 + strlen(x->comment) + 1);
                assert_int_equal(ud[0], NFTNL_UDATA_RULE_COMMENT);
                assert_int_equal(ud[1], strlen(x->comment) + 1);
                assert_string_equal((const char *) ud + 2, x->comment);
        } else
                assert_false(nftnl_rule_is_set(r, NFTNL_RULE_USERDATA));
        nftnl_rule_free(r);
}

/* ---- sets and elements ---- */

struct set_expect {
        const char *name;
        uint32_t flags, keytype, keylen, id;
        int desc_size; /* -1: not sent */
        uint8_t keybyteorder;
        const char *elems; /* "KEY[-KEYEND][/END][:VERDICT][+open] ..." hex keys */
};

static const struct set_expect expect_sets[] = {
        { "nets4", NFT_SET_INTERVAL, 7, 4, 1, -1, 2,
          "00000000/END 0a000000 0b000000/END c6120000 c6120100/END c6120505 c6120506/END c6120600 c6120700/END "
          "c6120700 c6120800/END" },
        { "nets6", NFT_SET_INTERVAL, 8, 16, 2, -1, 2,
          "00000000000000000000000000000000/END 20010db8000000000000000000000000 "
          "20010db8000100000000000000000000/END 20010db800ff00000000000000000001 "
          "20010db800ff00000000000000000002/END" },
        { "t4", NFT_SET_INTERVAL | NFT_SET_CONCAT, (7 << 12) | (7 << 6) | 13, 12, 3, -1, 0,
          "c6120000c612010100190000-c61200ffc612010100190000 c6120200c612010204000000-c61202ffc612010207d00000" },
        { "ifa_ppp0_v4", 0, 7, 4, 4, -1, 2, "c6120901" },
        { "__map%d", NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_MAP, 26, 4, 5, 3, 1,
          "01000000:0 02000000:1 04000000:1" },
        /* exact "eth1" = ["eth1", "eth1"+1), wildcard "ppp*" = ["ppp", "ppq") */
        { "__map%d", NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_INTERVAL | NFT_SET_MAP, 41, 16, 6, 5, 1,
          "00000000000000000000000000000000/END 65746831000000000000000000000000:-3:in_lan "
          "65746831000000000000000000000001/END 70707000000000000000000000000000:-3:in_wan "
          "70707100000000000000000000000000/END" },
        { "__set%d", NFT_SET_ANONYMOUS | NFT_SET_CONSTANT, 29, 1, 8, 3, 2, "86 87 88" },
        { "__set%d", NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_INTERVAL, 13, 2, 7, 7, 2,
          "0000/END 0016 0017/END 0019 001a/END 0400 07d1/END" },
        { "__set%d", NFT_SET_ANONYMOUS | NFT_SET_CONSTANT, 12, 1, 9, 2, 0, "32 33" },
        /* 60000-65535 runs to the end: no end element, "open" userdata instead */
        { "__set%d", NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_INTERVAL, 13, 2, 11, 4, 2,
          "0000/END 0035 0036/END ea60+open" },
        { "__set%d", NFT_SET_ANONYMOUS | NFT_SET_CONSTANT, 13, 2, 10, 2, 2, "0019 006e" },
};

static void hex(char *out, const void *data, uint32_t len) {
        const uint8_t *d = data;

        for (uint32_t i = 0; i < len; i++)
                sprintf(out + 2 * i, "%02x", d[i]);
}

static void check_set(const struct nlmsghdr *nlh, const struct set_expect *x) {
        struct nftnl_set *s = nftnl_set_alloc();
        const uint8_t *ud;
        uint32_t len;

        assert_non_null(s);
        assert_int_equal(nftnl_set_nlmsg_parse(nlh, s), 0);
        assert_string_equal(nftnl_set_get_str(s, NFTNL_SET_NAME), x->name);
        assert_string_equal(nftnl_set_get_str(s, NFTNL_SET_TABLE), "postern");
        assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_FLAGS), x->flags);
        assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE), x->keytype);
        assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN), x->keylen);
        assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_ID), x->id);
        if (x->desc_size >= 0)
                assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_DESC_SIZE), x->desc_size);
        else
                assert_false(nftnl_set_is_set(s, NFTNL_SET_DESC_SIZE));
        if (x->flags & NFT_SET_MAP) {
                assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE), NFT_DATA_VERDICT);
                assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_DATA_LEN), 0);
        } else
                assert_false(nftnl_set_is_set(s, NFTNL_SET_DATA_TYPE));
        if (x->flags & NFT_SET_CONCAT) {
                /* NFTA_SET_DESC_CONCAT: unpadded field lengths */
                assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_DESC_SIZE), 0);
                assert_true(nftnl_set_is_set(s, NFTNL_SET_DESC_CONCAT));
                const uint8_t *fl = nftnl_set_get_data(s, NFTNL_SET_DESC_CONCAT, &len);
                assert_int_equal(fl[0], 4);
                assert_int_equal(fl[1], 4);
                assert_int_equal(fl[2], 2);
                assert_int_equal(fl[3], 0);
        }
        /* userdata: first TLV is NFTNL_UDATA_SET_KEYBYTEORDER (u32, host order) */
        ud = nftnl_set_get_data(s, NFTNL_SET_USERDATA, &len);
        assert_non_null(ud);
        assert_true(len >= 6);
        assert_int_equal(ud[0], NFTNL_UDATA_SET_KEYBYTEORDER);
        assert_int_equal(ud[1], 4);
        assert_int_equal(ud[2], x->keybyteorder);
        if (streq(x->name, "nets4"))
                assert_non_null(memmem(ud, len, "lan networks", 13));
        nftnl_set_free(s);
}

static void elem_str(struct nftnl_set_elem *e, char *out) {
        uint32_t len;
        const void *k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);

        assert_non_null(k);
        hex(out, k, len);
        out += strlen(out);
        if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_KEY_END)) {
                k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY_END, &len);
                *out++ = '-';
                hex(out, k, len);
                out += strlen(out);
        }
        if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS)) {
                assert_int_equal(nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS), NFT_SET_ELEM_INTERVAL_END);
                out += sprintf(out, "/END");
                /* the kernel refuses data on an end element */
                assert_false(nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_VERDICT));
        }
        if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_VERDICT)) {
                out += sprintf(out, ":%d", (int) nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT));
                if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN))
                        out += sprintf(out, ":%s", nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN));
        }
        if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_USERDATA)) {
                const uint8_t *ud = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &len);
                uint32_t v;

                assert_int_equal(len, 6);
                assert_int_equal(ud[0], NFTNL_UDATA_SET_ELEM_FLAGS);
                memcpy(&v, ud + 2, 4);
                assert_int_equal(v, 1); /* NFTNL_SET_ELEM_F_INTERVAL_OPEN */
                out += sprintf(out, "+open");
        }
        *out = 0;
}

/* Elements of one set, possibly over several NEWSETELEM messages starting
 * at *i; returns them as one string. */
static void collect_elems(const struct msgs *ms, size_t *i, const char *name, bool with_id, char *out, size_t size,
                          size_t *ret_n) {
        size_t n = 0;

        out[0] = 0;
        while (*i < ms->n && type_of(ms->m[*i]) == NFT_MSG_NEWSETELEM) {
                struct nftnl_set *s = nftnl_set_alloc();
                struct nftnl_set_elems_iter *it;
                struct nftnl_set_elem *e;

                assert_non_null(s);
                assert_int_equal(nftnl_set_elems_nlmsg_parse(ms->m[*i], s), 0);
                assert_string_equal(nftnl_set_get_str(s, NFTNL_SET_NAME), name);
                assert_string_equal(nftnl_set_get_str(s, NFTNL_SET_TABLE), "postern");
                assert_int_equal(nftnl_set_is_set(s, NFTNL_SET_ID), with_id);
                /* the element list nest has a 16-bit length */
                assert_true(ms->m[*i]->nlmsg_len <= 60000);
                it = nftnl_set_elems_iter_create(s);
                assert_non_null(it);
                while ((e = nftnl_set_elems_iter_next(it))) {
                        char one[4 * PST_KEY_MAX + 64];

                        elem_str(e, one);
                        if (size > 1) { /* size 1: count only */
                                size_t l = strlen(out);

                                assert_true(l + strlen(one) + 2 < size);
                                sprintf(out + l, "%s%s", l ? " " : "", one);
                        }
                        n++;
                }
                nftnl_set_elems_iter_destroy(it);
                nftnl_set_free(s);
                (*i)++;
        }
        if (ret_n)
                *ret_n = n;
}

static void check_table(const struct nlmsghdr *nlh, uint16_t type, uint32_t flags) {
        struct nftnl_table *t = nftnl_table_alloc();

        assert_int_equal(type_of(nlh), type);
        assert_int_equal(nftnl_table_nlmsg_parse(nlh, t), 0);
        assert_string_equal(nftnl_table_get_str(t, NFTNL_TABLE_NAME), "postern");
        if (type == NFT_MSG_NEWTABLE) {
                assert_int_equal(nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS), flags);
                assert_true(nlh->nlmsg_flags & NLM_F_CREATE);
                assert_false(nlh->nlmsg_flags & NLM_F_EXCL); /* create if missing */
        }
        nftnl_table_free(t);
}

static void check_chain(const struct nlmsghdr *nlh, const char *name, int hook, int policy) {
        struct nftnl_chain *c = nftnl_chain_alloc();

        assert_int_equal(type_of(nlh), NFT_MSG_NEWCHAIN);
        assert_int_equal(nftnl_chain_nlmsg_parse(nlh, c), 0);
        assert_string_equal(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), name);
        assert_string_equal(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), "postern");
        if (hook >= 0) {
                assert_int_equal(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM), hook);
                assert_int_equal(nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO), 0);
                assert_int_equal(nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY), policy);
                assert_string_equal(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE), "filter");
        } else
                assert_false(nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM));
        nftnl_chain_free(c);
}

/* ---- tests ---- */

static void test_full(void **state) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = sample_full();
        _cleanup_(pst_nft_batch_freep) struct pst_nft_batch *b = build(rs, false, NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST);
        static struct msgs ms;
        static const int rule_sets[][2] = {
                /* rule index → anonymous set created right before it (index in expect_sets), -1 none */
                { 0, 4 }, { 1, -1 }, { 2, 6 }, { 3, 5 }, { 4, 7 }, { 5, 8 }, { 6, -1 }, { 7, 9 }, { 8, -1 },
                { 9, -1 }, { 10, -1 }, { 11, 10 }, { 12, -1 }, { 13, -1 }, { 14, -1 }, { 15, -1 }, { 16, -1 },
                { 17, -1 }, { 18, -1 }, { 19, -1 }, { 20, -1 },
        };
        char elems[8192];
        size_t i = 0;

        collect(b, &ms);
        for (size_t k = 0; k < ms.n; k++) {
                assert_int_equal(ms.m[k]->nlmsg_seq, SEQ0 + k);
                if (k == 0 || k == ms.n - 1)
                        continue;
                assert_true(ms.m[k]->nlmsg_flags & NLM_F_ACK);
                assert_true(ms.m[k]->nlmsg_flags & NLM_F_REQUEST);
                assert_int_equal(((const struct nfgenmsg *) mnl_nlmsg_get_payload(ms.m[k]))->nfgen_family,
                                 NFPROTO_INET);
        }
        assert_int_equal(ms.m[0]->nlmsg_type, NFNL_MSG_BATCH_BEGIN);
        assert_int_equal(ntohs(((const struct nfgenmsg *) mnl_nlmsg_get_payload(ms.m[0]))->res_id),
                         NFNL_SUBSYS_NFTABLES);
        assert_int_equal(ms.m[ms.n - 1]->nlmsg_type, NFNL_MSG_BATCH_END);

        i = 1;
        check_table(ms.m[i++], NFT_MSG_NEWTABLE, NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST);
        check_table(ms.m[i++], NFT_MSG_DELTABLE, 0);
        check_table(ms.m[i++], NFT_MSG_NEWTABLE, NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST);
        check_chain(ms.m[i++], "input", NF_INET_LOCAL_IN, NF_DROP);
        check_chain(ms.m[i++], "forward", NF_INET_FORWARD, NF_DROP);
        check_chain(ms.m[i++], "in_wan", -1, 0);
        check_chain(ms.m[i++], "in_lan", -1, 0);
        check_chain(ms.m[i++], "ranges", -1, 0);
        for (size_t s = 0; s < 4; s++) {
                assert_int_equal(type_of(ms.m[i]), NFT_MSG_NEWSET);
                check_set(ms.m[i++], &expect_sets[s]);
                collect_elems(&ms, &i, expect_sets[s].name, true, elems, sizeof(elems), NULL);
                assert_string_equal(elems, expect_sets[s].elems);
        }
        for (size_t r = 0; r < ELEMENTSOF(expect_rules); r++) {
                if (rule_sets[r][1] >= 0) {
                        const struct set_expect *x = &expect_sets[rule_sets[r][1]];

                        assert_int_equal(type_of(ms.m[i]), NFT_MSG_NEWSET);
                        check_set(ms.m[i++], x);
                        collect_elems(&ms, &i, x->name, true, elems, sizeof(elems), NULL);
                        assert_string_equal(elems, x->elems);
                }
                assert_int_equal(type_of(ms.m[i]), NFT_MSG_NEWRULE);
                check_rule(ms.m[i++], &expect_rules[r]);
        }
        assert_int_equal(i, ms.n - 1);
}

static void test_check_only(void **state) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = sample_full();
        _cleanup_(pst_nft_batch_freep) struct pst_nft_batch *full = build(rs, false, 0);
        _cleanup_(pst_nft_batch_freep) struct pst_nft_batch *check = build(rs, true, 0);
        static struct msgs ms;

        collect(check, &ms);
        assert_int_equal(pst_nft_batch_nmsgs(check) + 1, pst_nft_batch_nmsgs(full));
        assert_int_equal(ms.m[0]->nlmsg_type, NFNL_MSG_BATCH_BEGIN);
        assert_int_equal(type_of(ms.m[ms.n - 1]), NFT_MSG_NEWRULE);
        check_table(ms.m[1], NFT_MSG_NEWTABLE, 0);
}

/* Guarded by the generation, into a namespace without our table: BEGIN
 * carries NFNL_BATCH_GENID, and there is no NEWTABLE + DELTABLE pair (its
 * delete would make close() wait for an RCU grace period). */
static void test_genid_fresh(void **state) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = sample_full();
        _cleanup_(pst_nft_batch_freep) struct pst_nft_batch *full = build(rs, false, 0), *b = NULL;
        struct pst_apply_opts o = { .guard_genid = true, .genid = 0x12345678, .table_absent = true };
        const struct nlattr *a;
        static struct msgs ms;
        uint32_t genid = 0;
        struct pst_diag d;

        pst_diag_init(&d);
        assert_int_equal(pst_nft_batch_build(rs, &o, SEQ0, &b, &d), 0);
        pst_diag_clear(&d);
        collect(b, &ms);
        assert_int_equal(pst_nft_batch_nmsgs(b) + 2, pst_nft_batch_nmsgs(full));
        assert_int_equal(ms.m[0]->nlmsg_type, NFNL_MSG_BATCH_BEGIN);
        mnl_attr_for_each(a, ms.m[0], sizeof(struct nfgenmsg))
                if (mnl_attr_get_type(a) == NFNL_BATCH_GENID)
                        genid = ntohl(mnl_attr_get_u32(a));
        assert_int_equal(genid, 0x12345678);
        check_table(ms.m[1], NFT_MSG_NEWTABLE, 0);
        assert_int_equal(type_of(ms.m[2]), NFT_MSG_NEWCHAIN);
        for (size_t k = 1; k < ms.n; k++)
                assert_int_not_equal(type_of(ms.m[k]), NFT_MSG_DELTABLE);
}

static void test_update_set(void **state) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = sample_full();
        _cleanup_(pst_nft_batch_freep) struct pst_nft_batch *b = NULL;
        static struct msgs ms;
        struct pst_diag d;
        char elems[256];
        size_t i = 2, n;

        pst_diag_init(&d);
        pst_set_clear(&rs->sets[S_IFA]);
        sample_add4(rs, S_IFA, "198.18.9.2", 32);
        sample_add4(rs, S_IFA, "198.18.9.7", 32);
        assert_int_equal(pst_nft_batch_build_set_update(rs, S_IFA, 7, &b, &d), 0);
        collect(b, &ms);
        assert_int_equal(ms.n, 4);
        assert_int_equal(ms.m[0]->nlmsg_type, NFNL_MSG_BATCH_BEGIN);
        /* flush: DELSETELEM naming the set, without an element list */
        assert_int_equal(type_of(ms.m[1]), NFT_MSG_DELSETELEM);
        assert_true(ms.m[1]->nlmsg_flags & NLM_F_ACK);
        {
                const struct nlattr *a;
                bool list = false, name = false;

                mnl_attr_for_each(a, ms.m[1], sizeof(struct nfgenmsg)) {
                        if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_ELEMENTS)
                                list = true;
                        if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_SET)
                                name = streq(mnl_attr_get_str(a), "ifa_ppp0_v4");
                }
                assert_false(list);
                assert_true(name);
        }
        collect_elems(&ms, &i, "ifa_ppp0_v4", false, elems, sizeof(elems), &n);
        assert_string_equal(elems, "c6120902 c6120907");
        assert_int_equal(ms.m[3]->nlmsg_type, NFNL_MSG_BATCH_END);
        assert_int_equal(ms.m[3]->nlmsg_seq, 10);

        /* emptied set: flush only */
        pst_nft_batch_free(TAKE_PTR(b));
        pst_set_clear(&rs->sets[S_IFA]);
        assert_int_equal(pst_nft_batch_build_set_update(rs, S_IFA, 7, &b, &d), 0);
        assert_int_equal(pst_nft_batch_nmsgs(b), 3);

        /* anonymous sets cannot be updated */
        pst_nft_batch_free(TAKE_PTR(b));
        assert_int_equal(pst_nft_batch_build_set_update(rs, S_TCP, 7, &b, &d), -EINVAL);
        assert_null(b);
        pst_diag_clear(&d);
}

/*
 * options.rpc_mechanism "queue": an endpoint-mapper reply rule's queue
 * verdict is a queue expression (number, one queue, bypass; no immediate),
 * as nft makes of `queue flags bypass to 18`; a queue number beyond 16 bits
 * and a queue verdict in a map are refused.
 */
static void test_queue(void **state) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = sample_full();
        _cleanup_(pst_nft_batch_freep) struct pst_nft_batch *b = NULL;
        static const struct rule_expect x = {
                "forward", NULL,
                { "ct 1 => 1", "cmp == 1 01", L4P, TCP, "payload 2+0/2 => 1", "cmp == 1 0087",
                  "queue 18 total 1 flags 1" }
        };
        struct pst_rule r = { .nmatch = 2, .verdict = { PST_V_QUEUE, 18 } };
        struct pst_apply_opts o = {};
        const struct nlmsghdr *last = NULL;
        uint8_t reply = 1, port[2] = { 0, 135 };
        static struct msgs ms;
        struct pst_diag d;

        pst_match_eq(&r.match[0], PST_F_CT_DIRECTION, &reply, false);
        pst_match_eq(&r.match[1], PST_F_TCP_SPORT, port, false);
        assert_int_equal(pst_rule_add(rs, C_FORWARD, &r), 0);
        b = build(rs, false, 0);
        collect(b, &ms);
        for (size_t k = 0; k < ms.n; k++) {
                struct nftnl_rule *nr;

                if (type_of(ms.m[k]) != NFT_MSG_NEWRULE)
                        continue;
                nr = nftnl_rule_alloc();
                assert_non_null(nr);
                assert_int_equal(nftnl_rule_nlmsg_parse(ms.m[k], nr), 0);
                if (streq(nftnl_rule_get_str(nr, NFTNL_RULE_CHAIN), "forward"))
                        last = ms.m[k]; /* ours is the forward chain's last rule */
                nftnl_rule_free(nr);
        }
        assert_non_null(last);
        check_rule(last, &x);

        pst_diag_init(&d);
        pst_nft_batch_free(TAKE_PTR(b));
        rs->chains[C_FORWARD].rules[rs->chains[C_FORWARD].n - 1].verdict.chain = 65536;
        assert_int_equal(pst_nft_batch_build(rs, &o, 1, &b, &d), -EINVAL);
        assert_null(b);
        pst_diag_clear(&d);
}

/* The output chain (input rules' rpc replies): hook NF_INET_LOCAL_OUT,
 * priority 0, policy accept, type filter. */
static void test_output_chain(void **state) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = sample_full();
        _cleanup_(pst_nft_batch_freep) struct pst_nft_batch *b = NULL;
        static struct msgs ms;
        size_t n = 0;
        uint32_t out;

        assert_int_equal(pst_chain_add(rs, "output", PST_HOOK_OUTPUT, PST_V_ACCEPT, &out), 0);
        b = build(rs, false, 0);
        collect(b, &ms);
        for (size_t k = 0; k < ms.n; k++) {
                struct nftnl_chain *c;

                if (type_of(ms.m[k]) != NFT_MSG_NEWCHAIN)
                        continue;
                c = nftnl_chain_alloc();
                assert_non_null(c);
                assert_int_equal(nftnl_chain_nlmsg_parse(ms.m[k], c), 0);
                if (streq(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), "output")) {
                        check_chain(ms.m[k], "output", NF_INET_LOCAL_OUT, NF_ACCEPT);
                        n++;
                }
                nftnl_chain_free(c);
        }
        assert_int_equal(n, 1);
}

/* 100,000 CIDRs: elements split over many messages and buffers, none lost. */
static void test_large(void **state) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = NULL;
        _cleanup_(pst_nft_batch_freep) struct pst_nft_batch *b = NULL;
        static struct msgs ms;
        enum pst_field f = PST_F_IP_SADDR;
        size_t i, n, total = 0, nelemmsg = 0;
        uint32_t si;
        char dummy[8];

        assert_int_equal(pst_ruleset_new(&rs), 0);
        assert_int_equal(pst_set_add(rs, "big", PST_SET_INTERVAL, &f, 1, &si), 0);
        for (uint32_t k = 0; k < 100000; k++) {
                /* 10.x.y.0/31, every other /31: never adjacent */
                uint32_t a = htonl((10u << 24) | (k << 2));
                uint32_t l = htonl((10u << 24) | (k << 2) | 1);
                uint8_t fk[4], lk[4];

                memcpy(fk, &a, 4);
                memcpy(lk, &l, 4);
                assert_int_equal(pst_set_add_elem(&rs->sets[si], fk, lk, NULL), 0);
        }
        b = build(rs, false, 0);
        assert_true(pst_nft_batch_nbufs(b) > 1);
        assert_true(pst_nft_batch_nmsgs(b) < ELEMENTSOF(ms.m));
        collect(b, &ms);
        for (i = 0; i < ms.n; i++) {
                if (type_of(ms.m[i]) != NFT_MSG_NEWSETELEM)
                        continue;
                collect_elems(&ms, &i, "big", true, dummy, 1, &n);
                total += n;
                nelemmsg++;
                i--;
        }
        assert_int_equal(nelemmsg, 1); /* collect_elems walks all consecutive ones */
        /* leading zero end element + start and end per CIDR */
        assert_int_equal(total, 1 + 2 * 100000);
        for (i = 0; i < ms.n; i++)
                assert_true(ms.m[i]->nlmsg_len <= 64 * 1024);
}

static void test_errors(void **state) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = sample_full();
        struct pst_apply_opts o = {};
        struct pst_nft_batch *b = NULL;
        struct pst_rule r = { .nmatch = 2, .verdict = { PST_V_ACCEPT } };
        uint8_t k[PST_KEY_MAX] = {};
        struct pst_diag d;

        /* out of order interval set: refused with the set's line */
        pst_diag_init(&d);
        sample_add4(rs, S_NETS4, "10.1.0.0", 16);
        assert_int_equal(pst_nft_batch_build(rs, &o, 1, &b, &d), -EINVAL);
        assert_null(b);
        assert_int_equal(d.n, 1);
        assert_string_equal(d.items[0].file, SAMPLE_FILE);
        assert_int_equal(d.items[0].line, 10);
        pst_diag_clear(&d);
        rs->sets[S_NETS4].n--;

        /* ip and ip6 in one rule */
        pst_match_eq(&r.match[0], PST_F_IP_SADDR, k, false);
        pst_match_eq(&r.match[1], PST_F_IP6_DADDR, k, false);
        sample_rule(rs, C_IN_LAN, &r, 99);
        assert_int_equal(pst_nft_batch_build(rs, &o, 1, &b, &d), -EINVAL);
        assert_null(b);
        assert_int_equal(d.items[0].line, 99);
        pst_diag_clear(&d);
        rs->chains[C_IN_LAN].n--;

        /* an anonymous set bound twice */
        r = (struct pst_rule) { .nmatch = 1, .verdict = { PST_V_ACCEPT } };
        pst_match_set(&r.match[0], PST_F_TCP_DPORT, S_TCP);
        sample_rule(rs, C_IN_LAN, &r, 98);
        assert_int_equal(pst_nft_batch_build(rs, &o, 1, &b, &d), -EINVAL);
        assert_int_equal(d.items[0].line, 98);
        pst_diag_clear(&d);
        rs->chains[C_IN_LAN].n--;

        /* a range in a set without the interval flag */
        sample_add4(rs, S_IFA, "198.18.10.0", 24);
        assert_int_equal(pst_nft_batch_build(rs, &o, 1, &b, &d), -EINVAL);
        assert_int_equal(d.items[0].line, 13);
        pst_diag_clear(&d);
        rs->sets[S_IFA].n--;

        /* and back to a valid ruleset */
        assert_int_equal(pst_nft_batch_build(rs, &o, 1, &b, &d), 0);
        pst_nft_batch_free(b);
        pst_diag_clear(&d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_full),
                cmocka_unit_test(test_check_only),
                cmocka_unit_test(test_genid_fresh),
                cmocka_unit_test(test_update_set),
                cmocka_unit_test(test_queue),
                cmocka_unit_test(test_output_chain),
                cmocka_unit_test(test_large),
                cmocka_unit_test(test_errors),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
