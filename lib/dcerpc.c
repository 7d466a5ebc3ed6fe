/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * DCE/RPC endpoint-mapper replies → TCP ports (see dcerpc.h).
 *
 * All reads go through struct rd, which checks the remaining length before
 * every access and latches an error: a short or hostile buffer makes the
 * whole parse fail, never read past its end.  NDR alignment is relative to
 * the start of the stub (C706 14.2.2), which the 24-byte response header
 * keeps 8-aligned within the PDU.
 */
#include <ctype.h>

#include "dcerpc.h"

struct rd {
        const uint8_t *p;
        size_t len, off;
        bool le;
        bool err;
};

static bool rd_need(struct rd *r, size_t n) {
        if (r->err || r->off > r->len || r->len - r->off < n) {
                r->err = true;
                return false;
        }
        return true;
}

static void rd_align(struct rd *r, size_t a) {
        size_t pad = (a - r->off % a) % a;

        if (rd_need(r, pad))
                r->off += pad;
}

static const uint8_t *rd_bytes(struct rd *r, size_t n) {
        const uint8_t *b;

        if (!rd_need(r, n))
                return NULL;
        b = r->p + r->off;
        r->off += n;
        return b;
}

static uint64_t rd_uint(struct rd *r, size_t n) {
        const uint8_t *b = rd_bytes(r, n);
        uint64_t v = 0;

        if (!b)
                return 0;
        for (size_t i = 0; i < n; i++)
                v |= (uint64_t) b[r->le ? i : n - 1 - i] << (8 * i);
        return v;
}

/* An NDR integer of size n, aligned to n (NDR20 and NDR64 both align primitives to their size). */
static uint64_t rd_ndr(struct rd *r, size_t n) {
        rd_align(r, n);
        return rd_uint(r, n);
}

/* GUID fields data1..data3 are integers in the given byte order; RFC 4122 order is big-endian. */
static void guid_to_rfc(const uint8_t *g, bool le, uint8_t ret[16]) {
        static const uint8_t le_order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };

        for (size_t i = 0; i < 16; i++)
                ret[i] = g[le ? le_order[i] : i];
}

int pst_dcerpc_parse_header(const uint8_t *buf, size_t len, struct pst_dcerpc_hdr *ret) {
        struct rd r = { .p = buf, .len = len };
        struct pst_dcerpc_hdr h = {};

        if (len < PST_DCERPC_HDR_LEN)
                return -EAGAIN;
        if (buf[0] != 5 || buf[1] != 0 || (buf[4] & 0xe0) != 0 || (buf[4] & 0x0f) != 0)
                return -EBADMSG; /* version 5.0, ASCII, and a byte order we know */
        h.ptype = buf[2];
        h.flags = buf[3];
        h.little_endian = buf[4] & 0x10;
        r.le = h.little_endian;
        r.off = 8;
        h.frag_length = rd_uint(&r, 2);
        h.auth_length = rd_uint(&r, 2);
        h.call_id = rd_uint(&r, 4);
        if (h.frag_length < PST_DCERPC_HDR_LEN)
                return -EBADMSG;
        *ret = h;
        return 0;
}

int pst_dcerpc_uuid_parse(const char *s, uint8_t ret[16]) {
        uint8_t u[16];
        size_t n = 0;

        if (strlen(s) != PST_DCERPC_UUID_STRLEN - 1)
                return -EINVAL;
        for (size_t i = 0; s[i]; i++) {
                int hi, lo;

                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (s[i] != '-')
                                return -EINVAL;
                        continue;
                }
                hi = (unsigned char) s[i];
                lo = (unsigned char) s[++i];
                if (!lo || !isxdigit(hi) || !isxdigit(lo) || i == 8 || i == 13 || i == 18 || i == 23)
                        return -EINVAL;
                hi = isdigit(hi) ? hi - '0' : tolower(hi) - 'a' + 10;
                lo = isdigit(lo) ? lo - '0' : tolower(lo) - 'a' + 10;
                u[n++] = (uint8_t) (hi << 4 | lo);
        }
        if (n != 16)
                return -EINVAL;
        memcpy(ret, u, 16);
        return 0;
}

const char *pst_dcerpc_uuid_format(const uint8_t u[16], char buf[PST_DCERPC_UUID_STRLEN]) {
        snprintf(buf, PST_DCERPC_UUID_STRLEN,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3],
                 u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
        return buf;
}

struct floor {
        const uint8_t *lhs, *rhs;
        uint16_t lhs_len, rhs_len;
};

/* Protocol identifiers of tower floors (C706 appendix I). */
enum {
        FLOOR_UUID = 0x0d,
        FLOOR_NCACN = 0x0b,
        FLOOR_TCP = 0x07,
        FLOOR_IP = 0x09,
};

static bool floor_is_uuid(const struct floor *f) {
        return f->lhs_len == 19 && f->lhs[0] == FLOOR_UUID && f->rhs_len == 2;
}

static bool floor_is(const struct floor *f, uint8_t proto, uint16_t rhs_len) {
        return f->lhs_len == 1 && f->lhs[0] == proto && f->rhs_len == rhs_len;
}

/* Tower octet strings are little-endian whatever the PDU's data representation (C706 appendix L). */
int pst_dcerpc_parse_tower(const uint8_t *tw, size_t len, struct pst_dcerpc_tower *ret) {
        struct rd r = { .p = tw, .len = len, .le = true };
        struct floor fl[PST_DCERPC_MAX_FLOORS];
        struct pst_dcerpc_tower t = {};
        size_t n = rd_uint(&r, 2);

        if (r.err || n < 4 || n > PST_DCERPC_MAX_FLOORS)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++) {
                fl[i].lhs_len = rd_uint(&r, 2);
                fl[i].lhs = rd_bytes(&r, fl[i].lhs_len);
                fl[i].rhs_len = rd_uint(&r, 2);
                fl[i].rhs = rd_bytes(&r, fl[i].rhs_len);
                if (r.err || fl[i].lhs_len < 1)
                        return -EBADMSG;
        }
        if (r.off != len || !floor_is_uuid(&fl[0]) || !floor_is_uuid(&fl[1]))
                return -EBADMSG;
        if (!floor_is(&fl[2], FLOOR_NCACN, 2) || !floor_is(&fl[3], FLOOR_TCP, 2))
                return -EPROTONOSUPPORT; /* datagram, named pipe, HTTP, local ... */
        guid_to_rfc(fl[0].lhs + 1, true, t.if_uuid);
        t.if_version_major = fl[0].lhs[17] | fl[0].lhs[18] << 8;
        t.if_version_minor = fl[0].rhs[0] | fl[0].rhs[1] << 8;
        t.port = fl[3].rhs[0] << 8 | fl[3].rhs[1];
        if (n > 4 && floor_is(&fl[4], FLOOR_IP, 4)) {
                t.has_ipv4 = true;
                memcpy(t.ipv4, fl[4].rhs, 4);
        }
        if (t.port == 0)
                return -EPROTONOSUPPORT; /* "not registered" answers can carry an empty tower */
        *ret = t;
        return 0;
}

/* One deferred twr_t: conformance, tower_length, octets (NDR64: 8-byte conformance). */
static int parse_twr(struct rd *r, bool ndr64, struct pst_dcerpc_ept_map *m) {
        uint64_t conformance = rd_ndr(r, ndr64 ? 8 : 4);
        uint64_t tower_length = rd_ndr(r, 4);
        const uint8_t *octets;
        struct pst_dcerpc_tower t;
        int k;

        if (r->err || conformance != tower_length)
                return -EBADMSG;
        octets = rd_bytes(r, tower_length);
        if (!octets)
                return -EBADMSG;
        k = pst_dcerpc_parse_tower(octets, tower_length, &t);
        if (k == -EPROTONOSUPPORT || (k == 0 && m->n_towers >= PST_DCERPC_MAX_TOWERS)) {
                m->n_other++;
                return 0;
        }
        if (k < 0)
                return k;
        m->towers[m->n_towers++] = t;
        return 0;
}

/*
 * ept_map's out parameters: entry_handle (20 bytes), num_towers, then towers
 * as a conformant varying array of unique pointers to twr_t, pointees after
 * the array, then the status.
 */
static int parse_ept_map_as(struct rd r, bool ndr64, struct pst_dcerpc_ept_map *ret) {
        size_t w = ndr64 ? 8 : 4;
        struct pst_dcerpc_ept_map m = { .syntax = ndr64 ? PST_DCERPC_SYNTAX_NDR64 : PST_DCERPC_SYNTAX_NDR20 };
        uint64_t num_towers, max_count, offset, actual, present = 0;
        size_t trailing;

        (void) rd_bytes(&r, 20);
        num_towers = rd_ndr(&r, 4);
        max_count = rd_ndr(&r, w);
        offset = rd_ndr(&r, w);
        actual = rd_ndr(&r, w);
        if (r.err || offset != 0 || actual != num_towers || actual > max_count || actual > (r.len - r.off) / w)
                return -EBADMSG;
        for (uint64_t i = 0; i < actual; i++)
                present += rd_ndr(&r, w) != 0;
        for (uint64_t i = 0; i < present; i++)
                if (parse_twr(&r, ndr64, &m) < 0)
                        return -EBADMSG;
        m.status = rd_ndr(&r, 4);
        if (r.err)
                return -EBADMSG;
        /* a sender may pad the stub to 8; anything more is another layout */
        trailing = r.len - r.off;
        if (trailing >= 8)
                return -EBADMSG;
        for (size_t i = 0; i < trailing; i++)
                if (r.p[r.off + i])
                        return -EBADMSG;
        *ret = m;
        return 0;
}

int pst_dcerpc_parse_ept_map(const uint8_t *stub, size_t len, bool little_endian, enum pst_dcerpc_syntax syntax,
                             struct pst_dcerpc_ept_map *ret) {
        struct rd r = { .p = stub, .len = len, .le = little_endian };
        struct pst_dcerpc_ept_map a, b;
        bool ok20 = false, ok64 = false;

        if (syntax != PST_DCERPC_SYNTAX_NDR64)
                ok20 = parse_ept_map_as(r, false, &a) == 0;
        if (syntax != PST_DCERPC_SYNTAX_NDR20)
                ok64 = parse_ept_map_as(r, true, &b) == 0;
        if (ok20 == ok64)
                return -EBADMSG; /* neither fits, or both do and we cannot tell which was meant */
        *ret = ok20 ? a : b;
        return 0;
}

/* ---- the stream of one endpoint-mapper connection ---- */

struct pst_dcerpc_stream {
        struct pst_dcerpc_counters c;
        bool broken;
        enum pst_dcerpc_syntax syntax; /* from the last bind_ack / alter_context_resp */
        bool in_call;
        bool call_le;
        uint32_t call_id;
        size_t stub_len;
        size_t pdu_len;
        uint8_t pdu[UINT16_MAX];
        uint8_t stub[PST_DCERPC_STUB_MAX];
};

int pst_dcerpc_stream_new(struct pst_dcerpc_stream **ret) {
        struct pst_dcerpc_stream *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

struct pst_dcerpc_stream *pst_dcerpc_stream_free(struct pst_dcerpc_stream *s) {
        free(s);
        return NULL;
}

const struct pst_dcerpc_counters *pst_dcerpc_stream_counters(const struct pst_dcerpc_stream *s) {
        return &s->c;
}

static const char ndr20_uuid[] = "8a885d04-1ceb-11c9-9fe8-08002b104860";
static const char ndr64_uuid[] = "71710533-beba-4937-8319-b5dbef9ccc36";

/* bind_ack / alter_context_resp: which transfer syntax did the server accept? */
static enum pst_dcerpc_syntax parse_bind_ack(const uint8_t *pdu, size_t len, const struct pst_dcerpc_hdr *h) {
        struct rd r = { .p = pdu, .len = len, .le = h->little_endian, .off = 24 };
        enum pst_dcerpc_syntax found = PST_DCERPC_SYNTAX_UNKNOWN;
        uint8_t ndr20[16], ndr64[16];
        size_t n;

        if (len < 26)
                return PST_DCERPC_SYNTAX_UNKNOWN;
        (void) rd_bytes(&r, rd_uint(&r, 2)); /* secondary address */
        rd_align(&r, 4);
        n = rd_uint(&r, 1);
        (void) rd_bytes(&r, 3);
        (void) pst_dcerpc_uuid_parse(ndr20_uuid, ndr20);
        (void) pst_dcerpc_uuid_parse(ndr64_uuid, ndr64);
        for (size_t i = 0; i < n && !r.err; i++) {
                uint64_t result = rd_uint(&r, 2);
                const uint8_t *g;
                uint8_t u[16];
                enum pst_dcerpc_syntax s = PST_DCERPC_SYNTAX_UNKNOWN;

                (void) rd_bytes(&r, 2); /* reason */
                g = rd_bytes(&r, 16);
                (void) rd_bytes(&r, 4); /* syntax version */
                if (!g || result != 0)
                        continue;
                guid_to_rfc(g, h->little_endian, u);
                if (!memcmp(u, ndr20, 16))
                        s = PST_DCERPC_SYNTAX_NDR20;
                else if (!memcmp(u, ndr64, 16))
                        s = PST_DCERPC_SYNTAX_NDR64;
                if (found != PST_DCERPC_SYNTAX_UNKNOWN && found != s)
                        return PST_DCERPC_SYNTAX_UNKNOWN; /* both accepted: decide per reply */
                found = s;
        }
        return r.err ? PST_DCERPC_SYNTAX_UNKNOWN : found;
}

static void call_done(struct pst_dcerpc_stream *s, pst_dcerpc_reply_cb cb, void *userdata) {
        struct pst_dcerpc_ept_map m;

        s->in_call = false;
        if (pst_dcerpc_parse_ept_map(s->stub, s->stub_len, s->call_le, s->syntax, &m) < 0) {
                s->c.unparsed++;
                return;
        }
        s->c.replies++;
        if (m.status != 0) {
                s->c.faults++;
                return;
        }
        s->c.towers += m.n_towers;
        if (cb && m.n_towers > 0)
                cb(&m, userdata);
}

static void handle_response(struct pst_dcerpc_stream *s, const struct pst_dcerpc_hdr *h, pst_dcerpc_reply_cb cb,
                            void *userdata) {
        size_t n = h->frag_length - PST_DCERPC_RESPONSE_HDR_LEN;

        if (h->flags & PST_DCERPC_PFC_FIRST_FRAG) {
                if (s->in_call)
                        s->c.unparsed++; /* the previous call never got its last fragment */
                s->in_call = true;
                s->call_id = h->call_id;
                s->call_le = h->little_endian;
                s->stub_len = 0;
        } else if (!s->in_call || s->call_id != h->call_id || s->call_le != h->little_endian) {
                s->in_call = false;
                s->c.unparsed++;
                return;
        }
        if (n > sizeof(s->stub) - s->stub_len) {
                s->in_call = false;
                s->c.unparsed++;
                return;
        }
        memcpy(s->stub + s->stub_len, s->pdu + PST_DCERPC_RESPONSE_HDR_LEN, n);
        s->stub_len += n;
        if (h->flags & PST_DCERPC_PFC_LAST_FRAG)
                call_done(s, cb, userdata);
}

static void handle_pdu(struct pst_dcerpc_stream *s, const struct pst_dcerpc_hdr *h, pst_dcerpc_reply_cb cb,
                       void *userdata) {
        s->c.pdus++;
        switch (h->ptype) {
        case PST_DCERPC_PT_BIND_ACK:
        case PST_DCERPC_PT_ALTER_CONTEXT_RESP:
                s->syntax = parse_bind_ack(s->pdu, h->frag_length, h);
                break;
        case PST_DCERPC_PT_RESPONSE:
                /* auth-protected replies: the stub's end is not where frag_length says */
                if (h->auth_length != 0 || h->frag_length < PST_DCERPC_RESPONSE_HDR_LEN) {
                        s->in_call = false;
                        s->c.unparsed++;
                        break;
                }
                handle_response(s, h, cb, userdata);
                break;
        case PST_DCERPC_PT_FAULT:
                s->in_call = false;
                s->c.faults++;
                break;
        default:
                break; /* bind_nak, shutdown, ...: nothing to open */
        }
}

int pst_dcerpc_stream_feed(struct pst_dcerpc_stream *s, const uint8_t *data, size_t len, pst_dcerpc_reply_cb cb,
                           void *userdata) {
        while (!s->broken) {
                struct pst_dcerpc_hdr h;
                int k = pst_dcerpc_parse_header(s->pdu, s->pdu_len, &h);
                size_t need, take;

                if (k == -EBADMSG) {
                        /* lost the PDU boundaries: nothing after this can be trusted */
                        s->broken = true;
                        s->c.unparsed++;
                        break;
                }
                if (k == 0 && s->pdu_len == h.frag_length) {
                        handle_pdu(s, &h, cb, userdata);
                        s->pdu_len = 0;
                        continue;
                }
                if (len == 0)
                        break;
                need = k == 0 ? h.frag_length : PST_DCERPC_HDR_LEN;
                take = MIN(need - s->pdu_len, len);
                memcpy(s->pdu + s->pdu_len, data, take);
                s->pdu_len += take;
                data += take;
                len -= take;
        }
        return s->broken ? -EBADMSG : 0;
}
