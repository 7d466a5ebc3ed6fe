/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ctl-bus.h"
#include "ctl-drops.h"
#include "dropreport.h"
#include "json.h"
#include "sockdiag.h"

static bool has_ports(const struct pst_drop_row *r) {
        return r->l4proto == IPPROTO_TCP || r->l4proto == IPPROTO_UDP;
}

struct joined {
        const struct pst_drop_row *row;
        char listeners[512];
        bool known; /* listeners means something: tcp/udp and sock_diag answered */
};

static int cmp_joined(const void *a, const void *b) {
        const struct joined *x = a, *y = b;
        bool lx = x->known && x->listeners[0], ly = y->known && y->listeners[0];

        if (lx != ly)
                return lx ? -1 : 1;
        return x->row < y->row ? -1 : x->row > y->row; /* else posternd's order (most drops first) */
}

static void print_json(const struct ctl_drops *d, const struct joined *v, const struct pst_catalog *cat) {
        struct pst_json j;

        pst_json_init(&j, stdout);
        pst_json_begin_object(&j, NULL);
        pst_json_bool(&j, "ok", true);
        pst_json_int(&j, "total", (long long) d->total);
        pst_json_int(&j, "evicted", (long long) d->evicted);
        pst_json_int(&j, "lost", (long long) d->lost);
        pst_json_begin_array(&j, "drops");
        for (size_t i = 0; i < d->n; i++) {
                const struct pst_drop_row *r = v[i].row;
                char what[32], top[PST_ADDR_STRLEN], sug[160] = "";

                pst_drop_what(r->l4proto, r->dport, what, sizeof(what));
                if (v[i].known && v[i].listeners[0])
                        pst_drop_suggest(r, cat, sug, sizeof(sug));
                pst_json_begin_object(&j, NULL);
                pst_json_string(&j, "what", what);
                pst_json_string(&j, "service", pst_drop_service(cat, r->l4proto, r->dport, NULL));
                pst_json_string(&j, "zone", r->zone[0] ? r->zone : NULL);
                pst_json_int(&j, "drops", (long long) r->count);
                pst_json_int(&j, "sources", (long long) r->sources);
                pst_json_int(&j, "prefixes", r->nprefixes);
                pst_json_string(&j, "top_prefix", r->top.family ? pst_addr_format(&r->top, top) : NULL);
                pst_json_int(&j, "first_seen_usec", (long long) r->first_usec);
                pst_json_int(&j, "last_seen_usec", (long long) r->last_usec);
                pst_json_string(&j, "listeners", v[i].known ? v[i].listeners : NULL);
                pst_json_string(&j, "suggestion", sug[0] ? sug : NULL);
                pst_json_end_object(&j);
        }
        pst_json_end_array(&j);
        pst_json_end_object(&j);
        fputc('\n', stdout);
}

static int print_text(const struct ctl_drops *d, const struct joined *v, const struct pst_catalog *cat,
                      uint64_t since) {
        uint64_t now = wall_usec();

        if (d->n == 0)
                printf("no drops logged%s (posternd logs them with options.log_drops = true)\n",
                       since ? " in that time" : "");
        for (size_t i = 0; i < d->n; i++) {
                _cleanup_free_ char *line = pst_drop_line(v[i].row, cat, v[i].known ? v[i].listeners : NULL, now);

                if (!line)
                        return -ENOMEM;
                printf("%s\n", line);
        }
        if (d->evicted)
                printf("%" PRIu64 " more drops are not shown: the table was full, and the entries with the fewest "
                       "drops went first\n", d->evicted);
        if (d->lost)
                printf("the kernel dropped log messages %" PRIu64 " times because posternd read too slowly\n",
                       d->lost);
        return 0;
}

int ctl_drops(bool json, uint64_t since, const struct pst_catalog *cat) {
        _cleanup_(ctl_drops_clear) struct ctl_drops d = {};
        struct pst_listeners l = {};
        _cleanup_free_ struct joined *v = NULL;
        bool have_l;
        int r;

        r = ctl_bus_drops(since ? wall_usec() - MIN(since, wall_usec()) : 0, json, &d);
        if (r)
                return r;
        have_l = pst_listeners_load(&l) >= 0;
        if (have_l)
                (void) pst_listeners_name(&l, "/proc"); /* names where we may see them */
        v = calloc(MAX(d.n, 1), sizeof(*v));
        if (!v) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < d.n; i++) {
                v[i].row = &d.v[i];
                v[i].known = have_l && has_ports(&d.v[i]);
                if (v[i].known)
                        pst_listeners_describe(&l, d.v[i].l4proto, d.v[i].dport, v[i].listeners,
                                               sizeof(v[i].listeners));
        }
        qsort(v, d.n, sizeof(*v), cmp_joined);
        if (json)
                print_json(&d, v, cat);
        else
                r = print_text(&d, v, cat, since);
out:
        pst_listeners_clear(&l);
        return r < 0 ? 2 : 0;
}
