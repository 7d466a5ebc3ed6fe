/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <netinet/in.h>

#include "config.h"
#include "service.h"

/* Built in rather than read from /etc/protocols so that compiling is a pure
 * function of the policy: the same names nft prints for these numbers. */
static const struct {
        const char *name;
        uint8_t num;
} protos[] = {
        { "icmp", 1 },    { "igmp", 2 },    { "ipencap", 4 }, { "tcp", 6 },     { "egp", 8 },
        { "udp", 17 },    { "ipv6", 41 },   { "rsvp", 46 },   { "gre", 47 },    { "esp", 50 },
        { "ah", 51 },     { "ipv6-icmp", 58 }, { "eigrp", 88 }, { "ospf", 89 }, { "ipip", 94 },
        { "pim", 103 },   { "vrrp", 112 },  { "l2tp", 115 },  { "sctp", 132 },  { "udplite", 136 },
};

int pst_proto_lookup(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(protos); i++)
                if (streq(protos[i].name, name))
                        return protos[i].num;
        return -ENOENT;
}

const char *pst_proto_name(uint8_t proto) {
        for (size_t i = 0; i < ELEMENTSOF(protos); i++)
                if (protos[i].num == proto)
                        return protos[i].name;
        return NULL;
}

/* nft's names (nftables src/proto.c icmp_type_tbl / icmp6_type_tbl) */
static const struct {
        const char *name;
        uint8_t type;
} icmp4[] = {
        { "echo-reply", 0 },           { "destination-unreachable", 3 }, { "source-quench", 4 },
        { "redirect", 5 },             { "echo-request", 8 },            { "router-advertisement", 9 },
        { "router-solicitation", 10 }, { "time-exceeded", 11 },          { "parameter-problem", 12 },
        { "timestamp-request", 13 },   { "timestamp-reply", 14 },        { "info-request", 15 },
        { "info-reply", 16 },          { "address-mask-request", 17 },   { "address-mask-reply", 18 },
}, icmp6[] = {
        { "destination-unreachable", 1 }, { "packet-too-big", 2 },        { "time-exceeded", 3 },
        { "parameter-problem", 4 },       { "echo-request", 128 },        { "echo-reply", 129 },
        { "mld-listener-query", 130 },    { "mld-listener-report", 131 }, { "mld-listener-done", 132 },
        { "nd-router-solicit", 133 },     { "nd-router-advert", 134 },    { "nd-neighbor-solicit", 135 },
        { "nd-neighbor-advert", 136 },    { "nd-redirect", 137 },         { "router-renumbering", 138 },
        { "ind-neighbor-solicit", 141 },  { "ind-neighbor-advert", 142 }, { "mld2-listener-report", 143 },
};

int pst_icmp_lookup(const char *name, bool v6) {
        if (v6) {
                for (size_t i = 0; i < ELEMENTSOF(icmp6); i++)
                        if (streq(icmp6[i].name, name))
                                return icmp6[i].type;
        } else
                for (size_t i = 0; i < ELEMENTSOF(icmp4); i++)
                        if (streq(icmp4[i].name, name))
                                return icmp4[i].type;
        return -ENOENT;
}

const char *pst_icmp_name(uint8_t type, bool v6) {
        if (v6) {
                for (size_t i = 0; i < ELEMENTSOF(icmp6); i++)
                        if (icmp6[i].type == type)
                                return icmp6[i].name;
        } else
                for (size_t i = 0; i < ELEMENTSOF(icmp4); i++)
                        if (icmp4[i].type == type)
                                return icmp4[i].name;
        return NULL;
}

void pst_service_free(struct pst_service *s) {
        if (!s)
                return;
        free(s->description);
        free(s->source);
        free(s);
}

/* The scalar a list entry holds, as a string (numbers formatted). */
static const char *scalar_str(const config_setting_t *item, char buf[32]) {
        if (config_setting_type(item) == CONFIG_TYPE_STRING)
                return config_setting_get_string(item);
        snprintf(buf, 32, "%lld", config_setting_get_int64(item));
        return buf;
}

struct ports_ctx {
        struct pst_service *svc;
        bool udp;
};

static int add_ports(struct pst_cfg *c, const config_setting_t *item, const char *s, struct pst_service *svc,
                     bool udp) {
        struct pst_portrange pr;
        uint8_t *n = udp ? &svc->nudp : &svc->ntcp;
        int r;

        if (!*s)
                return pst_cfg_error(c, item, "no port given; expected %s/PORT or %s/FIRST-LAST", udp ? "udp" : "tcp",
                                     udp ? "udp" : "tcp");
        r = pst_portrange_parse(s, &pr);
        if (r == -EDOM)
                return pst_cfg_error(c, item, "port range '%s' is reversed; expected first-last with first <= last",
                                     s);
        if (r < 0)
                return pst_cfg_error(c, item, "'%s' is not a port or port range; expected 1-65535 or \"first-last\"",
                                     s);
        if (*n >= PST_SERVICE_PORTS_MAX)
                return pst_cfg_error(c, item, "too many port ranges (at most %d per protocol)",
                                     PST_SERVICE_PORTS_MAX);
        (udp ? svc->udp : svc->tcp)[(*n)++] = pr;
        return 0;
}

static int port_item(struct pst_cfg *c, const config_setting_t *item, void *userdata) {
        struct ports_ctx *p = userdata;
        char buf[32];

        return add_ports(c, item, scalar_str(item, buf), p->svc, p->udp);
}

static int add_proto(struct pst_cfg *c, const config_setting_t *item, const char *s, struct pst_service *svc) {
        int p;

        if (config_setting_type(item) == CONFIG_TYPE_STRING && !strchr("0123456789", s[0]))
                p = pst_proto_lookup(s);
        else {
                char *end;
                long v = strtol(s, &end, 10);

                p = (*end || v < 0 || v > 255) ? -EINVAL : (int) v;
        }
        if (p < 0)
                return pst_cfg_error(c, item, "unknown IP protocol '%s'; expected a name such as esp, ah, gre or a "
                                     "number 0-255", s);
        if (p == IPPROTO_TCP || p == IPPROTO_UDP || p == IPPROTO_ICMP || p == IPPROTO_ICMPV6)
                return pst_cfg_error(c, item, "protocol '%s' has its own key; use tcp, udp, icmp or icmpv6", s);
        if (svc->nproto >= PST_SERVICE_PROTOS_MAX)
                return pst_cfg_error(c, item, "too many protocols (at most %d)", PST_SERVICE_PROTOS_MAX);
        svc->proto[svc->nproto++] = (uint8_t) p;
        return 0;
}

static int proto_item(struct pst_cfg *c, const config_setting_t *item, void *userdata) {
        char buf[32];

        return add_proto(c, item, scalar_str(item, buf), userdata);
}

static int add_icmp(struct pst_cfg *c, const config_setting_t *item, const char *s, struct pst_service *svc,
                    bool v6) {
        uint8_t *n = v6 ? &svc->nicmp6 : &svc->nicmp;
        int t;

        if (strchr("0123456789", s[0]) && s[0]) {
                char *end;
                long v = strtol(s, &end, 10);

                t = (*end || v < 0 || v > 255) ? -EINVAL : (int) v;
        } else
                t = pst_icmp_lookup(s, v6);
        if (t < 0)
                return pst_cfg_error(c, item, "unknown %s type '%s'; expected a name such as echo-request or a "
                                     "number 0-255", v6 ? "ICMPv6" : "ICMP", s);
        if (*n >= PST_SERVICE_ICMP_MAX)
                return pst_cfg_error(c, item, "too many ICMP types (at most %d)", PST_SERVICE_ICMP_MAX);
        (v6 ? svc->icmp6 : svc->icmp)[(*n)++] = (uint8_t) t;
        return 0;
}

struct icmp_ctx {
        struct pst_service *svc;
        bool v6;
};

static int icmp_item(struct pst_cfg *c, const config_setting_t *item, void *userdata) {
        struct icmp_ctx *ic = userdata;
        char buf[32];

        return add_icmp(c, item, scalar_str(item, buf), ic->svc, ic->v6);
}

static bool service_empty(const struct pst_service *s) {
        return !s->ntcp && !s->nudp && !s->nproto && !s->nicmp && !s->nicmp6;
}

int pst_service_parse(struct pst_cfg *c, const config_setting_t *g, bool need_description,
                      struct pst_service **ret) {
        static const char *const keys[] = { "tcp", "udp", "protocols", "icmp", "icmpv6", "description", "source",
                                            NULL };
        _cleanup_(pst_service_freep) struct pst_service *svc = NULL;
        const config_setting_t *s;
        const char *name = config_setting_name(g);
        int r = 0;

        if (pst_cfg_group(c, g, "a service") < 0)
                return -EINVAL;
        if (strlen(name) >= PST_SERVICE_NAME_MAX)
                return pst_cfg_error(c, g, "service name '%s' is too long; at most %d bytes", name,
                                     PST_SERVICE_NAME_MAX - 1);
        r = pst_cfg_check_keys(c, g, "a service", keys);
        if (r < 0)
                return r;

        svc = calloc(1, sizeof(*svc));
        if (!svc)
                return -ENOMEM;
        strcpy(svc->name, name);
        svc->loc = pst_cfg_loc(c, g);

        if ((s = config_setting_get_member(g, "tcp")))
                r |= pst_cfg_foreach_scalar(c, s, "tcp", false, port_item, &(struct ports_ctx) { svc, false });
        if ((s = config_setting_get_member(g, "udp")))
                r |= pst_cfg_foreach_scalar(c, s, "udp", false, port_item, &(struct ports_ctx) { svc, true });
        if ((s = config_setting_get_member(g, "protocols")))
                r |= pst_cfg_foreach_scalar(c, s, "protocols", false, proto_item, svc);
        if ((s = config_setting_get_member(g, "icmp")))
                r |= pst_cfg_foreach_scalar(c, s, "icmp", false, icmp_item, &(struct icmp_ctx) { svc, false });
        if ((s = config_setting_get_member(g, "icmpv6")))
                r |= pst_cfg_foreach_scalar(c, s, "icmpv6", false, icmp_item, &(struct icmp_ctx) { svc, true });
        if ((s = config_setting_get_member(g, "description"))) {
                const char *v;

                if (pst_cfg_string(c, s, "description", 200, &v) < 0)
                        r = -EINVAL;
                else if (!(svc->description = strdup(v)))
                        return -ENOMEM;
        } else if (need_description)
                r = pst_cfg_error(c, g, "service '%s' has no description; every catalog entry needs one", name);
        if ((s = config_setting_get_member(g, "source"))) {
                const char *v;

                if (pst_cfg_string(c, s, "source", 200, &v) < 0)
                        r = -EINVAL;
                else if (!(svc->source = strdup(v)))
                        return -ENOMEM;
        }
        if (r < 0)
                return -EINVAL;
        if (service_empty(svc))
                return pst_cfg_error(c, g, "service '%s' allows nothing; expected at least one of tcp, udp, "
                                     "protocols, icmp, icmpv6", name);
        *ret = TAKE_PTR(svc);
        return 0;
}

bool pst_service_is_inline(const char *s) {
        static const char *const kinds[] = { "tcp/", "udp/", "proto/", "icmp/", "icmpv6/" };

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                if (!strncmp(s, kinds[i], strlen(kinds[i])))
                        return true;
        return false;
}

int pst_service_parse_inline(struct pst_cfg *c, const config_setting_t *item, const char *s,
                             struct pst_service **ret) {
        _cleanup_(pst_service_freep) struct pst_service *svc = NULL;
        const char *slash = strchr(s, '/');
        size_t plen;
        int r;

        if (!slash)
                return -ENOENT;
        plen = (size_t) (slash - s);
        svc = calloc(1, sizeof(*svc));
        if (!svc)
                return -ENOMEM;
        snprintf(svc->name, sizeof(svc->name), "%s", s);
        svc->loc = pst_cfg_loc(c, item);

        if (plen == 3 && !strncmp(s, "tcp", 3))
                r = add_ports(c, item, slash + 1, svc, false);
        else if (plen == 3 && !strncmp(s, "udp", 3))
                r = add_ports(c, item, slash + 1, svc, true);
        else if (plen == 5 && !strncmp(s, "proto", 5))
                r = add_proto(c, item, slash + 1, svc);
        else if (plen == 4 && !strncmp(s, "icmp", 4))
                r = add_icmp(c, item, slash + 1, svc, false);
        else if (plen == 6 && !strncmp(s, "icmpv6", 6))
                r = add_icmp(c, item, slash + 1, svc, true);
        else
                return pst_cfg_error(c, item, "'%s' is not a service; inline services are written tcp/PORT, "
                                     "udp/FIRST-LAST, proto/NAME, icmp/TYPE or icmpv6/TYPE", s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(svc);
        return 0;
}

void pst_catalog_clear(struct pst_catalog *cat) {
        for (size_t i = 0; i < cat->n; i++)
                pst_service_free(cat->v[i]);
        free(cat->v);
        pst_strpool_clear(&cat->files);
        pst_read_log_clear(&cat->read);
        *cat = (struct pst_catalog) {};
}

int pst_catalog_new(struct pst_catalog **ret) {
        struct pst_catalog *cat = calloc(1, sizeof(*cat));

        if (!cat)
                return -ENOMEM;
        *ret = cat;
        return 0;
}

void pst_catalog_free(struct pst_catalog *cat) {
        if (!cat)
                return;
        pst_catalog_clear(cat);
        free(cat);
}

const struct pst_service *pst_catalog_find(const struct pst_catalog *cat, const char *name) {
        for (size_t i = 0; i < cat->n; i++)
                if (streq(cat->v[i]->name, name))
                        return cat->v[i];
        return NULL;
}

int pst_catalog_load(struct pst_catalog *cat, const char *path, unsigned source_flags, struct pst_diag *diag) {
        static const char *const keys[] = { "services", NULL };
        struct pst_cfg c = { .files = &cat->files, .diag = diag, .source_flags = source_flags, .log = &cat->read };
        config_t cfg;
        config_setting_t *root, *svcs;
        int n, r;

        c.main_file = pst_strpool_intern(&cat->files, path);
        if (!c.main_file)
                return -ENOMEM;
        config_init(&cfg);
        r = pst_cfg_read(&c, &cfg, path);
        if (r < 0)
                goto out;
        root = config_root_setting(&cfg);
        r = pst_cfg_check_keys(&c, root, "the catalog", keys);
        if (r < 0)
                goto out;
        svcs = config_setting_get_member(root, "services");
        if (!svcs || pst_cfg_group(&c, svcs, "services") < 0) {
                r = svcs ? -EINVAL : pst_error(diag, -EINVAL, path, 0, "no 'services = { ... };' group");
                goto out;
        }
        n = config_setting_length(svcs);
        for (int i = 0; i < n; i++) {
                _cleanup_(pst_service_freep) struct pst_service *svc = NULL;
                bool replaced = false;
                int k;

                k = pst_service_parse(&c, config_setting_get_elem(svcs, (unsigned) i), true, &svc);
                if (k < 0) {
                        r = k;
                        continue;
                }
                for (size_t j = 0; j < cat->n; j++)
                        if (streq(cat->v[j]->name, svc->name)) {
                                pst_service_free(cat->v[j]);
                                cat->v[j] = TAKE_PTR(svc);
                                replaced = true;
                                break; /* names are unique in a catalog */
                        }
                if (replaced)
                        continue;
                k = GROW(cat->v, cat->cap, cat->n + 1, PST_CATALOG_MAX);
                if (k < 0) {
                        r = pst_error(diag, k, path, 0, "too many services (at most %d)", PST_CATALOG_MAX);
                        break;
                }
                cat->v[cat->n++] = TAKE_PTR(svc);
        }
out:
        config_destroy(&cfg);
        return r;
}

static int conf_filter(const struct dirent *de) {
        size_t l = strlen(de->d_name);

        return de->d_name[0] != '.' && l > 5 && streq(de->d_name + l - 5, ".conf");
}

int pst_catalog_load_dir(struct pst_catalog *cat, const char *dir, unsigned source_flags, struct pst_diag *diag) {
        struct dirent **list = NULL;
        int n, r = 0;

        n = scandir(dir, &list, conf_filter, alphasort);
        if (n < 0)
                return errno == ENOENT ? 0 : pst_error(diag, -errno, dir, 0, "cannot read directory: %m");
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;

                if (r >= 0 && asprintf(&path, "%s/%s", dir, list[i]->d_name) >= 0)
                        r = pst_catalog_load(cat, path, source_flags, diag);
                free(list[i]);
        }
        free(list);
        return r;
}

static const char *catalog_main(const char *path) {
        /* $POSTERN_CATALOG replaces the installed catalog: how a build tree runs
         * without installing (meson devenv and the tests set it to conf/services.conf);
         * installed binaries carry no build-tree path */
        const char *env = secure_getenv("POSTERN_CATALOG");

        return path ? path : env && *env ? env : POSTERN_CATALOG;
}

int pst_catalog_load_default(struct pst_catalog *cat, const char *path, unsigned source_flags,
                             struct pst_diag *diag) {
        int r;

        r = pst_catalog_load(cat, catalog_main(path), source_flags, diag);
        if (r < 0 || path)
                return r;
        return pst_catalog_load_dir(cat, POSTERN_CATALOG_DIR, source_flags, diag);
}

int pst_catalog_default_files(const char *path, char ***ret, size_t *ret_n) {
        struct dirent **list = NULL;
        char **v;
        int n = 0;

        if (!path) {
                n = scandir(POSTERN_CATALOG_DIR, &list, conf_filter, alphasort);
                if (n < 0 && errno != ENOENT)
                        return -errno;
                n = MAX(n, 0);
        }
        v = calloc((size_t) n + 1, sizeof(char *));
        if (v)
                v[0] = strdup(catalog_main(path));
        for (int i = 0; i < n; i++) {
                if (v && asprintf(&v[i + 1], "%s/%s", POSTERN_CATALOG_DIR, list[i]->d_name) < 0)
                        v[i + 1] = NULL;
                free(list[i]);
        }
        free(list);
        for (int i = 0; v && i <= n; i++)
                if (!v[i]) {
                        for (int j = 0; j <= n; j++)
                                free(v[j]);
                        free(v);
                        v = NULL;
                }
        if (!v)
                return -ENOMEM;
        *ret = v;
        *ret_n = (size_t) n + 1;
        return 0;
}
