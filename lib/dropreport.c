/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dropreport.h"

static bool only_port(const struct pst_portrange *v, uint8_t n, uint16_t port) {
        return n == 1 && v[0].first == port && v[0].last == port;
}

const char *pst_drop_service(const struct pst_catalog *cat, uint8_t l4proto, uint16_t port, bool *ret_only) {
        const struct pst_service *best = NULL;
        bool best_only = false;

        for (size_t i = 0; cat && i < cat->n; i++) {
                const struct pst_service *s = cat->v[i];
                bool exact, only;

                if (l4proto == IPPROTO_TCP) {
                        exact = only_port(s->tcp, s->ntcp, port);
                        only = s->nudp == 0;
                } else if (l4proto == IPPROTO_UDP) {
                        exact = only_port(s->udp, s->nudp, port);
                        only = s->ntcp == 0;
                } else
                        return NULL;
                only = only && s->nproto == 0 && s->nicmp == 0 && s->nicmp6 == 0;
                if (exact && (!best || (only && !best_only))) {
                        best = s;
                        best_only = only;
                }
        }
        if (ret_only)
                *ret_only = best_only;
        return best ? best->name : NULL;
}

void pst_drop_what(uint8_t l4proto, uint16_t port, char *buf, size_t size) {
        const char *n;

        if (l4proto == IPPROTO_TCP || l4proto == IPPROTO_UDP)
                snprintf(buf, size, "%s/%u", l4proto == IPPROTO_TCP ? "tcp" : "udp", port);
        else if ((n = pst_proto_name(l4proto)))
                snprintf(buf, size, "proto/%s", n);
        else
                snprintf(buf, size, "proto/%u", l4proto);
}

void pst_drop_suggest(const struct pst_drop_row *row, const struct pst_catalog *cat, char *buf, size_t size) {
        char allow[PST_SERVICE_NAME_MAX + 8], from[PST_ADDR_STRLEN];
        const char *svc;
        bool only;

        buf[0] = 0;
        if (row->l4proto != IPPROTO_TCP && row->l4proto != IPPROTO_UDP)
                return;
        svc = pst_drop_service(cat, row->l4proto, row->dport, &only);
        if (svc)
                snprintf(allow, sizeof(allow), "%s%s", svc,
                         only ? "" : row->l4proto == IPPROTO_TCP ? "/tcp" : "/udp");
        else
                pst_drop_what(row->l4proto, row->dport, allow, sizeof(allow));
        if (row->zone[0])
                snprintf(from, sizeof(from), "%s", row->zone);
        else if (row->nprefixes == 1 && row->top.family)
                pst_addr_format(&row->top, from);
        else
                snprintf(from, sizeof(from), "any");
        snprintf(buf, size, "{ allow = \"%s\"; from = \"%s\"; }", allow, from);
}

void pst_drop_ago(uint64_t then, uint64_t now, char *buf, size_t size) {
        uint64_t s = now > then ? (now - then) / 1000000ULL : 0;

        if (s < 120)
                snprintf(buf, size, "%" PRIu64 " s ago", s);
        else if (s < 120 * 60)
                snprintf(buf, size, "%" PRIu64 " min ago", s / 60);
        else if (s < 48 * 3600)
                snprintf(buf, size, "%" PRIu64 " h ago", s / 3600);
        else
                snprintf(buf, size, "%" PRIu64 " d ago", s / 86400);
}

static void from_words(const struct pst_drop_row *row, char *buf, size_t size) {
        char a[PST_ADDR_STRLEN];

        if (row->zone[0])
                snprintf(buf, size, "zone %s", row->zone);
        else if (row->nprefixes == 1 && row->top.family)
                snprintf(buf, size, "%s", pst_addr_format(&row->top, a));
        else
                snprintf(buf, size, "%" PRIu32 " networks", row->nprefixes);
}

char *pst_drop_line(const struct pst_drop_row *row, const struct pst_catalog *cat, const char *listeners,
                    uint64_t now) {
        char what[32], from[PST_ADDR_STRLEN + 16], ago[32], sug[160], svc[PST_SERVICE_NAME_MAX + 4] = "";
        const char *name = pst_drop_service(cat, row->l4proto, row->dport, NULL);
        char *line = NULL;

        pst_drop_what(row->l4proto, row->dport, what, sizeof(what));
        if (name)
                snprintf(svc, sizeof(svc), " (%s)", name);
        from_words(row, from, sizeof(from));
        pst_drop_ago(row->last_usec, now, ago, sizeof(ago));
        sug[0] = 0;
        if (listeners && listeners[0])
                pst_drop_suggest(row, cat, sug, sizeof(sug));
        if (asprintf(&line, "%s%s: %" PRIu64 " drop%s from %s, %" PRIu64 " source%s, last %s%s%s%s%s", what, svc,
                     row->count, row->count == 1 ? "" : "s", from, row->sources, row->sources == 1 ? "" : "s", ago,
                     !listeners ? "" : listeners[0] ? " — " : " — nothing listens on it",
                     listeners ? listeners : "", sug[0] ? " — add: " : "", sug) < 0)
                return NULL;
        return line;
}

int pst_duration_parse(const char *s, uint64_t *ret) {
        static const struct {
                char unit;
                uint64_t sec;
        } units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
        uint64_t mult = 1;
        unsigned long long v;
        char *end;

        if (!s[0] || s[0] < '0' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno)
                return -ERANGE;
        if (*end) {
                size_t i;

                for (i = 0; i < ELEMENTSOF(units) && units[i].unit != *end; i++)
                        ;
                if (i == ELEMENTSOF(units) || end[1])
                        return -EINVAL;
                mult = units[i].sec;
        }
        if (v > 366ULL * 86400 / mult)
                return -ERANGE;
        *ret = v * mult * 1000000ULL;
        return 0;
}
