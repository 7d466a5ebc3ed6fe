/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Addresses, networks and port ranges as the policy writes them. */

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define PST_ADDR_STRLEN 64 /* "ffff:...:ffff/128" and then some */

struct pst_addr {
        uint8_t family; /* AF_INET or AF_INET6 */
        uint8_t prefixlen;
        uint8_t a[16];  /* network byte order; IPv4 in the first 4 bytes */
};

static inline unsigned pst_addr_len(uint8_t family) {
        return family == AF_INET ? 4 : 16;
}

/*
 * Parse "198.18.0.5", "198.18.0.0/24", "2001:db8::/32".  Host bits set
 * below the prefix are refused (-EINVAL with *ret_hostbits = true and the
 * masked network in *ret) because "198.18.1.5/24" is almost always a typo.
 * A prefix length beyond 32 / 128 is -ERANGE.
 */
int pst_addr_parse(const char *s, struct pst_addr *ret, bool *ret_hostbits);
/* The first and last address of the network. */
void pst_addr_range(const struct pst_addr *a, uint8_t first[16], uint8_t last[16]);
/* "198.18.0.0/24", or without "/len" for a single host. */
const char *pst_addr_format(const struct pst_addr *a, char buf[PST_ADDR_STRLEN]);

struct pst_portrange {
        uint16_t first, last;
};

/* If [first, last] (len bytes each, network byte order) is one prefix —
 * equal in the first plen bits, first all zeroes and last all ones after —
 * its plen; else -1.  For addresses and interface-name ranges alike. */
int pst_range_prefix(const uint8_t *first, const uint8_t *last, unsigned len);

/* "25", "1024-2000"; ports 1..65535, first <= last. */
int pst_portrange_parse(const char *s, struct pst_portrange *ret);

/* Interface names: 1..15 bytes, no '/', no whitespace, not "." or "..";
 * a trailing '+' or '*' makes it a prefix wildcard (stored with '*'). */
int pst_ifname_parse(const char *s, char ret[16], bool *ret_wildcard);
