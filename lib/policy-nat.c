/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>

#include "policy.h"

/*
 * nat = (
 *   { masquerade = { out = "wan"; from = "lan"; }; },
 *   { snat = { out = "wan"; from = "lan"; to = "198.18.0.1"; }; },
 *   { forward = { on = "(ppp0)"; tcp = (25, "8443:443"); to = "exchange"; }; }
 * );
 *
 * Decisions (README, "NAT"):
 * - A port forward implies the forward accept of the translated packets, as
 *   pf's "rdr pass" and firewalld's forward-port do: the forward chain
 *   accepts `ct status dnat` to the internal address and port, so the
 *   internal server is reached through the public address only, never
 *   directly.  Writing a forward rule as well is not needed.
 * - "EXT:INT" remaps: packets to EXT on the public address go to INT on the
 *   internal one (pf's order: the outside port first).
 * - A forward applies to packets that arrive on its interface; no hairpin:
 *   a LAN client uses the internal address (split DNS).
 * - IPv4 only unless the rule says ipv6 = true (or names an IPv6 address).
 */

struct nat_ctx {
        struct pst_cfg *c;
        struct pst_policy *p;
        const struct pst_catalog *cat;
        struct pst_nat_rule *n;
        uint8_t proto;
};

static const char *const nat_kind_names[] = {
        [PST_PNAT_MASQ] = "masquerade",
        [PST_PNAT_SNAT] = "snat",
        [PST_PNAT_FORWARD] = "forward",
};

void pst_policy_free_nat(struct pst_policy *p) {
        for (size_t i = 0; i < p->nnat; i++)
                free(p->nat[i].ports);
        free(p->nat);
        p->nat = NULL;
        p->nnat = p->capnat = 0;
}

/* An address as NAT needs it: one address, no network. */
static int nat_addr(struct nat_ctx *x, const config_setting_t *s, const char *v, struct pst_addr *ret) {
        bool hostbits = false;

        if (pst_addr_parse(v, ret, &hostbits) < 0 || ret->prefixlen != pst_addr_len(ret->family) * 8)
                return pst_cfg_error(x->c, s, "'%s' is not one address; %s needs a single IPv4 or IPv6 address "
                                     "such as 198.18.0.1", v, nat_kind_names[x->n->kind]);
        if (ret->family == AF_INET6 && !x->p->options.ipv6)
                return pst_cfg_error(x->c, s, "'%s' is an IPv6 address but options.ipv6 is false", v);
        return 0;
}

/* "from": any, a zone, a host, a list or a literal address or network. */
static int nat_from(struct nat_ctx *x, const config_setting_t *s) {
        struct pst_endpoint *e = &x->n->from;
        const char *v;
        bool hostbits = false;

        if (pst_cfg_string(x->c, s, "from", 64, &v) < 0)
                return -EINVAL;
        *e = (struct pst_endpoint) { .kind = PST_EP_ANY, .loc = pst_cfg_loc(x->c, s) };
        if (streq(v, "any"))
                return 0;
        if ((e->zone = pst_policy_zone(x->p, v))) {
                if (e->zone->nifs == 0 && e->zone->nets.n == 0)
                        return pst_cfg_error(x->c, s, "zone '%s' has neither interfaces nor networks", v);
                e->kind = PST_EP_ZONE;
        } else if ((e->host = pst_policy_host(x->p, v)))
                e->kind = PST_EP_ADDRS;
        else if ((e->list = pst_policy_list(x->p, v)))
                e->kind = PST_EP_LIST;
        else if (pst_addr_parse(v, &e->lit, &hostbits) == 0)
                e->kind = PST_EP_ADDRS;
        else
                return pst_cfg_error(x->c, s, "unknown name '%s' in 'from'; expected any, an address or network, "
                                     "or the name of a zone, host or list", v);
        return 0;
}

static int nat_out(struct nat_ctx *x, const config_setting_t *s) {
        const char *v;

        if (pst_cfg_string(x->c, s, "out", 64, &v) < 0)
                return -EINVAL;
        x->n->out = pst_policy_zone(x->p, v);
        if (!x->n->out)
                return pst_cfg_error(x->c, s, "'out' must name a zone with interfaces, and '%s' is no zone", v);
        if (x->n->out->nifs == 0)
                return pst_cfg_error(x->c, s, "zone '%s' has no interfaces, so nothing leaves by it; 'out' needs "
                                     "a zone with interfaces", v);
        return 0;
}

/* "on": "(IFNAME)", the interface whose current addresses are forwarded. */
static int nat_on(struct nat_ctx *x, const config_setting_t *s) {
        const char *v;
        char name[32];
        size_t len;
        bool wild;

        if (pst_cfg_string(x->c, s, "on", 64, &v) < 0)
                return -EINVAL;
        len = strlen(v);
        if (len < 3 || v[0] != '(' || v[len - 1] != ')' || len - 2 >= sizeof(name))
                return pst_cfg_error(x->c, s, "'on' is '%s'; expected (IFNAME), the interface whose address the "
                                     "forward follows, such as \"(ppp0)\"", v);
        snprintf(name, sizeof(name), "%.*s", (int) (len - 2), v + 1);
        if (pst_ifname_parse(name, x->n->on, &wild) < 0 || wild)
                return pst_cfg_error(x->c, s, "'%s': 'on' needs one exact interface name (1-15 characters, no "
                                     "wildcard)", v);
        return 0;
}

static int nat_port_add(struct pst_cfg *c, const config_setting_t *item, struct pst_nat_rule *n,
                        const struct pst_nat_port *p);

/* allow = ["smtp", ...]: the tcp and udp ports of services, not remapped */
static int nat_svc_item(struct pst_cfg *c, const config_setting_t *item, void *userdata) {
        struct nat_ctx *x = userdata;
        const struct pst_service *svc = NULL;
        const char *v;

        if (config_setting_type(item) != CONFIG_TYPE_STRING)
                return pst_cfg_error(c, item, "'allow' entries must be service names, not %s", pst_cfg_type_name(item));
        v = config_setting_get_string(item);
        for (size_t i = 0; !svc && i < x->p->nservices; i++)
                if (streq(x->p->services[i]->name, v))
                        svc = x->p->services[i];
        if (!svc && !(svc = pst_catalog_find(x->cat, v)))
                return pst_cfg_error(c, item, "unknown service '%s' in a forward's 'allow'", v);
        if (svc->nproto || svc->nicmp || svc->nicmp6 || (svc->ntcp == 0 && svc->nudp == 0))
                return pst_cfg_error(c, item, "service '%s' is not only tcp/udp ports; a forward translates tcp "
                                     "and udp ports only", v);
        for (unsigned i = 0; i < svc->ntcp + svc->nudp; i++) {
                bool tcp = i < svc->ntcp;
                const struct pst_portrange *pr = tcp ? &svc->tcp[i] : &svc->udp[i - svc->ntcp];
                struct pst_nat_port pt = { tcp ? IPPROTO_TCP : IPPROTO_UDP, pr->first, pr->last, 0 };

                if (nat_port_add(c, item, x->n, &pt) < 0)
                        return -EINVAL;
        }
        return 0;
}

/* 25, "1024-2000", or "8443:443" (outside port : inside port). */
static int nat_port_item(struct pst_cfg *c, const config_setting_t *item, void *userdata) {
        struct nat_ctx *x = userdata;
        struct pst_nat_rule *n = x->n;
        struct pst_nat_port pt = { .proto = x->proto };
        struct pst_portrange pr, to;
        char buf[32];

        if (config_setting_type(item) == CONFIG_TYPE_INT) {
                int v = config_setting_get_int(item);

                if (v < 1 || v > 65535)
                        return pst_cfg_error(c, item, "port %d is out of range; expected 1-65535", v);
                pt.first = pt.last = (uint16_t) v;
        } else if (config_setting_type(item) == CONFIG_TYPE_STRING) {
                const char *v = config_setting_get_string(item), *colon = strchr(v, ':');

                snprintf(buf, sizeof(buf), "%.*s", (int) (colon ? (size_t) (colon - v) : strlen(v)), v);
                if (pst_portrange_parse(buf, &pr) < 0 || (colon && pst_portrange_parse(colon + 1, &to) < 0))
                        return pst_cfg_error(c, item, "'%s' is not a port; expected 25, \"1024-2000\" or "
                                             "\"8443:443\" (outside port : inside port)", v);
                if (colon && (pr.first != pr.last || to.first != to.last))
                        return pst_cfg_error(c, item, "'%s': a remapped port must be one port on each side", v);
                pt.first = pr.first;
                pt.last = pr.last;
                pt.to = colon && to.first != pr.first ? to.first : 0;
        } else
                return pst_cfg_error(c, item, "ports must be numbers or strings, not %s", pst_cfg_type_name(item));
        return nat_port_add(c, item, n, &pt);
}

static int nat_port_add(struct pst_cfg *c, const config_setting_t *item, struct pst_nat_rule *n,
                        const struct pst_nat_port *p) {
        struct pst_nat_port pt = *p;

        for (size_t i = 0; i < n->nports; i++)
                if (n->ports[i].proto == pt.proto && pt.first <= n->ports[i].last && n->ports[i].first <= pt.last)
                        return pst_cfg_error(c, item, "%s port %u is forwarded twice in this rule",
                                             pt.proto == IPPROTO_TCP ? "tcp" : "udp", MAX(pt.first, n->ports[i].first));
        if (n->nports >= PST_NAT_PORTS_MAX)
                return pst_cfg_error(c, item, "too many ports in one forward (at most %d)", PST_NAT_PORTS_MAX);
        n->ports[n->nports++] = pt;
        return 0;
}

/* "to" of a forward: a host (one address per family) or one address. */
static int nat_fwd_to(struct nat_ctx *x, const config_setting_t *s) {
        struct pst_nat_rule *n = x->n;
        const struct pst_host *h;
        const char *v;

        if (pst_cfg_string(x->c, s, "to", 64, &v) < 0)
                return -EINVAL;
        n->to = (struct pst_endpoint) { .kind = PST_EP_ADDRS, .loc = pst_cfg_loc(x->c, s) };
        h = pst_policy_host(x->p, v);
        if (!h) {
                if (!strchr(v, ':') && !strchr("0123456789", v[0]))
                        return pst_cfg_error(x->c, s, "unknown host '%s' in 'to'; a forward goes to a host or "
                                             "one address", v);
                if (nat_addr(x, s, v, &n->to.lit) < 0)
                        return -EINVAL;
                if (n->to.lit.family == AF_INET6)
                        n->ipv6 = true; /* an IPv6 address asks for IPv6 */
                *(n->to.lit.family == AF_INET ? &n->to_addr : &n->to_addr6) = n->to.lit;
                return 0;
        }
        n->to.host = h;
        for (size_t i = 0; i < h->addrs.n; i++) {
                struct pst_addr *a = h->addrs.v[i].family == AF_INET ? &n->to_addr : &n->to_addr6;

                if (h->addrs.v[i].prefixlen != pst_addr_len(h->addrs.v[i].family) * 8)
                        return pst_cfg_error(x->c, s, "host '%s' has a network, not one address; a forward needs "
                                             "one address per family", v);
                if (a->family)
                        return pst_cfg_error(x->c, s, "host '%s' has more than one %s address; a forward needs one "
                                             "address per family", v, a->family == AF_INET ? "IPv4" : "IPv6");
                *a = h->addrs.v[i];
        }
        return 0;
}

/* After the keys: what the rule as a whole must be. */
static int nat_check(struct nat_ctx *x, const config_setting_t *g) {
        struct pst_nat_rule *n = x->n;

        if (n->ipv6 && !x->p->options.ipv6)
                return pst_cfg_error(x->c, g, "ipv6 = true but options.ipv6 is false");
        if (n->kind == PST_PNAT_FORWARD) {
                if (n->nports == 0)
                        return pst_cfg_error(x->c, g, "a forward needs ports: allow = [services], tcp = [...] or udp = [...]");
                if (!n->on[0] || !n->to.loc.line)
                        return pst_cfg_error(x->c, g, "a forward needs 'on' (the interface, \"(ppp0)\") and 'to' "
                                             "(the internal host)");
                if (!n->to_addr.family && !(n->ipv6 && n->to_addr6.family))
                        return pst_cfg_error(x->c, g, "the forward's host has no IPv4 address; write ipv6 = true; "
                                             "to forward IPv6");
                return 0;
        }
        if (!n->out)
                return pst_cfg_error(x->c, g, "%s needs 'out', the zone whose interfaces the packets leave by",
                                     nat_kind_names[n->kind]);
        if (n->kind == PST_PNAT_SNAT && !n->to_addr.family)
                return pst_cfg_error(x->c, g, "snat needs 'to', the source address to write");
        return 0;
}

static int nat_key(struct nat_ctx *x, const config_setting_t *s) {
        const char *k = config_setting_name(s), *v;
        struct pst_nat_rule *n = x->n;

        if (streq(k, "out"))
                return nat_out(x, s);
        if (streq(k, "from"))
                return nat_from(x, s);
        if (streq(k, "on"))
                return nat_on(x, s);
        if (streq(k, "ipv6"))
                return pst_cfg_bool(x->c, s, "ipv6", &n->ipv6);
        if (streq(k, "allow"))
                return pst_cfg_foreach_scalar(x->c, s, k, false, nat_svc_item, x);
        if (streq(k, "tcp") || streq(k, "udp")) {
                x->proto = streq(k, "tcp") ? IPPROTO_TCP : IPPROTO_UDP;
                return pst_cfg_foreach_scalar(x->c, s, k, false, nat_port_item, x);
        }
        if (streq(k, "to") && n->kind == PST_PNAT_FORWARD)
                return nat_fwd_to(x, s);
        if (streq(k, "to")) {
                if (pst_cfg_string(x->c, s, "to", 64, &v) < 0 || nat_addr(x, s, v, &n->to_addr) < 0)
                        return -EINVAL;
                return 0;
        }
        if (pst_cfg_string(x->c, s, "comment", sizeof(n->comment) - 1, &v) < 0)
                return -EINVAL;
        strcpy(n->comment, v);
        return 0;
}

static int load_nat_rule(struct pst_cfg *c, struct pst_policy *p, const struct pst_catalog *cat,
                         const config_setting_t *item) {
        static const char *const outer[] = { "masquerade", "snat", "forward", NULL };
        static const char *const keys[][9] = {
                [PST_PNAT_MASQ] = { "out", "from", "ipv6", "comment", NULL },
                [PST_PNAT_SNAT] = { "out", "from", "to", "comment", NULL },
                [PST_PNAT_FORWARD] = { "on", "allow", "tcp", "udp", "to", "from", "ipv6", "comment", NULL },
        };
        struct pst_nat_rule n = { .from = { .kind = PST_EP_ANY } };
        struct nat_ctx x = { c, p, cat, &n, 0 };
        const config_setting_t *g;
        int r = 0;

        if (config_setting_type(item) != CONFIG_TYPE_GROUP || config_setting_length(item) != 1 ||
            pst_cfg_check_keys(c, item, "a nat rule", outer) < 0)
                return pst_cfg_error(c, item, "a nat rule is one of { masquerade = {...}; }, { snat = {...}; } or "
                                     "{ forward = {...}; }");
        g = config_setting_get_elem(item, 0);
        for (n.kind = PST_PNAT_MASQ; !streq(nat_kind_names[n.kind], config_setting_name(g)); n.kind++)
                ;
        if (pst_cfg_group(c, g, nat_kind_names[n.kind]) < 0 || pst_cfg_check_keys(c, g, "a nat rule", keys[n.kind]) < 0)
                return -EINVAL;
        n.loc = pst_cfg_loc(c, g);
        n.from.loc = n.loc;
        if (n.kind == PST_PNAT_FORWARD && !(n.ports = calloc(PST_NAT_PORTS_MAX, sizeof(*n.ports))))
                return -ENOMEM;
        for (int i = 0; i < config_setting_length(g); i++)
                if (nat_key(&x, config_setting_get_elem(g, (unsigned) i)) < 0)
                        r = -EINVAL;
        if (r == 0)
                r = nat_check(&x, g);
        if (r == 0 && GROW(p->nat, p->capnat, p->nnat + 1, PST_NAT_RULES_MAX) < 0)
                r = pst_cfg_error(c, g, "too many nat rules (at most %d)", PST_NAT_RULES_MAX);
        if (r < 0) {
                free(n.ports);
                return r;
        }
        p->nat[p->nnat++] = n;
        return 0;
}

/* The same outside port on the same interface, forwarded by two rules. */
static int check_forward_clash(struct pst_cfg *c, const struct pst_policy *p, size_t ni) {
        const struct pst_nat_rule *a = &p->nat[ni];

        for (size_t j = 0; j < ni; j++) {
                const struct pst_nat_rule *b = &p->nat[j];

                if (b->kind != PST_PNAT_FORWARD || !streq(a->on, b->on))
                        continue;
                for (size_t i = 0; i < a->nports; i++)
                        for (size_t k = 0; k < b->nports; k++)
                                if (a->ports[i].proto == b->ports[k].proto && a->ports[i].first <= b->ports[k].last &&
                                    b->ports[k].first <= a->ports[i].last)
                                        return pst_error(c->diag, -EINVAL, a->loc.file, a->loc.line,
                                                         "%s port %u on (%s) is already forwarded at %s:%u",
                                                         a->ports[i].proto == IPPROTO_TCP ? "tcp" : "udp",
                                                         MAX(a->ports[i].first, b->ports[k].first), a->on,
                                                         b->loc.file, b->loc.line);
        }
        return 0;
}

int pst_policy_load_nat(struct pst_cfg *c, struct pst_policy *p, const struct pst_catalog *cat,
                        const config_setting_t *list) {
        int t = config_setting_type(list), r = 0;

        if (t != CONFIG_TYPE_LIST && !(t == CONFIG_TYPE_ARRAY && config_setting_length(list) == 0))
                return pst_cfg_error(c, list, "nat must be a list of rules ( { masquerade = {...}; }, ... ), not %s",
                                     pst_cfg_type_name(list));
        for (int i = 0; i < config_setting_length(list); i++) {
                size_t before = p->nnat;
                int k = load_nat_rule(c, p, cat, config_setting_get_elem(list, (unsigned) i));

                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        r = k;
                else if (p->nat[before].kind == PST_PNAT_FORWARD && check_forward_clash(c, p, before) < 0)
                        r = -EINVAL;
        }
        return r;
}
