/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * DCE/RPC (connection-oriented, ncacn_ip_tcp) as far as an endpoint-mapper
 * pinhole needs it: the endpoint mapper's replies on TCP 135, reassembled
 * from TCP segments and RPC fragments, and the ept_map response's towers
 * (C706 appendix L and I; MS-RPCE 2.2.4 for NDR64), reduced to the TCP ports
 * they hand out.
 *
 * Everything is bounded: a PDU is at most 65535 bytes (frag_length is 16
 * bits), a reassembled stub at most PST_DCERPC_STUB_MAX, a reply yields at
 * most PST_DCERPC_MAX_TOWERS towers.  Nothing reads past the bytes given.
 * Whatever does not have the expected shape (auth-protected PDUs, other
 * calls' responses, unknown layouts) yields nothing and is counted as
 * unparsed; it never opens a port.
 */

#include "util.h"

#define PST_DCERPC_EPMAP_PORT 135
#define PST_DCERPC_HDR_LEN 16
#define PST_DCERPC_RESPONSE_HDR_LEN 24
#define PST_DCERPC_STUB_MAX (64 * 1024)
#define PST_DCERPC_MAX_TOWERS 16
#define PST_DCERPC_MAX_FLOORS 8
#define PST_DCERPC_MAX_CONTEXTS 8
#define PST_DCERPC_UUID_STRLEN 37

/* packet types (C706 12.6.4.1) */
enum {
        PST_DCERPC_PT_REQUEST = 0,
        PST_DCERPC_PT_RESPONSE = 2,
        PST_DCERPC_PT_FAULT = 3,
        PST_DCERPC_PT_BIND = 11,
        PST_DCERPC_PT_BIND_ACK = 12,
        PST_DCERPC_PT_BIND_NAK = 13,
        PST_DCERPC_PT_ALTER_CONTEXT_RESP = 15,
};

#define PST_DCERPC_PFC_FIRST_FRAG 0x01
#define PST_DCERPC_PFC_LAST_FRAG 0x02

enum pst_dcerpc_syntax {
        PST_DCERPC_SYNTAX_UNKNOWN = 0, /* try both, accept the one that fits */
        PST_DCERPC_SYNTAX_NDR20,
        PST_DCERPC_SYNTAX_NDR64,
};

struct pst_dcerpc_hdr {
        uint8_t ptype;
        uint8_t flags;
        bool little_endian; /* data representation: integers in NDR */
        uint16_t frag_length;
        uint16_t auth_length;
        uint32_t call_id;
};

/* One tower of an ept_map reply that names a TCP port (ncacn_ip_tcp). */
struct pst_dcerpc_tower {
        uint8_t if_uuid[16]; /* RFC 4122 byte order, as pst_dcerpc_uuid_parse() gives it */
        uint16_t if_version_major;
        uint16_t if_version_minor;
        uint16_t port; /* host byte order */
        bool has_ipv4;
        uint8_t ipv4[4]; /* floor 5 as sent: informational, never used as the pinhole's address */
};

struct pst_dcerpc_ept_map {
        enum pst_dcerpc_syntax syntax;
        uint32_t status; /* 0 = towers found; anything else opens nothing */
        size_t n_towers; /* TCP towers kept in towers[] */
        size_t n_other;  /* well-formed towers for other transports, or beyond the bound */
        struct pst_dcerpc_tower towers[PST_DCERPC_MAX_TOWERS];
};

/* Counters of one stream (or summed over many by the caller). */
struct pst_dcerpc_counters {
        uint64_t pdus;      /* complete PDUs seen */
        uint64_t replies;   /* ept_map replies parsed */
        uint64_t towers;    /* TCP towers handed to the caller */
        uint64_t faults;    /* fault PDUs and ept_map replies with status != 0 */
        uint64_t unparsed;  /* auth-protected, unexpected layout, oversize, broken stream */
};

/* Parse a PDU's common header (16 bytes); -EBADMSG when it is not DCE/RPC 5.0. */
int pst_dcerpc_parse_header(const uint8_t *buf, size_t len, struct pst_dcerpc_hdr *ret);

/*
 * Parse the stub of an ept_map response (the bytes after the 24-byte response
 * header, fragments concatenated).  syntax UNKNOWN tries NDR20 and NDR64 and
 * accepts only a stub exactly one of them fits.  -EBADMSG on anything else.
 */
int pst_dcerpc_parse_ept_map(const uint8_t *stub, size_t len, bool little_endian, enum pst_dcerpc_syntax syntax,
                             struct pst_dcerpc_ept_map *ret);

/* Parse one tower octet string (floor count, floors); -EPROTONOSUPPORT for a non-TCP tower. */
int pst_dcerpc_parse_tower(const uint8_t *tw, size_t len, struct pst_dcerpc_tower *ret);

/* "e1af8308-5d1f-11c9-91a4-08002b14a0fa" ↔ 16 bytes in RFC 4122 order. */
int pst_dcerpc_uuid_parse(const char *s, uint8_t ret[16]);
const char *pst_dcerpc_uuid_format(const uint8_t uuid[16], char buf[PST_DCERPC_UUID_STRLEN]);

/*
 * The endpoint mapper's side of one TCP connection, fed with the payload of
 * its segments in sequence order (the caller drops retransmissions).  Keeps
 * the transfer syntaxes of bind_ack / alter_context_resp, reassembles
 * fragments and calls cb once per parsed ept_map reply.
 */
struct pst_dcerpc_stream;
typedef void (*pst_dcerpc_reply_cb)(const struct pst_dcerpc_ept_map *reply, void *userdata);

int pst_dcerpc_stream_new(struct pst_dcerpc_stream **ret);
struct pst_dcerpc_stream *pst_dcerpc_stream_free(struct pst_dcerpc_stream *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_dcerpc_stream *, pst_dcerpc_stream_free);

/* 0, or -EBADMSG once the stream cannot be followed any more (then it ignores the rest). */
int pst_dcerpc_stream_feed(struct pst_dcerpc_stream *s, const uint8_t *data, size_t len, pst_dcerpc_reply_cb cb,
                           void *userdata);
const struct pst_dcerpc_counters *pst_dcerpc_stream_counters(const struct pst_dcerpc_stream *s);
