/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The DCE/RPC endpoint-mapper parser on real replies: tests/unit/data/dcerpc/
 * holds what Samba 4.17's samba-dcerpcd sent to impacket's ept_map
 * (tests/rpc/epm-client.py --dump: bind_ack then the response, as on the
 * wire).  Samba refuses NDR64 and answers small maps in one fragment and one
 * tower, so the NDR64, fragmented, multi-tower and big-endian cases are built
 * here from the real tower with a small NDR writer, which first has to
 * reproduce Samba's own NDR20 stub byte for byte, and whose NDR64 stub must
 * parse like impacket 0.10's NDR64 encoding of the same reply
 * (impacket010-samr-ndr64.stub: ept_mapResponse(isNDR64=True) around Samba's
 * tower, its padding byte 0xbf included).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "dcerpc.h"

#define LSARPC_UUID "12345778-1234-abcd-ef00-0123456789ab"

struct capture {
        uint8_t *data;
        size_t len;
        size_t bind_ack_len; /* the response PDU follows */
};

static void load_file(const char *file, char **buf, size_t *size) {
        const char *root = getenv("POSTERN_SOURCE_ROOT");
        char path[4096];

        assert_non_null(root);
        snprintf(path, sizeof(path), "%s/tests/unit/data/dcerpc/%s", root, file);
        assert_int_equal(read_full_file(path, 1 << 16, buf, size), 0);
}

static void load(const char *name, struct capture *ret) {
        char file[256], *buf;
        size_t size;

        snprintf(file, sizeof(file), "samba417-%s.bin", name);
        load_file(file, &buf, &size);
        ret->data = (uint8_t *) buf;
        ret->len = size;
        assert_true(size > 10);
        ret->bind_ack_len = buf[8] | (uint8_t) buf[9] << 8;
}

struct seen {
        size_t calls;
        struct pst_dcerpc_ept_map last;
};

static void on_reply(const struct pst_dcerpc_ept_map *m, void *userdata) {
        struct seen *s = userdata;

        s->calls++;
        s->last = *m;
}

/* Feed in chunks of `chunk` bytes (TCP segmentation). */
static int feed(const uint8_t *data, size_t len, size_t chunk, struct seen *seen, struct pst_dcerpc_counters *ret) {
        _cleanup_(pst_dcerpc_stream_freep) struct pst_dcerpc_stream *s = NULL;
        int r = 0;

        assert_int_equal(pst_dcerpc_stream_new(&s), 0);
        for (size_t off = 0; off < len && r == 0; off += chunk)
                r = pst_dcerpc_stream_feed(s, data + off, MIN(chunk, len - off), on_reply, seen);
        *ret = *pst_dcerpc_stream_counters(s);
        return r;
}

static void assert_one_tower(const struct seen *seen, const char *uuid, uint16_t major, uint16_t port) {
        char buf[PST_DCERPC_UUID_STRLEN];

        assert_int_equal(seen->last.n_towers, 1);
        assert_string_equal(pst_dcerpc_uuid_format(seen->last.towers[0].if_uuid, buf), uuid);
        assert_int_equal(seen->last.towers[0].if_version_major, major);
        assert_int_equal(seen->last.towers[0].port, port);
        assert_true(seen->last.towers[0].has_ipv4);
        /* Samba names the address it was asked on; postern never uses it */
        assert_memory_equal(seen->last.towers[0].ipv4, ((uint8_t[]) { 198, 18, 135, 1 }), 4);
}

static void test_samba_replies(void **state) {
        static const struct {
                const char *name, *uuid;
                uint16_t major, port;
        } cases[] = {
                { "lsarpc", LSARPC_UUID, 0, 49153 },
                { "lsarpc-4", LSARPC_UUID, 0, 49153 }, /* max_towers 4: max_count 4, one tower */
                { "samr", "12345778-1234-abcd-ef00-0123456789ac", 1, 49153 },
                { "srvsvc", "4b324fc8-1670-01d3-1278-5a47bf6ee188", 3, 49154 },
                { "winreg", "338cd001-2244-31f1-aaaa-900038001003", 1, 49152 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct capture c;
                struct pst_dcerpc_counters cnt;

                load(cases[i].name, &c);
                for (size_t chunk = 1; chunk <= c.len; chunk = chunk < 8 ? chunk + 1 : chunk * 3) {
                        struct seen seen = {};

                        assert_int_equal(feed(c.data, c.len, chunk, &seen, &cnt), 0);
                        assert_int_equal(seen.calls, 1);
                        assert_int_equal(seen.last.syntax, PST_DCERPC_SYNTAX_NDR20);
                        assert_int_equal(seen.last.status, 0);
                        assert_int_equal(seen.last.n_other, 0);
                        assert_one_tower(&seen, cases[i].uuid, cases[i].major, cases[i].port);
                        assert_int_equal(cnt.pdus, 2);
                        assert_int_equal(cnt.replies, 1);
                        assert_int_equal(cnt.towers, 1);
                        assert_int_equal(cnt.unparsed, 0);
                        assert_int_equal(cnt.faults, 0);
                }
                free(c.data);
        }
}

static void test_samba_not_registered(void **state) {
        struct capture c;
        struct seen seen = {};
        struct pst_dcerpc_counters cnt;
        struct pst_dcerpc_ept_map m;

        load("drsuapi", &c); /* a member server has no DRSUAPI: ept_s_not_registered */
        assert_int_equal(feed(c.data, c.len, c.len, &seen, &cnt), 0);
        assert_int_equal(seen.calls, 0);
        assert_int_equal(cnt.replies, 1);
        assert_int_equal(cnt.faults, 1);
        assert_int_equal(cnt.towers, 0);
        assert_int_equal(cnt.unparsed, 0);
        assert_int_equal(pst_dcerpc_parse_ept_map(c.data + c.bind_ack_len + 24, c.len - c.bind_ack_len - 24, true,
                                                  PST_DCERPC_SYNTAX_UNKNOWN, &m),
                         0);
        assert_int_equal(m.status, 0x16c9a0d6);
        assert_int_equal(m.n_towers, 0);
        free(c.data);
}

/* ---- a small NDR writer for the cases Samba does not produce ---- */

struct wb {
        uint8_t b[4096];
        size_t len;
        bool le;
};

static void put(struct wb *w, size_t n, uint64_t v, size_t align) {
        while (w->len % align)
                w->b[w->len++] = 0;
        for (size_t i = 0; i < n; i++)
                w->b[w->len + i] = (uint8_t) (v >> (8 * (w->le ? i : n - 1 - i)));
        w->len += n;
}

static void put_bytes(struct wb *w, const void *p, size_t n) {
        memcpy(w->b + w->len, p, n);
        w->len += n;
}

/* ept_map's out parameters with the given towers (NULL = a null pointer). */
static void ept_map_stub(struct wb *w, bool ndr64, const uint8_t *const *towers, const size_t *lens, size_t n,
                         uint32_t status) {
        size_t p = ndr64 ? 8 : 4;
        size_t present = 0;

        put_bytes(w, (uint8_t[20]) {}, 20);
        put(w, 4, n, 4);
        put(w, p, n, p);
        put(w, p, 0, p);
        put(w, p, n, p);
        for (size_t i = 0; i < n; i++)
                put(w, p, towers[i] ? ++present + 2 : 0, p);
        for (size_t i = 0; i < n; i++) {
                if (!towers[i])
                        continue;
                put(w, p, lens[i], p);
                put(w, 4, lens[i], 4);
                put_bytes(w, towers[i], lens[i]);
        }
        put(w, 4, status, 4);
}

static void pdu(struct wb *w, bool le, uint8_t ptype, uint8_t flags, uint32_t call_id, const uint8_t *stub,
                size_t n) {
        size_t start = w->len;

        w->le = le;
        put_bytes(w, (uint8_t[]) { 5, 0, ptype, flags, le ? 0x10 : 0, 0, 0, 0 }, 8);
        put(w, 2, 24 + n, 1);
        put(w, 2, 0, 1);
        put(w, 4, call_id, 1);
        put(w, 4, n, 1);
        put(w, 4, 0, 1); /* context id, cancel count, reserved */
        put_bytes(w, stub, n);
        assert_int_equal(w->len - start, 24 + n);
}

static const uint8_t *real_tower(const struct capture *c, size_t *ret_len) {
        *ret_len = 75;
        return c->data + c->bind_ack_len + 72;
}

static void test_writer_is_samba(void **state) {
        struct capture c;
        struct wb w = { .le = true };
        size_t tl;
        const uint8_t *t;

        load("lsarpc", &c);
        t = real_tower(&c, &tl);
        ept_map_stub(&w, false, &t, &tl, 1, 0);
        assert_int_equal(w.len, c.len - c.bind_ack_len - 24);
        /* Samba's referent id is 3, ours is present + 2 = 3 as well */
        assert_memory_equal(w.b, c.data + c.bind_ack_len + 24, w.len);
        free(c.data);
}

/* Samba's tower with another port; with tcp false floor 4 is a named pipe (0x10). */
static size_t make_tower(const struct capture *c, uint16_t port, bool tcp, uint8_t *out) {
        size_t tl;
        const uint8_t *t = real_tower(c, &tl);

        memcpy(out, t, tl);
        out[64] = port >> 8; /* floor 4's rhs */
        out[65] = port & 0xff;
        if (!tcp)
                out[61] = 0x10; /* floor 4's protocol: named pipe */
        return tl;
}

static void test_multi_tower(void **state) {
        struct capture c;
        uint8_t t[4][75];
        const uint8_t *towers[5];
        size_t lens[5];
        struct pst_dcerpc_ept_map m;

        load("lsarpc", &c);
        for (size_t i = 0; i < 4; i++) {
                lens[i] = make_tower(&c, 50000 + i, i != 2, t[i]);
                towers[i] = t[i];
        }
        towers[4] = NULL;
        lens[4] = 0;
        for (int ndr64 = 0; ndr64 <= 1; ndr64++) {
                struct wb w = { .le = true };

                ept_map_stub(&w, ndr64, towers, lens, 5, 0);
                assert_int_equal(pst_dcerpc_parse_ept_map(w.b, w.len, true, PST_DCERPC_SYNTAX_UNKNOWN, &m), 0);
                assert_int_equal(m.syntax, ndr64 ? PST_DCERPC_SYNTAX_NDR64 : PST_DCERPC_SYNTAX_NDR20);
                assert_int_equal(m.n_towers, 3);
                assert_int_equal(m.n_other, 1); /* the named-pipe tower */
                assert_int_equal(m.towers[0].port, 50000);
                assert_int_equal(m.towers[1].port, 50001);
                assert_int_equal(m.towers[2].port, 50003);
                /* the wrong syntax does not fit */
                assert_int_equal(pst_dcerpc_parse_ept_map(w.b, w.len, true,
                                                          ndr64 ? PST_DCERPC_SYNTAX_NDR20 : PST_DCERPC_SYNTAX_NDR64,
                                                          &m),
                                 -EBADMSG);
        }
        free(c.data);
}

static void test_tower_bound(void **state) {
        struct capture c;
        uint8_t t[PST_DCERPC_MAX_TOWERS + 3][75];
        const uint8_t *towers[PST_DCERPC_MAX_TOWERS + 3];
        size_t lens[PST_DCERPC_MAX_TOWERS + 3];
        struct wb w = { .le = true };
        struct pst_dcerpc_ept_map m;

        load("lsarpc", &c);
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                lens[i] = make_tower(&c, 50000 + i, true, t[i]);
                towers[i] = t[i];
        }
        ept_map_stub(&w, false, towers, lens, ELEMENTSOF(t), 0);
        assert_int_equal(pst_dcerpc_parse_ept_map(w.b, w.len, true, PST_DCERPC_SYNTAX_NDR20, &m), 0);
        assert_int_equal(m.n_towers, PST_DCERPC_MAX_TOWERS);
        assert_int_equal(m.n_other, 3);
        free(c.data);
}

/* bind_ack accepting NDR64 in context 0 (the layout of Samba's, syntax swapped) */
static void bind_ack_ndr64(const struct capture *c, struct wb *w) {
        static const uint8_t ndr64[16] = { 0x33, 0x05, 0x71, 0x71, 0xba, 0xbe, 0x37, 0x49,
                                           0x83, 0x19, 0xb5, 0xdb, 0xef, 0x9c, 0xcc, 0x36 };

        put_bytes(w, c->data, c->bind_ack_len);
        memcpy(w->b + 40, ndr64, 16);
        w->b[56] = 1;
}

static void test_fragments_and_ndr64(void **state) {
        struct capture c;
        size_t tl;
        const uint8_t *t;
        struct wb stub = { .le = true }, w = { .le = true };
        struct seen seen = {};
        struct pst_dcerpc_counters cnt;

        load("samr", &c);
        t = real_tower(&c, &tl);
        ept_map_stub(&stub, true, &t, &tl, 1, 0);
        bind_ack_ndr64(&c, &w);
        /* three fragments of one call, cut inside the tower */
        pdu(&w, true, PST_DCERPC_PT_RESPONSE, PST_DCERPC_PFC_FIRST_FRAG, 2, stub.b, 40);
        pdu(&w, true, PST_DCERPC_PT_RESPONSE, 0, 2, stub.b + 40, 50);
        pdu(&w, true, PST_DCERPC_PT_RESPONSE, PST_DCERPC_PFC_LAST_FRAG, 2, stub.b + 90, stub.len - 90);
        assert_int_equal(feed(w.b, w.len, 7, &seen, &cnt), 0);
        assert_int_equal(seen.calls, 1);
        assert_int_equal(seen.last.syntax, PST_DCERPC_SYNTAX_NDR64);
        assert_one_tower(&seen, "12345778-1234-abcd-ef00-0123456789ac", 1, 49153);
        assert_int_equal(cnt.pdus, 4);
        assert_int_equal(cnt.unparsed, 0);

        /* a middle fragment of another call: the call is dropped, nothing opens */
        w.len = 0;
        pdu(&w, true, PST_DCERPC_PT_RESPONSE, PST_DCERPC_PFC_FIRST_FRAG, 2, stub.b, 40);
        pdu(&w, true, PST_DCERPC_PT_RESPONSE, PST_DCERPC_PFC_LAST_FRAG, 3, stub.b + 40, stub.len - 40);
        seen.calls = 0;
        assert_int_equal(feed(w.b, w.len, w.len, &seen, &cnt), 0);
        assert_int_equal(seen.calls, 0);
        assert_int_equal(cnt.unparsed, 1);
        free(c.data);
}

static void test_impacket_ndr64(void **state) {
        _cleanup_free_ char *buf = NULL;
        size_t size;
        struct pst_dcerpc_ept_map m;
        char u[PST_DCERPC_UUID_STRLEN];

        load_file("impacket010-samr-ndr64.stub", &buf, &size);
        assert_int_equal(size, 148);
        for (int syn = PST_DCERPC_SYNTAX_UNKNOWN; syn <= PST_DCERPC_SYNTAX_NDR64; syn += 2) {
                assert_int_equal(pst_dcerpc_parse_ept_map((uint8_t *) buf, size, true, syn, &m), 0);
                assert_int_equal(m.syntax, PST_DCERPC_SYNTAX_NDR64);
                assert_int_equal(m.n_towers, 1);
                assert_int_equal(m.towers[0].port, 49153);
                assert_string_equal(pst_dcerpc_uuid_format(m.towers[0].if_uuid, u),
                                    "12345778-1234-abcd-ef00-0123456789ac");
        }
        assert_int_equal(pst_dcerpc_parse_ept_map((uint8_t *) buf, size, true, PST_DCERPC_SYNTAX_NDR20, &m),
                         -EBADMSG);

        /* our writer's NDR64 is impacket's, but for the referent id (48-55) and the padding byte (143) */
        struct capture c;
        struct wb w = { .le = true };
        size_t tl;
        const uint8_t *t;

        load("samr", &c);
        t = real_tower(&c, &tl);
        ept_map_stub(&w, true, &t, &tl, 1, 0);
        assert_int_equal(w.len, size);
        assert_memory_equal(w.b, buf, 48);
        assert_memory_equal(w.b + 56, buf + 56, 143 - 56);
        assert_memory_equal(w.b + 144, buf + 144, 4);
        free(c.data);
}

static void test_big_endian(void **state) {
        struct capture c;
        size_t tl;
        const uint8_t *t;
        struct wb stub = { .le = false }, w = {};
        struct seen seen = {};
        struct pst_dcerpc_counters cnt;

        load("winreg", &c);
        t = real_tower(&c, &tl);
        ept_map_stub(&stub, false, &t, &tl, 1, 0);
        pdu(&w, false, PST_DCERPC_PT_RESPONSE, PST_DCERPC_PFC_FIRST_FRAG | PST_DCERPC_PFC_LAST_FRAG, 9, stub.b,
            stub.len);
        assert_int_equal(feed(w.b, w.len, 5, &seen, &cnt), 0);
        assert_int_equal(seen.calls, 1);
        /* the tower stays little-endian whatever the data representation */
        assert_one_tower(&seen, "338cd001-2244-31f1-aaaa-900038001003", 1, 49152);
        free(c.data);
}

static void test_refused(void **state) {
        struct capture c;
        struct seen seen = {};
        struct pst_dcerpc_counters cnt;
        uint8_t *resp;

        load("lsarpc", &c);
        resp = c.data + c.bind_ack_len;
        resp[10] = 16; /* auth_length: an auth-protected reply */
        assert_int_equal(feed(c.data, c.len, c.len, &seen, &cnt), 0);
        assert_int_equal(seen.calls, 0);
        assert_int_equal(cnt.unparsed, 1);
        resp[10] = 0;
        resp[24 + 20] = 2; /* num_towers 2, one tower in the array */
        assert_int_equal(feed(c.data, c.len, c.len, &seen, &cnt), 0);
        assert_int_equal(seen.calls, 0);
        assert_int_equal(cnt.unparsed, 1);
        resp[24 + 20] = 1;
        resp[72 + 29] = 0x0e; /* floor 2's protocol no longer a UUID */
        assert_int_equal(feed(c.data, c.len, c.len, &seen, &cnt), 0);
        assert_int_equal(cnt.unparsed, 1);
        c.data[0] = 4; /* not DCE/RPC 5: the stream is lost for good */
        assert_int_equal(feed(c.data, c.len, 3, &seen, &cnt), -EBADMSG);
        assert_int_equal(cnt.unparsed, 1);
        assert_int_equal(cnt.pdus, 0);
        assert_int_equal(seen.calls, 0);
        free(c.data);
}

/* Every prefix of a real stub, and every single-byte change, parses or fails cleanly (ASan watches). */
static void test_truncated_and_flipped(void **state) {
        struct capture c;
        const uint8_t *stub;
        size_t n;
        struct pst_dcerpc_ept_map m;

        load("srvsvc", &c);
        stub = c.data + c.bind_ack_len + 24;
        n = c.len - c.bind_ack_len - 24;
        for (size_t len = 0; len < n; len++) {
                _cleanup_free_ uint8_t *copy = malloc(len ? len : 1);

                memcpy(copy, stub, len);
                assert_int_equal(pst_dcerpc_parse_ept_map(copy, len, true, PST_DCERPC_SYNTAX_UNKNOWN, &m), -EBADMSG);
        }
        for (size_t at = 0; at < n; at++) {
                _cleanup_free_ uint8_t *copy = malloc(n);

                memcpy(copy, stub, n);
                copy[at] ^= 0xa5;
                (void) pst_dcerpc_parse_ept_map(copy, n, true, PST_DCERPC_SYNTAX_UNKNOWN, &m);
                assert_true(m.n_towers <= PST_DCERPC_MAX_TOWERS);
        }
        free(c.data);
}

static void test_uuid(void **state) {
        uint8_t u[16];
        char buf[PST_DCERPC_UUID_STRLEN];

        assert_int_equal(pst_dcerpc_uuid_parse("A4F1DB00-CA47-1067-B31F-00DD010662DA", u), 0);
        assert_string_equal(pst_dcerpc_uuid_format(u, buf), "a4f1db00-ca47-1067-b31f-00dd010662da");
        assert_int_equal(pst_dcerpc_uuid_parse("a4f1db00-ca47-1067-b31f-00dd010662d", u), -EINVAL);
        assert_int_equal(pst_dcerpc_uuid_parse("a4f1db00-ca47-1067-b31f-00dd010662dax", u), -EINVAL);
        assert_int_equal(pst_dcerpc_uuid_parse("a4f1db00ca47-1067-b31f-00dd010662da0", u), -EINVAL);
        assert_int_equal(pst_dcerpc_uuid_parse("g4f1db00-ca47-1067-b31f-00dd010662da", u), -EINVAL);
        assert_int_equal(pst_dcerpc_uuid_parse("", u), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_samba_replies),     cmocka_unit_test(test_samba_not_registered),
                cmocka_unit_test(test_writer_is_samba),   cmocka_unit_test(test_multi_tower),
                cmocka_unit_test(test_tower_bound),       cmocka_unit_test(test_fragments_and_ndr64),
                cmocka_unit_test(test_big_endian),        cmocka_unit_test(test_refused),
                cmocka_unit_test(test_impacket_ndr64),
                cmocka_unit_test(test_truncated_and_flipped), cmocka_unit_test(test_uuid),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
