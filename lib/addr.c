/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <ctype.h>
#include <net/if.h>

#include "addr.h"
#include "util.h"

/*
 * The common case of list files, "a.b.c.d" or "a.b.c.d/n" in the strict
 * form inet_pton() accepts (1-3 digits per byte, no leading zero, each
 * <= 255; a prefix of 1-2 digits): parsed here in one pass.  Anything else
 * returns false and takes the general path, so the results are the same.
 */
static bool parse_ipv4_fast(const char *s, struct pst_addr *a, unsigned *ret_plen) {
        for (int i = 0; i < 4; i++) {
                unsigned v = 0, d = 0;

                while (*s >= '0' && *s <= '9' && d < 3) {
                        if (d == 1 && v == 0)
                                return false; /* leading zero */
                        v = v * 10 + (unsigned) (*s++ - '0');
                        d++;
                }
                if (d == 0 || v > 255 || (i < 3 && *s++ != '.'))
                        return false;
                a->a[i] = (uint8_t) v;
        }
        *ret_plen = 32;
        if (*s == '/') {
                unsigned v = 0, d = 0;

                s++;
                while (*s >= '0' && *s <= '9' && d < 2) {
                        v = v * 10 + (unsigned) (*s++ - '0');
                        d++;
                }
                if (d == 0 || v > 32)
                        return false;
                *ret_plen = v;
        }
        if (*s)
                return false;
        a->family = AF_INET;
        return true;
}

int pst_addr_parse(const char *s, struct pst_addr *ret, bool *ret_hostbits) {
        char buf[PST_ADDR_STRLEN];
        struct pst_addr a = {};
        const char *slash = NULL;
        unsigned max, plen;
        bool hostbits = false;

        if (ret_hostbits)
                *ret_hostbits = false;
        if (parse_ipv4_fast(s, &a, &plen)) {
                max = 32;
                goto prefix_done;
        }
        if (strcpy_bounded(buf, sizeof(buf), s) < 0)
                return -EINVAL;
        slash = strchr(s, '/');
        if (slash)
                buf[slash - s] = 0;

        if (inet_pton(AF_INET, buf, a.a) == 1)
                a.family = AF_INET;
        else if (inet_pton(AF_INET6, buf, a.a) == 1)
                a.family = AF_INET6;
        else
                return -EINVAL;

        max = a.family == AF_INET ? 32 : 128;
        plen = max;
        if (slash) {
                const char *p = slash + 1;
                char *end;
                unsigned long l;

                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
                errno = 0;
                l = strtoul(p, &end, 10);
                if (errno || *end)
                        return -EINVAL;
                if (l > max)
                        return -ERANGE;
                plen = (unsigned) l;
        }
prefix_done:
        a.prefixlen = (uint8_t) plen;

        for (unsigned bit = plen; bit < max; bit++)
                if (a.a[bit / 8] & (0x80 >> (bit % 8))) {
                        /* hand back the network the user probably meant, for the message */
                        a.a[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
                        hostbits = true;
                }
        *ret = a;
        if (ret_hostbits)
                *ret_hostbits = hostbits;
        return hostbits ? -EINVAL : 0;
}

void pst_addr_range(const struct pst_addr *a, uint8_t first[16], uint8_t last[16]) {
        unsigned len = pst_addr_len(a->family);

        memset(first, 0, 16);
        memset(last, 0, 16);
        memcpy(first, a->a, len);
        memcpy(last, a->a, len);
        for (unsigned bit = a->prefixlen; bit < len * 8; bit++)
                last[bit / 8] |= (uint8_t) (0x80 >> (bit % 8));
}

const char *pst_addr_format(const struct pst_addr *a, char buf[PST_ADDR_STRLEN]) {
        char tmp[INET6_ADDRSTRLEN];

        inet_ntop(a->family, a->a, tmp, sizeof(tmp));
        if (a->prefixlen == pst_addr_len(a->family) * 8)
                snprintf(buf, PST_ADDR_STRLEN, "%s", tmp);
        else
                snprintf(buf, PST_ADDR_STRLEN, "%s/%u", tmp, a->prefixlen);
        return buf;
}

int pst_range_prefix(const uint8_t *first, const uint8_t *last, unsigned len) {
        unsigned plen = len * 8;

        while (plen > 0) {
                uint8_t bit = (uint8_t) (0x80u >> ((plen - 1) % 8));

                if ((first[(plen - 1) / 8] & bit) || !(last[(plen - 1) / 8] & bit))
                        break;
                plen--;
        }
        for (unsigned b = 0; b < plen; b++) {
                uint8_t bit = (uint8_t) (0x80u >> (b % 8));

                if ((first[b / 8] & bit) != (last[b / 8] & bit))
                        return -1;
        }
        return (int) plen;
}

static int parse_port(const char *s, const char **ret_end, uint16_t *ret) {
        unsigned long v = 0;
        const char *p = s;

        if (!isdigit((unsigned char) *p))
                return -EINVAL;
        while (isdigit((unsigned char) *p)) {
                v = v * 10 + (unsigned long) (*p - '0');
                if (v > 65535)
                        return -ERANGE;
                p++;
        }
        if (v == 0)
                return -ERANGE;
        *ret = (uint16_t) v;
        *ret_end = p;
        return 0;
}

int pst_portrange_parse(const char *s, struct pst_portrange *ret) {
        struct pst_portrange pr;
        const char *p;
        int r;

        r = parse_port(s, &p, &pr.first);
        if (r < 0)
                return r;
        if (*p == 0)
                pr.last = pr.first;
        else if (*p == '-') {
                r = parse_port(p + 1, &p, &pr.last);
                if (r < 0)
                        return r;
                if (*p)
                        return -EINVAL;
                if (pr.last < pr.first)
                        return -EDOM;
        } else
                return -EINVAL;
        *ret = pr;
        return 0;
}

int pst_ifname_parse(const char *s, char ret[16], bool *ret_wildcard) {
        size_t l = strlen(s);
        bool wild = false;

        if (l == 0 || l >= IFNAMSIZ)
                return -EINVAL;
        if (streq(s, ".") || streq(s, ".."))
                return -EINVAL;
        for (size_t i = 0; i < l; i++) {
                unsigned char c = (unsigned char) s[i];

                if (c == '/' || c == ':' || isspace(c) || !isprint(c) || c == '"' || c == '\\')
                        return -EINVAL;
                if (c == '+' || c == '*') {
                        if (i != l - 1 || l == 1)
                                return -EINVAL;
                        wild = true;
                }
        }
        memset(ret, 0, 16);
        memcpy(ret, s, l);
        if (wild)
                ret[l - 1] = '*';
        *ret_wildcard = wild;
        return 0;
}
