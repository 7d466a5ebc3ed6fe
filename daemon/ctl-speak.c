/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The nft listing of a postern table read back as what it allows
 * (ctl-speak.h).  Only the shapes postern itself generates are understood
 * word by word; anything else is kept as its nft text, so it still shows
 * up as a change, only less readably.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl-speak.h"

#define SPEAK_TOKENS_MAX 64
#define SPEAK_TEXT_MAX 4096
#define SPEAK_ITEMS_MAX 4096

/* ---- words ---- */

struct tokens {
        char *v[SPEAK_TOKENS_MAX];
        size_t n;
};

/* Split a rule line in place: "quoted strings" (quotes kept), { groups }
 * as one token each, other words at blanks. */
static void tokenize(char *s, struct tokens *t) {
        t->n = 0;
        while (*s && t->n < SPEAK_TOKENS_MAX) {
                char *start;

                while (isspace((unsigned char) *s))
                        s++;
                if (!*s)
                        break;
                start = s;
                if (*s == '"') {
                        s = strchr(s + 1, '"');
                        s = s ? s + 1 : start + strlen(start);
                } else if (*s == '{') {
                        s = strchr(s, '}');
                        s = s ? s + 1 : start + strlen(start);
                } else
                        while (*s && !isspace((unsigned char) *s))
                                s++;
                if (*s)
                        *s++ = 0;
                t->v[t->n++] = start;
        }
}

static const char *unquote(char *s) {
        size_t n = strlen(s);

        if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
                s[n - 1] = 0;
                return s + 1;
        }
        return s;
}

static bool has_suffix(const char *s, const char *suffix) {
        size_t n = strlen(s), k = strlen(suffix);

        return n >= k && streq(s + n - k, suffix);
}

/* "zone_lan_v4" → "zone lan", "list_partners_v6" → "list partners",
 * "ifaddr_ppp0_v4" → "(ppp0)"; other names as they are. */
static void describe_set(const char *name, char *buf, size_t size) {
        char base[PST_NAME_MAX * 4];

        snprintf(base, sizeof(base), "%s", name);
        if (has_suffix(base, "_v4") || has_suffix(base, "_v6"))
                base[strlen(base) - 3] = 0;
        if (strncmp(base, "zone_", 5) == 0)
                snprintf(buf, size, "zone %s", base + 5);
        else if (strncmp(base, "list_", 5) == 0)
                snprintf(buf, size, "list %s", base + 5);
        else if (strncmp(base, "ifaddr_", 7) == 0)
                snprintf(buf, size, "(%s)", base + 7);
        else
                snprintf(buf, size, "%s", base);
}

/* "198.18.2.10" → "exchange" when the policy has a host of exactly that
 * address (its v4 and v6 rules then say the same); else the address. */
static const char *host_or_addr(const struct speak_names *names, const char *text) {
        struct pst_addr a;

        if (!names->policy || pst_addr_parse(text, &a, NULL) < 0)
                return text;
        for (size_t i = 0; i < names->policy->nhosts; i++) {
                const struct pst_host *h = names->policy->hosts[i];

                for (size_t k = 0; k < h->addrs.n; k++) {
                        const struct pst_addr *b = &h->addrs.v[k];

                        if (b->family == a.family && b->prefixlen == a.prefixlen &&
                            memcmp(b->a, a.a, pst_addr_len(a.family)) == 0)
                                return h->name;
                }
        }
        return text;
}

/* The service a port range belongs to: the policy's own first, then the catalog's. */
static const char *service_of(const struct speak_names *names, bool udp, unsigned first, unsigned last) {
        const struct pst_catalog *cats[2] = { NULL, names->catalog };
        struct pst_catalog pol = {};

        if (names->policy) {
                pol.n = names->policy->nservices;
                pol.v = names->policy->services;
                cats[0] = &pol;
        }
        for (size_t c = 0; c < 2; c++)
                for (size_t i = 0; cats[c] && i < cats[c]->n; i++) {
                        const struct pst_service *s = cats[c]->v[i];
                        const struct pst_portrange *v = udp ? s->udp : s->tcp;
                        size_t n = udp ? s->nudp : s->ntcp;

                        if (strchr(s->name, '/'))
                                continue; /* an inline "tcp/8080" says no more than its port */
                        for (size_t k = 0; k < n; k++)
                                if (v[k].first == first && v[k].last == last)
                                        return s->name;
                }
        return NULL;
}

/* The first group of the policy that holds the service named svc: where an administrator edits it */
static const char *group_of(const struct speak_names *names, const char *svc) {
        for (size_t i = 0; names->policy && i < names->policy->ngroups; i++)
                for (size_t j = 0; j < names->policy->groups[i]->nsvc; j++)
                        if (streq(names->policy->groups[i]->svc[j]->name, svc))
                                return names->policy->groups[i]->name;
        return NULL;
}

/* "tcp" + "993" → "tcp/993 (imaps)", "tcp/993 (imaps, group outlook)" */
static void port_item(const struct speak_names *names, const char *proto, const char *port, char *buf,
                      size_t size) {
        unsigned a = 0, b = 0;
        const char *svc = NULL, *group;
        int k = sscanf(port, "%u-%u", &a, &b);

        if (k >= 1 && (streq(proto, "tcp") || streq(proto, "udp")))
                svc = service_of(names, streq(proto, "udp"), a, k == 2 ? b : a);
        group = svc ? group_of(names, svc) : NULL;
        if (svc && group)
                snprintf(buf, size, "%s/%s (%s, group %s)", proto, port, svc, group);
        else if (svc)
                snprintf(buf, size, "%s/%s (%s)", proto, port, svc);
        else
                snprintf(buf, size, "%s/%s", proto, port);
}

/* ---- rules ---- */

static void rule_clear(struct speak_rule *r) {
        free(r->where);
        free(r->verdict);
        for (size_t i = 0; i < r->nitems; i++)
                free(r->items[i]);
        free(r->items);
}

void speak_table_clear(struct speak_table *t) {
        for (size_t i = 0; i < t->n; i++)
                rule_clear(&t->v[i]);
        free(t->v);
        *t = (struct speak_table) {};
}

static int add_item(struct speak_rule *r, const char *s) {
        char *d = strdup(s);

        if (!d || GROW(r->items, r->capitems, r->nitems + 1, SPEAK_ITEMS_MAX) < 0) {
                free(d);
                return -ENOMEM;
        }
        r->items[r->nitems++] = d;
        return 0;
}

/* "{ 22, 25, 1024-2000 }" or "22": one item each, "tcp/22 (ssh)" */
static int add_items(struct speak_rule *r, const struct speak_names *names, const char *proto, const char *value) {
        char buf[SPEAK_TEXT_MAX], item[256];
        char *save = NULL;

        snprintf(buf, sizeof(buf), "%s", value[0] == '{' ? value + 1 : value);
        if (value[0] == '{' && strchr(buf, '}'))
                *strchr(buf, '}') = 0;
        for (char *w = strtok_r(buf, ", ", &save); w; w = strtok_r(NULL, ", ", &save)) {
                int k;

                port_item(names, proto, w, item, sizeof(item));
                k = add_item(r, item);
                if (k < 0)
                        return k;
        }
        return 0;
}

static void append(char *buf, size_t size, const char *s) {
        size_t n = strlen(buf);

        snprintf(buf + n, size - n, "%s%s", n ? " " : "", s);
}

/* "from zone lan" once: a zone's chain already says where it comes from,
 * and its rules match the zone's networks too */
static void append_clause(char *where, size_t size, const char *word, const char *what) {
        char clause[SPEAK_TEXT_MAX];
        const char *p;
        size_t n;

        snprintf(clause, sizeof(clause), "%s %s", word, what);
        n = strlen(clause);
        for (p = strstr(where, clause); p; p = strstr(p + 1, clause))
                if ((p == where || p[-1] == ' ') && (p[n] == 0 || p[n] == ' '))
                        return;
        append(where, size, clause);
}

static void add_set(struct speak_rule *r, const char *name) {
        if (r->nsets < ELEMENTSOF(r->sets))
                snprintf(r->sets[r->nsets++], sizeof(r->sets[0]), "%s", name);
}

/* "ip saddr X" / "ip6 daddr X" → "from X" / "to X"; a concatenation's set is
 * said element by element (speak_element). */
static size_t addr_clause(struct speak_rule *r, const struct speak_names *names, struct tokens *t, size_t i,
                          char *where, size_t size) {
        bool src = streq(t->v[i + 1], "saddr");
        char *v = t->v[i + 2], desc[PST_NAME_MAX * 4 + 16];

        if (streq(v, ".")) {
                while (i < t->n && t->v[i][0] != '@')
                        i++;
                if (i < t->n) {
                        add_set(r, t->v[i] + 1);
                        r->hosts = true;
                }
                return i + 1;
        }
        if (v[0] == '@') {
                add_set(r, v + 1);
                describe_set(v + 1, desc, sizeof(desc));
        } else
                snprintf(desc, sizeof(desc), "%s", host_or_addr(names, v));
        append_clause(where, size, src ? "from" : "to", desc);
        return i + 3;
}

/* One token group of a rule line; returns the index after it. */
static size_t parse_clause(struct speak_rule *r, const struct speak_names *names, struct tokens *t, size_t i,
                           char *where, char *verdict, int *err) {
        const char *a = t->v[i], *b = i + 1 < t->n ? t->v[i + 1] : "", *c = i + 2 < t->n ? t->v[i + 2] : "";

        if (streq(a, "counter"))
                return i + 1;
        if (streq(a, "comment")) {
                if (*b && strncmp(b, "\"trusted zone ", 14) == 0)
                        snprintf(r->trusted, sizeof(r->trusted), "%.*s", (int) strcspn(b + 14, "\""), b + 14);
                return i + 2;
        }
        if (streq(a, "jump") && streq(b, "rematch_stamp")) { /* options.rematch: an accept that stamps */
                verdict[0] = 0;
                return i + 2;
        }
        if (streq(a, "accept") || streq(a, "drop") || streq(a, "reject") || streq(a, "return")) {
                snprintf(verdict, SPEAK_TEXT_MAX, "%s", streq(a, "accept") ? "" : a);
                return i + 1;
        }
        if ((streq(a, "tcp") || streq(a, "udp")) && streq(b, "dport") && *c) {
                *err = add_items(r, names, a, c);
                return i + 3;
        }
        if (((streq(a, "meta") && streq(b, "l4proto")) || ((streq(a, "icmp") || streq(a, "icmpv6")) && streq(b, "type"))) &&
            *c && !streq(c, "vmap")) {
                *err = add_items(r, names, streq(a, "meta") ? "proto" : a, c);
                return i + 3;
        }
        if ((streq(a, "ip") || streq(a, "ip6")) && (streq(b, "saddr") || streq(b, "daddr")) && *c)
                return addr_clause(r, names, t, i, where, SPEAK_TEXT_MAX);
        if ((streq(a, "iifname") || streq(a, "oifname")) && *b && !streq(b, "vmap")) {
                append(where, SPEAK_TEXT_MAX, streq(a, "iifname") ? "in" : "out");
                append(where, SPEAK_TEXT_MAX, unquote(t->v[i + 1]));
                return i + 2;
        }
        append(where, SPEAK_TEXT_MAX, a); /* anything else: its own words */
        return i + 1;
}

/*
 * The rule compile.c writes for a trusted zone (comment "trusted zone
 * NAME", in a base chain, no service, accept, matching the zone's
 * interfaces and/or its own sets only) is said by the zone, not by its
 * interfaces: "input trusted zone docker".  Anything else with such a
 * comment (a policy rule's own comment) is said by its matches as usual.
 */
static void trusted_rule(struct speak_rule *r, bool base, char *where, const char *verdict) {
        char v4[PST_NAME_MAX + 8], v6[PST_NAME_MAX + 8];

        if (!r->trusted[0])
                return;
        snprintf(v4, sizeof(v4), "zone_%s_v4", r->trusted);
        snprintf(v6, sizeof(v6), "zone_%s_v6", r->trusted);
        for (size_t k = 0; k < r->nsets; k++)
                if (!streq(r->sets[k], v4) && !streq(r->sets[k], v6))
                        base = false;
        if (!base || r->nitems || verdict[0] || r->hosts || strncmp(where, "to ", 3) == 0 || strstr(where, " to ")) {
                r->trusted[0] = 0;
                return;
        }
        snprintf(where, SPEAK_TEXT_MAX, "trusted zone %s", r->trusted);
}

/* One rule line of chain `chain` into t. */
static int parse_rule(struct speak_table *t, const struct speak_names *names, const char *chain, char *line) {
        char where[SPEAK_TEXT_MAX] = "", verdict[SPEAK_TEXT_MAX] = "";
        struct speak_rule *r;
        struct tokens tok;
        bool base = true;
        int err = 0;

        if (GROW(t->v, t->cap, t->n + 1, (size_t) PST_CHAINS_MAX * PST_RULES_MAX) < 0)
                return -ENOMEM;
        r = &t->v[t->n++];
        *r = (struct speak_rule) {};
        /* a zone's chain, input_wan, is chain input for what comes from zone wan */
        if (strncmp(chain, "input_", 6) == 0 || strncmp(chain, "forward_", 8) == 0) {
                size_t k = strcspn(chain, "_");

                snprintf(r->chain, sizeof(r->chain), "%.*s", (int) k, chain);
                snprintf(where, sizeof(where), "from zone %s", chain + k + 1);
                base = false;
        } else
                snprintf(r->chain, sizeof(r->chain), "%s", chain);
        tokenize(line, &tok);
        for (size_t i = 0; i < tok.n && err >= 0;)
                i = parse_clause(r, names, &tok, i, where, verdict, &err);
        trusted_rule(r, base, where, verdict);
        r->where = strdup(where);
        r->verdict = strdup(verdict);
        if (err < 0 || !r->where || !r->verdict)
                return -ENOMEM;
        return 0;
}

int speak_parse(const char *listing, const struct speak_names *names, struct speak_table *ret) {
        _cleanup_free_ char *text = strdup(listing);
        char chain[PST_NAME_MAX] = "", *save = NULL;
        bool in_set = false;
        int r = 0;

        *ret = (struct speak_table) {};
        if (!text)
                return -ENOMEM;
        for (char *line = strtok_r(text, "\n", &save); line && r >= 0; line = strtok_r(NULL, "\n", &save)) {
                while (isspace((unsigned char) *line))
                        line++;
                if (!*line || strncmp(line, "table ", 6) == 0)
                        continue;
                if (strncmp(line, "set ", 4) == 0 || strncmp(line, "map ", 4) == 0) {
                        in_set = true;
                        continue;
                }
                if (strncmp(line, "chain ", 6) == 0) {
                        snprintf(chain, sizeof(chain), "%.*s", (int) strcspn(line + 6, " {"), line + 6);
                        continue;
                }
                if (streq(line, "}")) {
                        if (!in_set)
                                chain[0] = 0;
                        in_set = false;
                        continue;
                }
                if (in_set || !chain[0])
                        continue;
                r = parse_rule(ret, names, chain, line);
        }
        if (r < 0)
                speak_table_clear(ret);
        return r;
}

/* ---- atoms ---- */

static int atom(const struct speak_rule *r, const char *item, struct speak_atom *ret) {
        char buf[SPEAK_TEXT_MAX * 3];

        snprintf(buf, sizeof(buf), "%s", r->chain);
        if (item)
                append(buf, sizeof(buf), item);
        if (r->where[0])
                append(buf, sizeof(buf), r->where);
        if (r->verdict[0])
                append(buf, sizeof(buf), r->verdict);
        *ret = (struct speak_atom) { .text = strdup(buf), .rule = r, .item = item };
        return ret->text ? 0 : -ENOMEM;
}

static int atom_cmp(const void *a, const void *b) {
        return strcmp(((const struct speak_atom *) a)->text, ((const struct speak_atom *) b)->text);
}

void speak_atoms_free(struct speak_atom *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i].text);
        free(v);
}

void speak_atom_line(const struct speak_atom *a, struct speak_line *ret) {
        *ret = (struct speak_line) { .text = a->text, .chain = a->rule->chain, .what = a->item ?: "",
                                     .where = a->rule->where, .verdict = a->rule->verdict,
                                     .trusted_zone = a->rule->trusted[0] ? a->rule->trusted : NULL };
}

int speak_atoms(const struct speak_table *t, struct speak_atom **ret, size_t *ret_n) {
        struct speak_atom *v = NULL;
        size_t n = 0, cap = 0, w = 0;
        int r = 0;

        for (size_t i = 0; i < t->n && r >= 0; i++) {
                const struct speak_rule *ru = &t->v[i];

                if (ru->hosts)
                        continue; /* said element by element */
                for (size_t k = 0; k < (ru->nitems ?: 1) && r >= 0; k++) {
                        if (GROW(v, cap, n + 1, (size_t) SPEAK_ITEMS_MAX * PST_RULES_MAX) < 0) {
                                r = -ENOMEM;
                                break;
                        }
                        r = atom(ru, ru->nitems ? ru->items[k] : NULL, &v[n]);
                        if (r >= 0)
                                n++;
                }
        }
        if (r < 0) {
                speak_atoms_free(v, n);
                return r;
        }
        if (n)
                qsort(v, n, sizeof(*v), atom_cmp);
        for (size_t i = 0; i < n; i++) {
                if (w > 0 && streq(v[w - 1].text, v[i].text)) {
                        free(v[i].text);
                        continue;
                }
                v[w++] = v[i];
        }
        *ret = v;
        *ret_n = w;
        return 0;
}

/* "forward_hosts_v4_tcp" → "tcp", else NULL */
static const char *hosts_set_proto(const char *set) {
        const char *p = strstr(set, "_hosts_v");

        if (!p || strlen(p) < strlen("_hosts_v4_tcp"))
                return NULL;
        p += strlen("_hosts_v4_");
        return streq(p, "tcp") || streq(p, "udp") ? p : NULL;
}

/* "198.18.3.5 . 198.18.2.10 . 135" of a host-to-host set */
static int speak_hosts(const struct speak_rule *r, const struct speak_names *names, const char *proto,
                       const char *element, speak_line_cb cb, void *data) {
        char s[256], d[256], p[64], item[256], where[600], line[SPEAK_TEXT_MAX];
        struct speak_line l = { .chain = r->chain, .what = item, .where = where, .verdict = r->verdict,
                                .element = element, .text = line };

        if (sscanf(element, "%255s . %255s . %63s", s, d, p) != 3) {
                l = (struct speak_line) { .text = element, .chain = r->chain, .what = "", .where = "",
                                          .verdict = r->verdict, .element = element };
                return cb(&l, data);
        }
        port_item(names, proto, p, item, sizeof(item));
        snprintf(where, sizeof(where), "from %s to %s", host_or_addr(names, s), host_or_addr(names, d));
        snprintf(line, sizeof(line), "%s %s %s", r->chain, item, where);
        return cb(&l, data);
}

/* "input tcp/25 (smtp), tcp/465 (smtps) from list partners: 198.18.5.0/24" */
static int speak_rule_element(const struct speak_rule *ru, const char *element, speak_line_cb cb, void *data) {
        char what[SPEAK_TEXT_MAX] = "", line[SPEAK_TEXT_MAX * 4];
        struct speak_line l = { .text = line, .chain = ru->chain, .what = what, .where = ru->where,
                                .verdict = ru->verdict, .element = element,
                                .trusted_zone = ru->trusted[0] ? ru->trusted : NULL };

        for (size_t k = 0; k < ru->nitems; k++) {
                size_t n = strlen(what);

                snprintf(what + n, sizeof(what) - n, "%s%s", k ? ", " : "", ru->items[k]);
        }
        snprintf(line, sizeof(line), "%s", ru->chain);
        if (what[0])
                append(line, sizeof(line), what);
        if (ru->where[0])
                append(line, sizeof(line), ru->where);
        if (ru->verdict[0])
                append(line, sizeof(line), ru->verdict);
        snprintf(line + strlen(line), sizeof(line) - strlen(line), ": %s", element);
        return cb(&l, data);
}

int speak_element(const struct speak_table *t, const struct speak_names *names, const char *set,
                  const char *element, speak_line_cb cb, void *data) {
        bool said = false;
        int r = 0;

        for (size_t i = 0; i < t->n && r >= 0; i++) {
                const struct speak_rule *ru = &t->v[i];
                bool uses = false;

                for (size_t k = 0; k < ru->nsets; k++)
                        uses = uses || streq(ru->sets[k], set);
                if (!uses)
                        continue;
                said = true;
                if (hosts_set_proto(set))
                        r = speak_hosts(ru, names, hosts_set_proto(set), element, cb, data);
                else
                        r = speak_rule_element(ru, element, cb, data);
        }
        if (!said && r >= 0) {
                char line[SPEAK_TEXT_MAX], where[SPEAK_TEXT_MAX];
                struct speak_line l = { .text = line, .chain = "", .what = "", .where = where, .verdict = "",
                                        .element = element };

                snprintf(where, sizeof(where), "set %s", set);
                snprintf(line, sizeof(line), "set %s: %s", set, element);
                r = cb(&l, data);
        }
        return r;
}
