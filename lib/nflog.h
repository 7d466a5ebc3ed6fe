/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * NFLOG: packets a rule hands to userspace over NETLINK_NETFILTER
 * (NFNL_SUBSYS_ULOG).  One reader serves any number of groups: it binds each
 * group it is asked for on one socket and hands every packet to one callback
 * with the group it came from, so other features (RPC pinholes) can take
 * their own group next to ours.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "util.h"

/* The group that options.log_drops logs to.  Spelled here only. */
#define PST_NFLOG_GROUP_DROPS 5016
/* Bytes of each packet the kernel copies: an IPv6 header with a few
 * extension bytes and the transport header's ports fit; payload never. */
#define PST_NFLOG_SNAPLEN 128
#define PST_NFLOG_GROUPS_MAX 8

struct pst_nflog_pkt {
        uint16_t group;
        uint8_t hook;             /* NF_INET_LOCAL_IN, NF_INET_FORWARD ... */
        uint8_t family;           /* AF_INET, AF_INET6; 0 when the payload is not IP */
        uint8_t l4proto;          /* IPPROTO_TCP ... */
        uint16_t sport, dport;    /* host byte order; 0 when the protocol has none */
        struct pst_addr saddr, daddr;
        uint32_t indev;           /* ifindex, 0 = none */
        char prefix[128];
};

/*
 * Parse one NFULNL_MSG_PACKET message (header included).  -EBADMSG when it
 * is malformed, -ENOMSG when it is no packet message.
 */
int pst_nflog_parse(const void *nlmsg, size_t len, struct pst_nflog_pkt *ret);
/* Parse an IPv4/IPv6 packet's addresses and ports into pkt (family, l4proto,
 * saddr, daddr, sport, dport).  -EBADMSG on a truncated or unknown header. */
int pst_nflog_parse_ip(const uint8_t *p, size_t len, struct pst_nflog_pkt *pkt);

/* mnl_attr_parse() callback: data is a table of NFULA_MAX + 1 attributes
 * (the reply reader, rpc-reader.c, parses its messages with it too). */
struct nlattr;
int pst_nflog_attr_cb(const struct nlattr *a, void *data);

struct pst_nflog;
typedef void (*pst_nflog_cb)(const struct pst_nflog_pkt *pkt, void *userdata);

/* Open a socket; bind groups with pst_nflog_bind().  */
int pst_nflog_open(struct pst_nflog **ret);
/* Bind group (copy mode packet, PST_NFLOG_SNAPLEN bytes, queue threshold 1).
 * -EBUSY when another process holds the group. */
int pst_nflog_bind(struct pst_nflog *nl, uint16_t group);
int pst_nflog_fd(const struct pst_nflog *nl);
/* Read what is waiting (non-blocking) and call cb per packet.  Returns the
 * number of packets, or a negative errno; -ENOBUFS (the kernel dropped some
 * because we were slow) is counted in *ret_lost and is not an error. */
int pst_nflog_read(struct pst_nflog *nl, pst_nflog_cb cb, void *userdata, uint64_t *ret_lost);
void pst_nflog_close(struct pst_nflog *nl);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_nflog *, pst_nflog_close);
