/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>

#include "render.h"
#include "service.h"

static void render_addr(FILE *f, int af, const uint8_t *first, const uint8_t *last) {
        unsigned len = af == AF_INET ? 4 : 16;
        char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
        int plen = pst_range_prefix(first, last, len);

        inet_ntop(af, first, a, sizeof(a));
        if (plen == (int) len * 8)
                fputs(a, f);
        else if (plen >= 0)
                fprintf(f, "%s/%d", a, plen);
        else {
                inet_ntop(af, last, b, sizeof(b));
                fprintf(f, "%s-%s", a, b);
        }
}

static void render_ifname(FILE *f, const uint8_t *first, const uint8_t *last) {
        size_t l = strnlen((const char *) first, IFNAMSIZ);

        if (memcmp(first, last, IFNAMSIZ) != 0)
                fprintf(f, "\"%.*s*\"", (int) l, (const char *) first);
        else
                fprintf(f, "\"%.*s\"", (int) l, (const char *) first);
}

static void render_u8_named(FILE *f, const char *name, uint8_t v) {
        if (name)
                fputs(name, f);
        else
                fprintf(f, "%u", v);
}

/* A host-byte-order bitmask as nft spells it: "established,related" */
static void render_bits(FILE *f, const uint8_t *k, const char *const *names, unsigned n) {
        uint32_t v;
        bool first = true;

        memcpy(&v, k, 4); /* host byte order */
        for (unsigned i = 0; i < n; i++)
                if (v & (1u << i)) {
                        fprintf(f, "%s%s", first ? "" : ",", names[i]);
                        first = false;
                }
}

static void render_ct_state(FILE *f, const uint8_t *k) {
        static const char *const names[] = { "invalid", "established", "related", "new", "untracked" };

        render_bits(f, k, names, ELEMENTSOF(names));
}

static void render_ct_status(FILE *f, const uint8_t *k) {
        static const char *const names[] = { "expected", "seen-reply", "assured", "confirmed", "snat", "dnat",
                                             "dying" };

        render_bits(f, k, names, ELEMENTSOF(names));
}

void pst_render_key(FILE *f, enum pst_field field, const uint8_t *first, const uint8_t *last) {
        switch (field) {
        case PST_F_IIFNAME:
        case PST_F_OIFNAME:
                render_ifname(f, first, last);
                break;
        case PST_F_NFPROTO:
                fputs(first[0] == NFPROTO_IPV4 ? "ipv4" : first[0] == NFPROTO_IPV6 ? "ipv6" : "?", f);
                break;
        case PST_F_L4PROTO:
                render_u8_named(f, pst_proto_name(first[0]), first[0]);
                break;
        case PST_F_IP_SADDR:
        case PST_F_IP_DADDR:
                render_addr(f, AF_INET, first, last);
                break;
        case PST_F_IP6_SADDR:
        case PST_F_IP6_DADDR:
                render_addr(f, AF_INET6, first, last);
                break;
        case PST_F_TCP_DPORT:
        case PST_F_TCP_SPORT:
        case PST_F_UDP_DPORT: {
                unsigned a = (unsigned) first[0] << 8 | first[1], b = (unsigned) last[0] << 8 | last[1];

                if (a == b)
                        fprintf(f, "%u", a);
                else
                        fprintf(f, "%u-%u", a, b);
                break;
        }
        case PST_F_ICMP_TYPE:
                render_u8_named(f, pst_icmp_name(first[0], false), first[0]);
                break;
        case PST_F_ICMP6_TYPE:
                render_u8_named(f, pst_icmp_name(first[0], true), first[0]);
                break;
        case PST_F_CT_STATE:
                render_ct_state(f, first);
                break;
        case PST_F_CT_DIRECTION:
                fputs(first[0] == 0 ? "original" : first[0] == 1 ? "reply" : "?", f);
                break;
        case PST_F_CT_STAMP: {
                uint32_t v;

                memcpy(&v, first, 4); /* host byte order */
                fprintf(f, "0x%08x", v);
                break;
        }
        case PST_F_CT_STATUS:
                render_ct_status(f, first);
                break;
        case _PST_F_MAX:
                fputs("?", f);
                break;
        }
}

/* A concatenated key: each field at its 4-byte-aligned offset. */
static void render_elem_key(FILE *f, const struct pst_set *s, size_t i) {
        unsigned off = 0;

        for (unsigned k = 0; k < s->nfields; k++) {
                const struct pst_field_info *fi = pst_field_info(s->fields[k]);

                if (k)
                        fputs(" . ", f);
                pst_render_key(f, s->fields[k], pst_set_first(s, i) + off, pst_set_last(s, i) + off);
                off += (fi->len + 3u) & ~3u;
        }
}

static void render_verdict(FILE *f, const struct pst_ruleset *rs, const struct pst_verdict *v) {
        switch (v->kind) {
        case PST_V_ACCEPT:
                fputs("accept", f);
                break;
        case PST_V_DROP:
                fputs("drop", f);
                break;
        case PST_V_JUMP:
                fprintf(f, "jump %s", rs->chains[v->chain].name);
                break;
        case PST_V_GOTO:
                fprintf(f, "goto %s", rs->chains[v->chain].name);
                break;
        case PST_V_RETURN:
                fputs("return", f);
                break;
        case PST_V_QUEUE: /* nft 1.0's own spelling, as `nft list` prints it */
                fprintf(f, "queue flags bypass to %u", v->chain);
                break;
        case PST_V_NONE:
                break;
        }
}

static void render_elements(FILE *f, const struct pst_ruleset *rs, const struct pst_set *s, const char *wrap) {
        fputs("{ ", f);
        for (size_t i = 0; i < s->n; i++) {
                if (i) {
                        fputs(",", f);
                        if (wrap && i % (s->nfields > 1 ? 2 : 4) == 0)
                                fputs(wrap, f);
                        else
                                fputs(" ", f);
                }
                render_elem_key(f, s, i);
                if (s->flags & PST_SET_MAP) {
                        fputs(" : ", f);
                        render_verdict(f, rs, &s->data[i]);
                }
        }
        fputs(" }", f);
}

static void render_fields(FILE *f, const enum pst_field *fields, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                fprintf(f, "%s%s", i ? " . " : "", pst_field_info(fields[i])->nft);
}

/* As nft lists it: size, flags, the timeout in d/h/m/s, the comment. */
static void render_timeout_set(FILE *f, const struct pst_set *s) {
        static const struct { uint32_t sec; char unit; } units[] = { { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' },
                                                                    { 1, 's' } };
        uint32_t t = s->timeout;

        fprintf(f, "\t\tsize %" PRIu32 "\n\t\tflags dynamic,timeout\n\t\ttimeout ", s->size);
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (t >= units[i].sec) {
                        fprintf(f, "%" PRIu32 "%c", t / units[i].sec, units[i].unit);
                        t %= units[i].sec;
                }
        fputs("\n", f);
        if (s->comment[0])
                fprintf(f, "\t\tcomment \"%s\"\n", s->comment);
}

static void render_set(FILE *f, const struct pst_ruleset *rs, const struct pst_set *s) {
        fprintf(f, "\tset %s {\n\t\ttype ", s->name);
        for (unsigned i = 0; i < s->nfields; i++)
                fprintf(f, "%s%s", i ? " . " : "", pst_field_info(s->fields[i])->type);
        fputs("\n", f);
        if (s->flags & PST_SET_INTERVAL)
                fputs("\t\tflags interval\n", f);
        if (s->flags & PST_SET_TIMEOUT)
                render_timeout_set(f, s);
        if (s->n) {
                fputs("\t\telements = ", f);
                render_elements(f, rs, s, "\n\t\t\t     ");
                fputs("\n", f);
        }
        fputs("\t}\n", f);
}

/* nft's spelling in an inet table: "dnat ip to 198.18.2.10:25", "dnat ip6 to [2001:db8::1]:25" */
static void render_nat(FILE *f, const struct pst_nat *n) {
        char a[INET6_ADDRSTRLEN];
        bool v6 = n->family == AF_INET6;

        if (n->kind == PST_NAT_MASQ) {
                fputs("masquerade", f);
                return;
        }
        inet_ntop(n->family, n->addr, a, sizeof(a));
        fprintf(f, "%s %s to ", n->kind == PST_NAT_SNAT ? "snat" : "dnat", v6 ? "ip6" : "ip");
        if (n->port)
                fprintf(f, v6 ? "[%s]:%u" : "%s:%u", a, n->port);
        else
                fputs(a, f);
}

/* A raw value as nft lists it: one hex number, no leading zeros. */
static void render_hex(FILE *f, const uint8_t *b, unsigned n) {
        unsigned i = 0;

        while (i + 1 < n && b[i] == 0)
                i++;
        fprintf(f, "0x%x", b[i]);
        while (++i < n)
                fprintf(f, "%02x", b[i]);
}

/* The raw checks and the pinhole update (ir.h pst_raw, update_set), in
 * nft's raw payload syntax.  nft 1.0.6 parses the checks but its type
 * checker refuses the update's key (a raw load next to typed addresses):
 * this text is for reading, the kernel gets the libnftnl batch. */
static bool render_raws(FILE *f, const struct pst_ruleset *rs, const struct pst_rule *r, bool sp) {
        for (unsigned i = 0; i < r->nraw && i < PST_RAW_MAX; i++) {
                const struct pst_raw *w = &r->raw[i];

                if (w->off == 12 && w->len == 1 && w->masked && w->mask[0] == 0xf0 && !(w->value[0] & 0x0f)) {
                        /* the TCP header length, which nft lists by name */
                        fprintf(f, "%stcp doff %u", sp ? " " : "", w->value[0] >> 4);
                        sp = true;
                        continue;
                }
                fprintf(f, "%s@th,%u,%u ", sp ? " " : "", w->off * 8u, w->len * 8u);
                if (w->masked) {
                        fputs("& ", f);
                        render_hex(f, w->mask, w->len);
                        fputs(" == ", f);
                }
                render_hex(f, w->value, w->len);
                sp = true;
        }
        if (r->update_set && r->update_set <= rs->nsets) {
                const struct pst_set *s = &rs->sets[r->update_set - 1];
                const char *ip = s->fields[0] == PST_F_IP6_SADDR ? "ip6" : "ip";

                fprintf(f, "%supdate @%s { %s daddr . %s saddr . @th,%u,16 }", sp ? " " : "", s->name, ip, ip,
                        r->update_off * 8u);
                sp = true;
        }
        return sp;
}

static void render_rule(FILE *f, const struct pst_ruleset *rs, const struct pst_rule *r) {
        bool sp = false;

        fputs("\t\t", f);
        for (unsigned i = 0; i < r->nmatch; i++) {
                const struct pst_match *m = &r->match[i];

                if (sp)
                        fputs(" ", f);
                sp = true;
                render_fields(f, m->fields, m->nfields);
                switch (m->op) {
                case PST_M_EQ:
                case PST_M_NEQ:
                        fputs(m->op == PST_M_NEQ ? " != " : " ", f);
                        pst_render_key(f, m->fields[0], m->value, m->value);
                        break;
                case PST_M_RANGE:
                        fputs(" ", f);
                        pst_render_key(f, m->fields[0], m->value, m->last);
                        break;
                case PST_M_SET:
                case PST_M_VMAP: {
                        const struct pst_set *s = &rs->sets[m->set];

                        fputs(m->op == PST_M_VMAP ? " vmap " : " ", f);
                        if (s->flags & PST_SET_ANON)
                                render_elements(f, rs, s, NULL);
                        else
                                fprintf(f, "@%s", s->name);
                        break;
                }
                }
        }
        sp = render_raws(f, rs, r, sp);
        if (r->counter) {
                fputs(sp ? " counter" : "counter", f);
                sp = true;
        }
        if (r->limit_per_minute) {
                fprintf(f, "%slimit rate %u/minute", sp ? " " : "", r->limit_per_minute);
                sp = true;
        }
        if (pst_rule_logs(r)) {
                fprintf(f, "%slog prefix \"%s\"", sp ? " " : "", r->log_prefix);
                if (r->log_nflog) /* nft's order: prefix, group, snaplen (none: the whole packet) */
                        fprintf(f, " group %u", r->log_group);
                if (r->log_nflog && r->log_snaplen)
                        fprintf(f, " snaplen %u", r->log_snaplen);
                sp = true;
        }
        if (r->ct_stamp) {
                fprintf(f, "%sct mark set ct mark and 0x%08x or 0x%08x", sp ? " " : "", ~PST_REMATCH_MASK,
                        r->ct_stamp);
                sp = true;
        }
        if (r->verdict.kind != PST_V_NONE) {
                fputs(sp ? " " : "", f);
                render_verdict(f, rs, &r->verdict);
        } else if (r->nat.kind != PST_NAT_NONE) {
                fputs(sp ? " " : "", f);
                render_nat(f, &r->nat);
        }
        if (r->comment[0])
                fprintf(f, " comment \"%s\"", r->comment);
        fputs("\n", f);
}

int pst_render_nft(const struct pst_ruleset *rs, FILE *f) {
        fprintf(f, "table inet %s\ndelete table inet %s\ntable inet %s {\n", rs->table, rs->table, rs->table);
        for (size_t i = 0; i < rs->nsets; i++) {
                if (rs->sets[i].flags & PST_SET_ANON)
                        continue;
                render_set(f, rs, &rs->sets[i]);
                fputs("\n", f);
        }
        for (size_t i = 0; i < rs->nchains; i++) {
                const struct pst_chain *c = &rs->chains[i];

                if (i)
                        fputs("\n", f);
                fprintf(f, "\tchain %s {\n", c->name);
                if (pst_hook_is_nat(c->hook))
                        fprintf(f, "\t\ttype nat hook %s priority %s; policy accept;\n",
                                c->hook == PST_HOOK_PREROUTING ? "prerouting" : "postrouting",
                                c->hook == PST_HOOK_PREROUTING ? "dstnat" : "srcnat");
                else if (c->hook != PST_HOOK_NONE)
                        fprintf(f, "\t\ttype filter hook %s priority %s; policy %s;\n",
                                c->hook == PST_HOOK_INPUT    ? "input"
                                : c->hook == PST_HOOK_OUTPUT ? "output"
                                                             : "forward",
                                c->priority == 0 ? "filter" : "0", c->policy == PST_V_ACCEPT ? "accept" : "drop");
                for (size_t j = 0; j < c->n; j++)
                        render_rule(f, rs, &c->rules[j]);
                fputs("\t}\n", f);
        }
        fputs("}\n", f);
        return ferror(f) ? -EIO : 0;
}
