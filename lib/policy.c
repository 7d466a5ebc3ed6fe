/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <dirent.h>
#include <libgen.h>
#include <net/if.h>

#include "list-cache.h"
#include "policy.h"
#include "source.h"

/*
 * Loading happens in two passes over all files (main file first, then the
 * fragments in lexical order) with every libconfig tree kept alive:
 *   1. definitions: options (main file only), zones, hosts, lists, services;
 *   2. rules, whose names may refer to definitions in any file.
 * Every problem is recorded; loading goes on so one run shows them all.
 */

struct loader {
        struct pst_cfg c;
        struct pst_policy *p;
        const struct pst_catalog *cat;
        struct pst_diag *diag;
        struct pst_list_cache *cache; /* NULL: parse every list file whole */
        bool ranges_only; /* a list read through cache leaves its entries there (reread) */
        bool has_rules; /* some file says input = (...) or forward = (...), even empty */
};

static const char *const icmp_levels[] = {
        [PST_ICMP_NONE] = "none",
        [PST_ICMP_ESSENTIAL] = "essential",
        [PST_ICMP_PING] = "ping",
        [PST_ICMP_ALL] = "all",
};

const char *pst_icmp_level_name(enum pst_icmp_level l) {
        return (unsigned) l < ELEMENTSOF(icmp_levels) ? icmp_levels[l] : NULL;
}

const uint8_t *pst_icmp_level_types(enum pst_icmp_level l, bool v6, size_t *ret_n) {
        static const uint8_t ess4[] = { 3, 11, 12 }, ping4[] = { 3, 8, 11, 12 };
        static const uint8_t ess6[] = { 1, 2, 3, 4 }, ping6[] = { 1, 2, 3, 4, 128 };

        if (l != PST_ICMP_ESSENTIAL && l != PST_ICMP_PING) {
                *ret_n = 0;
                return NULL;
        }
        if (v6) {
                *ret_n = l == PST_ICMP_PING ? ELEMENTSOF(ping6) : ELEMENTSOF(ess6);
                return l == PST_ICMP_PING ? ping6 : ess6;
        }
        *ret_n = l == PST_ICMP_PING ? ELEMENTSOF(ping4) : ELEMENTSOF(ess4);
        return l == PST_ICMP_PING ? ping4 : ess4;
}

static void addrs_clear(struct pst_addrs *a) {
        free(a->v);
        *a = (struct pst_addrs) {};
}

/* Destructors of the policy's objects: each accepts NULL and a half-built object. */
static void zone_free(struct pst_zone *z) {
        if (!z)
                return;
        addrs_clear(&z->nets);
        free(z);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_zone *, zone_free);

static void host_free(struct pst_host *h) {
        if (!h)
                return;
        addrs_clear(&h->addrs);
        free(h);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_host *, host_free);

static void list_free(struct pst_list *li) {
        if (!li)
                return;
        addrs_clear(&li->addrs);
        pst_list_ranges_free(li->ranges);
        free(li);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_list *, list_free);

/* A rule is held by value: this empties it (the services and endpoints it
 * points to belong to the policy and the catalog). */
static void prule_clear(struct pst_prule *ru) {
        free(ru->svc);
        free(ru->via);
        free(ru->from);
        free(ru->to);
        free(ru->rpc);
        *ru = (struct pst_prule) {};
}

void pst_policy_free(struct pst_policy *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->nzones; i++)
                zone_free(p->zones[i]);
        free(p->zones);
        for (size_t i = 0; i < p->nhosts; i++)
                host_free(p->hosts[i]);
        free(p->hosts);
        for (size_t i = 0; i < p->nlists; i++)
                list_free(p->lists[i]);
        free(p->lists);
        for (size_t i = 0; i < p->nservices; i++)
                pst_service_free(p->services[i]);
        free(p->services);
        for (size_t i = 0; i < p->nrules; i++)
                prule_clear(&p->rules[i]);
        free(p->rules);
        for (size_t i = 0; i < p->ngroups; i++) {
                free(p->groups[i]->svc); /* the services belong to the policy and the catalog */
                free(p->groups[i]);
        }
        free(p->groups);
        pst_policy_free_nat(p);
        pst_strpool_clear(&p->files);
        pst_read_log_clear(&p->read);
        free(p->path);
        free(p);
}

void pst_policy_digest_hex(const struct pst_policy *p, char out[17]) {
        snprintf(out, 17, "%016llx", (unsigned long long) p->digest);
}

/* Edit distance, for "did you mean" hints; small strings only. */
static unsigned edit_distance(const char *a, const char *b) {
        unsigned la = (unsigned) strlen(a), lb = (unsigned) strlen(b);
        unsigned row[64];

        if (la >= 63 || lb >= 63)
                return 99;
        for (unsigned j = 0; j <= lb; j++)
                row[j] = j;
        for (unsigned i = 1; i <= la; i++) {
                unsigned prev = row[0];

                row[0] = i;
                for (unsigned j = 1; j <= lb; j++) {
                        unsigned cur = row[j];
                        unsigned best = prev + (a[i - 1] != b[j - 1]);

                        best = MIN(best, row[j] + 1);
                        best = MIN(best, row[j - 1] + 1);
                        row[j] = best;
                        prev = cur;
                }
        }
        return row[lb];
}

struct suggest {
        const char *want;
        const char *best;
        unsigned dist;
};

static void suggest_try(struct suggest *s, const char *cand) {
        unsigned d = edit_distance(s->want, cand);

        if (d < s->dist && d <= 2 && d < strlen(cand)) {
                s->dist = d;
                s->best = cand;
        }
}

static const char *suggest_hint(const struct suggest *s, char buf[96]) {
        if (!s->best)
                return "";
        snprintf(buf, 96, " (did you mean '%s'?)", s->best);
        return buf;
}

/* ---- addresses ---- */

static int addrs_add(struct pst_addrs *a, const struct pst_addr *addr, size_t max) {
        int r = GROW(a->v, a->cap, a->n + 1, max);

        if (r < 0)
                return r;
        a->v[a->n++] = *addr;
        if (addr->family == AF_INET)
                a->has4 = true;
        else
                a->has6 = true;
        return 0;
}

/* Parse one address; errors name where (file:line) and what. */
static int parse_addr(struct loader *l, const char *file, unsigned line, const char *s, struct pst_addr *ret) {
        static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff }; /* ::ffff:0:0/96 */
        bool hostbits;
        int r;

        r = pst_addr_parse(s, ret, &hostbits);
        if (r < 0 && hostbits) {
                char buf[PST_ADDR_STRLEN];

                return pst_error(l->diag, -EINVAL, file, line,
                                 "'%s' has host bits set; expected a network address such as %s", s,
                                 pst_addr_format(ret, buf));
        }
        if (r == -ERANGE)
                return pst_error(l->diag, -EINVAL, file, line,
                                 "'%s': prefix length out of range; expected /0-/32 for IPv4, /0-/128 for IPv6", s);
        if (r < 0)
                return pst_error(l->diag, -EINVAL, file, line,
                                 "'%s' is not an address or network; expected IPv4 or IPv6, e.g. 198.18.0.1, "
                                 "198.18.0.0/24, 2001:db8::/32",
                                 s);
        if (ret->family == AF_INET6 && memcmp(ret->a, v4mapped, sizeof(v4mapped)) == 0) {
                char v4[INET_ADDRSTRLEN];

                inet_ntop(AF_INET, ret->a + 12, v4, sizeof(v4));
                return pst_error(l->diag, -EINVAL, file, line,
                                 "'%s' is an IPv4-mapped IPv6 address, which never matches: IPv4 clients arrive as "
                                 "IPv4; write %s", s, v4);
        }
        if (ret->family == AF_INET6 && !l->p->options.ipv6)
                return pst_error(l->diag, -EINVAL, file, line,
                                 "'%s' is an IPv6 address but options.ipv6 is false; remove it or enable IPv6", s);
        return 0;
}

struct addrs_ctx {
        struct loader *l;
        struct pst_addrs *addrs;
        size_t max;
};

static int addr_item(struct pst_cfg *c, const config_setting_t *item, void *userdata) {
        struct addrs_ctx *a = userdata;
        struct pst_loc loc = pst_cfg_loc(c, item);
        struct pst_addr addr;
        int r;

        if (config_setting_type(item) != CONFIG_TYPE_STRING)
                return pst_cfg_error(c, item, "addresses must be strings such as \"198.18.0.1\", not %s",
                                     pst_cfg_type_name(item));
        r = parse_addr(a->l, loc.file, loc.line, config_setting_get_string(item), &addr);
        if (r < 0)
                return r;
        r = addrs_add(a->addrs, &addr, a->max);
        if (r < 0)
                return pst_cfg_error(c, item, "too many addresses (at most %zu)", a->max);
        return 0;
}

/* Relative paths are relative to the directory of the file that names them. */
static char *resolve_path(const char *base, const char *path) {
        _cleanup_free_ char *dir = NULL;
        const char *d;
        char *ret;

        if (path[0] == '/')
                return strdup(path);
        dir = strdup(base);
        if (!dir)
                return NULL;
        d = dirname(dir);
        if (streq(d, "."))
                return strdup(path);
        if (asprintf(&ret, "%s/%s", d, path) < 0)
                return NULL;
        return ret;
}

/* Where parsed list entries go: straight into the list, or (with the
 * cache) into lines that also record each entry's offset and line. */
struct list_sink {
        struct pst_addrs *addrs;
        struct pst_list_lines *lines;
        size_t base, max; /* text's offset in the file; entries at most */
};

/* The lines of text (NUL-terminated, modified), the first one line lineno. */
static int parse_list_lines(struct loader *l, const char *ipath, char *text, unsigned lineno,
                            const struct list_sink *k) {
        char *line, *next;
        int r, errors = 0;

        for (line = text; line && *line; line = next) {
                size_t off = k->base + (size_t) (line - text);
                struct pst_addr a;
                char *e, *hash;

                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                hash = strchr(line, '#');
                if (hash)
                        *hash = 0;
                while (*line == ' ' || *line == '\t' || *line == '\r')
                        line++;
                e = line + strlen(line);
                while (e > line && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                        *--e = 0;
                if (*line && parse_addr(l, ipath, lineno, line, &a) < 0) {
                        if (++errors >= 10)
                                return -EINVAL;
                } else if (*line) {
                        r = k->lines ? pst_list_lines_add(k->lines, &a, off, lineno, k->max)
                                     : addrs_add(k->addrs, &a, k->max);
                        if (r < 0)
                                return pst_error(l->diag, r, ipath, lineno, "too many entries (at most %d per list)",
                                                 PST_LIST_ENTRIES_MAX);
                }
                lineno++;
        }
        return errors ? -EINVAL : 0;
}

/* The whole file into addrs. */
static int parse_list_all(struct loader *l, const char *ipath, char *buf, size_t size, struct pst_addrs *addrs) {
        /* Room for one entry per line at once: growing by doubling to 100k
         * entries copies and zeroes the array ~14 times. */
        size_t lines = 1;
        int r;

        for (const char *p = buf; (p = memchr(p, '\n', size - (size_t) (p - buf))); p++)
                lines++;
        r = GROW(addrs->v, addrs->cap, MIN(addrs->n + lines, (size_t) PST_LIST_ENTRIES_MAX), PST_LIST_ENTRIES_MAX);
        if (r < 0)
                return r;
        return parse_list_lines(l, ipath, buf, 1, &(struct list_sink) { .addrs = addrs, .max = PST_LIST_ENTRIES_MAX });
}

/* Through the cache (list-cache.h): only the lines that changed since the
 * cached read of list `name` are parsed.  1: the list grew beyond its
 * bound in the kept tail; the caller parses it all (for the message that
 * names the entry that overflows). */
static int parse_list_cached(struct loader *l, struct pst_list *li, const char *ipath, char **pbuf, size_t size,
                             uint64_t *digest) {
        const char *buf = *pbuf;
        struct pst_addrs *addrs = &li->addrs;
        _cleanup_(pst_list_lines_clear) struct pst_list_lines mid = {};
        _cleanup_free_ char *text = NULL;
        struct pst_list_plan plan;
        int r;

        pst_list_cache_plan(l->cache, li->name, buf, size, &plan);
        *digest = plan.reuse ? plan.digest : pst_digest_bytes(buf, size);
        /* read unchecked: the kept lines passed the check when they were cached */
        r = pst_source_check_lines(ipath, buf + plan.start, plan.end - plan.start, plan.first_line, l->diag);
        if (r < 0)
                return r;
        if (plan.end > plan.start) {
                text = strndup(buf + plan.start, plan.end - plan.start);
                if (!text)
                        return -ENOMEM;
                r = parse_list_lines(l, ipath, text, plan.first_line,
                                     &(struct list_sink) { .lines = &mid, .base = plan.start,
                                                           .max = PST_LIST_ENTRIES_MAX - plan.keep_head });
                if (r < 0)
                        return r;
        }
        if (plan.keep_head + mid.n + plan.keep_tail > PST_LIST_ENTRIES_MAX)
                return 1;
        if (l->ranges_only) {
                const struct pst_list_ranges *rg;

                r = pst_list_cache_splice(l->cache, li->name, pbuf, size, &plan, &mid, *digest,
                                          PST_LIST_ENTRIES_MAX, NULL, NULL, NULL);
                rg = r < 0 ? NULL : pst_list_cache_ranges(l->cache, li->name);
                if (rg) {
                        addrs->has4 = rg->n[0] > 0;
                        addrs->has6 = rg->n[1] > 0;
                }
                return r < 0 ? r : rg ? 0 : -ENOENT;
        }
        r = pst_list_cache_splice(l->cache, li->name, pbuf, size, &plan, &mid, *digest, PST_LIST_ENTRIES_MAX,
                                  &addrs->v, &addrs->n, &li->ranges);
        if (r < 0)
                return r;
        addrs->cap = MAX(addrs->n, (size_t) 1);
        for (size_t i = 0; i < addrs->n; i++) {
                addrs->has4 |= addrs->v[i].family == AF_INET;
                addrs->has6 |= addrs->v[i].family == AF_INET6;
        }
        return 0;
}

/* Read and parse list file path (interned as ipath) into li. */
static int read_list_file(struct loader *l, const char *path, const char *ipath, const struct pst_loc *loc,
                          struct pst_list *li, uint64_t *digest) {
        _cleanup_free_ char *buf = l->cache ? pst_list_cache_spare(l->cache, li->name) : NULL;
        size_t size;
        int r;

        r = pst_source_read(path, PST_SYNTAX_LIST, l->c.source_flags | (l->cache ? PST_SOURCE_UNCHECKED : 0), loc,
                            l->diag, &buf, &size, NULL);
        if (r < 0)
                return r;
        r = l->cache ? parse_list_cached(l, li, ipath, &buf, size, digest) : 1;
        if (r > 0) {
                *digest = pst_digest_bytes(buf, size);
                r = parse_list_all(l, ipath, buf, size, &li->addrs);
        }
        return r;
}

static int load_list_file(struct loader *l, const config_setting_t *s, const char *rel, struct pst_list *li) {
        struct pst_loc loc = pst_cfg_loc(&l->c, s);
        _cleanup_free_ char *path = NULL;
        const char *ipath;
        uint64_t digest = 0;
        int r;

        path = resolve_path(loc.file, rel);
        if (!path)
                return -ENOMEM;
        ipath = pst_strpool_intern(&l->p->files, path);
        if (!ipath)
                return -ENOMEM;
        r = read_list_file(l, path, ipath, &loc, li, &digest);
        if (r < 0)
                return r;
        /* the index li gets when the load goes on (a log of a failed load is not used) */
        pst_read_log_add(&l->p->read, PST_READ_LIST, ipath, NULL, 0, l->p->nlists, digest);
        l->p->digest = pst_digest_fold(l->p->digest, path, digest);
        return r;
}

int pst_policy_reread_list(const struct pst_policy *p, const struct pst_read_entry *e, unsigned source_flags,
                           struct pst_list_cache *cache, struct pst_diag *diag, struct pst_addrs *ret,
                           const struct pst_list_ranges **ret_ranges, uint64_t *ret_digest) {
        /* the parse reads p->options.ipv6 only: options come from the main
         * file, before any list (load_definitions), so they are what that
         * load's parse of this list saw */
        struct loader l = { .p = (struct pst_policy *) p, .diag = diag, .cache = cache, .ranges_only = true,
                            .c = { .diag = diag, .source_flags = source_flags } };
        _cleanup_(list_freep) struct pst_list *li = NULL;
        const struct pst_list *old;
        struct pst_loc loc;
        int r;

        if (e->kind != PST_READ_LIST || e->list >= p->nlists)
                return -EINVAL;
        old = p->lists[e->list];
        loc = old->loc;
        li = calloc(1, sizeof(*li));
        if (!li)
                return -ENOMEM;
        strcpy(li->name, old->name);
        /* e->path is interned in p->files: the messages' file names outlive this */
        r = read_list_file(&l, e->path, e->path, &loc, li, ret_digest);
        if (r < 0)
                return r;
        *ret = li->addrs;
        li->addrs = (struct pst_addrs) {};
        /* through the cache the entries stay there, and so do their ranges */
        *ret_ranges = cache && !ret->v ? pst_list_cache_ranges(cache, li->name) : NULL;
        return 0;
}

/* ---- names ---- */

static const struct pst_loc *endpoint_name_loc(const struct pst_policy *p, const char *name) {
        for (size_t i = 0; i < p->nzones; i++)
                if (streq(p->zones[i]->name, name))
                        return &p->zones[i]->loc;
        for (size_t i = 0; i < p->nhosts; i++)
                if (streq(p->hosts[i]->name, name))
                        return &p->hosts[i]->loc;
        for (size_t i = 0; i < p->nlists; i++)
                if (streq(p->lists[i]->name, name))
                        return &p->lists[i]->loc;
        return NULL;
}

static bool reserved_name(const char *name) {
        return streq(name, "any");
}

/* Check a new zone/host/list name: length, reserved, unique. */
static int check_new_name(struct loader *l, const config_setting_t *s, const char *what) {
        const char *name = config_setting_name(s);
        const struct pst_loc *prev;

        if (strlen(name) >= PST_NAME_LEN)
                return pst_cfg_error(&l->c, s, "%s name '%s' is too long; at most %d bytes", what, name,
                                     PST_NAME_LEN - 1);
        if (reserved_name(name))
                return pst_cfg_error(&l->c, s, "'%s' is reserved and cannot name a %s", name, what);
        prev = endpoint_name_loc(l->p, name);
        if (prev)
                return pst_cfg_error(&l->c, s, "'%s' is already defined at %s:%u; zone, host and list names "
                                     "share one namespace", name, prev->file, prev->line);
        return 0;
}

/* Strings that end up inside nft's double quotes: no quotes, no control characters. */
static int check_printable(struct loader *l, const config_setting_t *s, const char *what, const char *v) {
        for (const unsigned char *p = (const unsigned char *) v; *p; p++)
                if (*p == '"' || *p == '\\' || *p < 0x20 || *p == 0x7f)
                        return pst_cfg_error(&l->c, s, "%s must not contain quotes, backslashes or control "
                                             "characters", what);
        return 0;
}

/* ---- options ---- */

static int parse_icmp_level(struct loader *l, const config_setting_t *s, const char *what,
                            enum pst_icmp_level *ret) {
        const char *v;

        if (pst_cfg_string(&l->c, s, what, 64, &v) < 0)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(icmp_levels); i++)
                if (streq(v, icmp_levels[i])) {
                        *ret = (enum pst_icmp_level) i;
                        return 0;
                }
        return pst_cfg_error(&l->c, s, "%s '%s' is not valid; expected none, essential, ping or all", what, v);
}

/*
 * options.forward: "managed" (the default) or "unmanaged", for a host where
 * Docker, libvirt or another tool owns forwarding.  Unmanaged, postern
 * installs no forward base chain at all (a chain of ours with policy drop
 * would drop what the other tool accepts: every base chain on a hook must
 * accept a packet), so forward_icmp has nothing to act on and is refused
 * here; forward rules are refused once every file is read
 * (check_unmanaged_forward).
 */
static int load_forward_option(struct loader *l, const config_setting_t *g) {
        const config_setting_t *s = config_setting_get_member(g, "forward"), *icmp;
        const char *v;

        if (!s)
                return 0;
        if (pst_cfg_string(&l->c, s, "options.forward", 16, &v) < 0)
                return -EINVAL;
        if (streq(v, "managed"))
                l->p->options.forward_unmanaged = false;
        else if (streq(v, "unmanaged"))
                l->p->options.forward_unmanaged = true;
        else
                return pst_cfg_error(&l->c, s, "options.forward must be \"managed\" or \"unmanaged\", not \"%s\"",
                                     v);
        icmp = config_setting_get_member(g, "forward_icmp");
        if (l->p->options.forward_unmanaged && icmp)
                return pst_cfg_error(&l->c, icmp, "options.forward_icmp has no effect with options.forward = "
                                     "\"unmanaged\" (postern installs no forward chain); remove it");
        return 0;
}

/* options.rematch needs ct mark, which the iptables backend does not write (CONNMARK would). */
static int load_rematch_option(struct loader *l, const config_setting_t *g) {
        const config_setting_t *s = config_setting_get_member(g, "rematch");

        if (!s)
                return 0;
        if (pst_cfg_bool(&l->c, s, "options.rematch", &l->p->options.rematch) < 0)
                return -EINVAL;
        l->p->options.rematch_loc = pst_cfg_loc(&l->c, s);
        if (l->p->options.rematch && l->p->options.backend == PST_BACKEND_IPTABLES)
                return pst_cfg_error(&l->c, s, "options.rematch = true needs the nftables backend; "
                                     "options.backend is \"iptables\"");
        return 0;
}

/* options.rpc_mechanism: who reads the endpoint mapper's replies (rpc.h). */
static int load_rpc_mechanism_option(struct loader *l, const config_setting_t *g) {
        static const struct {
                const char *name;
                unsigned mech;
        } names[] = {
                { "auto", PST_RPC_MECH_AUTO },
                { "log", 0 },
                { "queue", PST_RPC_MECH_QUEUE },
                { "kernel+log", PST_RPC_MECH_KERNEL },
                { "kernel+queue", PST_RPC_MECH_KERNEL | PST_RPC_MECH_QUEUE },
        };
        const config_setting_t *s = config_setting_get_member(g, "rpc_mechanism");
        const char *v;

        if (!s)
                return 0;
        if (pst_cfg_string(&l->c, s, "options.rpc_mechanism", 16, &v) < 0)
                return -EINVAL;
        l->p->options.rpc_mech_loc = pst_cfg_loc(&l->c, s);
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(v, names[i].name)) {
                        l->p->options.rpc_mech = names[i].mech;
                        return 0;
                }
        return pst_cfg_error(&l->c, s, "options.rpc_mechanism must be \"auto\", \"log\", \"queue\", "
                             "\"kernel+log\" or \"kernel+queue\", not \"%s\"", v);
}

static int load_options(struct loader *l, const config_setting_t *g) {
        static const char *const keys[] = { "ipv6", "icmp", "forward_icmp", "log_drops", "log_prefix", "log_rate",
                                            "backend", "forward", "rematch", "rpc_mechanism", NULL };
        struct pst_options *o = &l->p->options;
        const config_setting_t *s;
        int r = 0;

        if (pst_cfg_group(&l->c, g, "options") < 0)
                return -EINVAL;
        if (pst_cfg_check_keys(&l->c, g, "options", keys) < 0)
                r = -EINVAL;
        if ((s = config_setting_get_member(g, "ipv6")) && pst_cfg_bool(&l->c, s, "options.ipv6", &o->ipv6) < 0)
                r = -EINVAL;
        if ((s = config_setting_get_member(g, "icmp")) && parse_icmp_level(l, s, "options.icmp", &o->icmp) < 0)
                r = -EINVAL;
        if ((s = config_setting_get_member(g, "forward_icmp")) &&
            parse_icmp_level(l, s, "options.forward_icmp", &o->forward_icmp) < 0)
                r = -EINVAL;
        if ((s = config_setting_get_member(g, "log_drops")) &&
            pst_cfg_bool(&l->c, s, "options.log_drops", &o->log_drops) < 0)
                r = -EINVAL;
        if ((s = config_setting_get_member(g, "log_prefix"))) {
                const char *v;

                if (pst_cfg_string(&l->c, s, "options.log_prefix", sizeof(o->log_prefix) - 1, &v) < 0 ||
                    check_printable(l, s, "options.log_prefix", v) < 0)
                        r = -EINVAL;
                else
                        strcpy(o->log_prefix, v);
        }
        if ((s = config_setting_get_member(g, "log_rate"))) {
                long long v;

                if (pst_cfg_int(&l->c, s, "options.log_rate", 1, 10000, &v) < 0)
                        r = -EINVAL;
                else
                        o->log_rate = (uint32_t) v;
        }
        if ((s = config_setting_get_member(g, "backend"))) {
                const char *v;

                if (pst_cfg_string(&l->c, s, "options.backend", 16, &v) < 0)
                        r = -EINVAL;
                else if (streq(v, "auto"))
                        o->backend = PST_BACKEND_AUTO;
                else if (streq(v, "nftables"))
                        o->backend = PST_BACKEND_NFTABLES;
                else if (streq(v, "iptables"))
                        o->backend = PST_BACKEND_IPTABLES;
                else
                        r = pst_cfg_error(&l->c, s, "options.backend must be \"auto\", \"nftables\" or "
                                          "\"iptables\", not \"%s\"", v);
        }
        if (load_forward_option(l, g) < 0)
                r = -EINVAL;
        if (load_rematch_option(l, g) < 0)
                r = -EINVAL;
        if (load_rpc_mechanism_option(l, g) < 0)
                r = -EINVAL;
        return r;
}

/* ---- zones, hosts, lists, services ---- */

struct zone_ctx {
        struct loader *l;
        struct pst_zone *z;
};

static int zone_if_item(struct pst_cfg *c, const config_setting_t *item, void *userdata) {
        struct zone_ctx *zc = userdata;
        struct pst_ifname *ifn;
        const char *s;

        if (config_setting_type(item) != CONFIG_TYPE_STRING)
                return pst_cfg_error(c, item, "interface names must be strings, not %s", pst_cfg_type_name(item));
        s = config_setting_get_string(item);
        if (zc->z->nifs >= PST_ZONE_IFS_MAX)
                return pst_cfg_error(c, item, "too many interfaces in zone '%s' (at most %d)", zc->z->name,
                                     PST_ZONE_IFS_MAX);
        ifn = &zc->z->ifs[zc->z->nifs];
        if (strlen(s) >= IFNAMSIZ)
                return pst_cfg_error(c, item, "interface name '%s' is %zu bytes long; expected at most %d", s,
                                     strlen(s), IFNAMSIZ - 1);
        if (pst_ifname_parse(s, ifn->name, &ifn->wildcard) < 0)
                return pst_cfg_error(c, item, "'%s' is not a valid interface name; expected 1-15 characters "
                                     "without '/', ':' or spaces, optionally ending in '+' (or '*') as a wildcard", s);
        ifn->loc = pst_cfg_loc(c, item);
        zc->z->nifs++;
        return 0;
}

static int load_zone(struct loader *l, const config_setting_t *g) {
        static const char *const keys[] = { "interfaces", "networks", "trusted", NULL };
        _cleanup_(zone_freep) struct pst_zone *z = NULL;
        const config_setting_t *s;
        int r = 0;

        if (pst_cfg_group(&l->c, g, "a zone") < 0)
                return -EINVAL;
        if (check_new_name(l, g, "zone") < 0)
                return -EINVAL;
        if (pst_cfg_check_keys(&l->c, g, "a zone", keys) < 0)
                return -EINVAL;
        z = calloc(1, sizeof(*z));
        if (!z)
                return -ENOMEM;
        strcpy(z->name, config_setting_name(g));
        z->loc = pst_cfg_loc(&l->c, g);
        if ((s = config_setting_get_member(g, "interfaces")))
                r |= pst_cfg_foreach_scalar(&l->c, s, "interfaces", false, zone_if_item,
                                            &(struct zone_ctx) { l, z });
        if ((s = config_setting_get_member(g, "networks")))
                r |= pst_cfg_foreach_scalar(&l->c, s, "networks", false, addr_item,
                                            &(struct addrs_ctx) { l, &z->nets, PST_HOST_ADDRS_MAX });
        if ((s = config_setting_get_member(g, "trusted"))) {
                char what[PST_NAME_LEN + 16];

                snprintf(what, sizeof(what), "zones.%s.trusted", z->name);
                if (pst_cfg_bool(&l->c, s, what, &z->trusted) < 0)
                        r = -EINVAL;
        }
        if (r < 0)
                return -EINVAL;
        if (z->nifs == 0 && z->nets.n == 0)
                return pst_cfg_error(&l->c, g, "zone '%s' is empty; expected interfaces, networks or both", z->name);
        r = GROW(l->p->zones, l->p->capzones, l->p->nzones + 1, PST_ZONES_MAX);
        if (r < 0)
                return pst_cfg_error(&l->c, g, "too many zones (at most %d)", PST_ZONES_MAX);
        l->p->zones[l->p->nzones++] = TAKE_PTR(z);
        return 0;
}

/* Two interface patterns that can match the same name. */
static bool ifnames_overlap(const struct pst_ifname *a, const struct pst_ifname *b) {
        size_t la = a->wildcard ? strlen(a->name) - 1 : strlen(a->name) + 1;
        size_t lb = b->wildcard ? strlen(b->name) - 1 : strlen(b->name) + 1;

        /* compare the common prefix; exact names include their NUL */
        return memcmp(a->name, b->name, MIN(la, lb)) == 0;
}

static int check_zone_overlaps(struct loader *l) {
        struct pst_policy *p = l->p;
        int r = 0;

        for (size_t i = 0; i < p->nzones; i++)
                for (size_t k = 0; k < p->zones[i]->nifs; k++)
                        for (size_t j = 0; j <= i; j++)
                                for (size_t m = 0; m < (j == i ? k : p->zones[j]->nifs); m++) {
                                        const struct pst_ifname *a = &p->zones[i]->ifs[k], *b = &p->zones[j]->ifs[m];

                                        if (!ifnames_overlap(a, b))
                                                continue;
                                        r = pst_error(l->diag, -EINVAL, a->loc.file, a->loc.line,
                                                      "interface '%s' of zone '%s' overlaps '%s' of zone '%s' "
                                                      "(%s:%u); an interface belongs to at most one zone",
                                                      a->name, p->zones[i]->name, b->name, p->zones[j]->name,
                                                      b->loc.file, b->loc.line);
                                }
        return r;
}

static int load_host(struct loader *l, const config_setting_t *s) {
        _cleanup_(host_freep) struct pst_host *h = NULL;
        int r;

        if (check_new_name(l, s, "host") < 0)
                return -EINVAL;
        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        strcpy(h->name, config_setting_name(s));
        h->loc = pst_cfg_loc(&l->c, s);
        r = pst_cfg_foreach_scalar(&l->c, s, "a host", false, addr_item,
                                   &(struct addrs_ctx) { l, &h->addrs, PST_HOST_ADDRS_MAX });
        if (r >= 0)
                r = GROW(l->p->hosts, l->p->caphosts, l->p->nhosts + 1, PST_HOSTS_MAX);
        if (r < 0)
                return r == -E2BIG ? pst_cfg_error(&l->c, s, "too many hosts (at most %d)", PST_HOSTS_MAX) : r;
        l->p->hosts[l->p->nhosts++] = TAKE_PTR(h);
        return 0;
}

static int load_list(struct loader *l, const config_setting_t *g) {
        static const char *const keys[] = { "file", "addresses", NULL };
        _cleanup_(list_freep) struct pst_list *li = NULL;
        const config_setting_t *file, *addrs;
        int r;

        if (pst_cfg_group(&l->c, g, "a list") < 0 || check_new_name(l, g, "list") < 0 ||
            pst_cfg_check_keys(&l->c, g, "a list", keys) < 0)
                return -EINVAL;
        file = config_setting_get_member(g, "file");
        addrs = config_setting_get_member(g, "addresses");
        if (!!file == !!addrs)
                return pst_cfg_error(&l->c, g, "list '%s' needs exactly one of 'file' or 'addresses'",
                                     config_setting_name(g));
        li = calloc(1, sizeof(*li));
        if (!li)
                return -ENOMEM;
        strcpy(li->name, config_setting_name(g));
        li->loc = pst_cfg_loc(&l->c, g);
        if (file) {
                const char *path;

                r = pst_cfg_string(&l->c, file, "file", 4096, &path);
                if (r >= 0)
                        r = load_list_file(l, file, path, li);
        } else
                r = pst_cfg_foreach_scalar(&l->c, addrs, "addresses", false, addr_item,
                                           &(struct addrs_ctx) { l, &li->addrs, PST_LIST_ENTRIES_MAX });
        if (r < 0)
                return r; /* reported: an entry's -E2BIG is not "too many lists" */
        r = GROW(l->p->lists, l->p->caplists, l->p->nlists + 1, PST_LISTS_MAX);
        if (r < 0)
                return r == -E2BIG ? pst_cfg_error(&l->c, g, "too many lists (at most %d)", PST_LISTS_MAX) : r;
        l->p->lists[l->p->nlists++] = TAKE_PTR(li);
        return 0;
}

static const struct pst_service *find_policy_service(const struct pst_policy *p, const char *name) {
        for (size_t i = 0; i < p->nservices; i++)
                if (p->services[i]->loc.line && streq(p->services[i]->name, name) && !strchr(name, '/'))
                        return p->services[i];
        return NULL;
}

/* On success the policy takes *svc (and *svc becomes NULL); on failure it stays the caller's. */
static int add_policy_service(struct loader *l, struct pst_service **svc) {
        int r = GROW(l->p->services, l->p->capservices, l->p->nservices + 1, PST_POLICY_SERVICES_MAX);

        if (r < 0)
                return r;
        l->p->services[l->p->nservices++] = TAKE_PTR(*svc);
        return 0;
}

static int load_service(struct loader *l, const config_setting_t *g) {
        const struct pst_service *prev;
        _cleanup_(pst_service_freep) struct pst_service *svc = NULL;
        const char *name = config_setting_name(g);
        int r;

        if (streq(name, "all") || streq(name, "any"))
                return pst_cfg_error(&l->c, g, "'%s' is reserved and cannot name a service", name);
        prev = pst_catalog_find(l->cat, name);
        if (prev)
                return pst_cfg_error(&l->c, g, "service '%s' is already in the catalog (%s:%u); choose another "
                                     "name, or override the catalog in services.d", name, prev->loc.file,
                                     prev->loc.line);
        prev = find_policy_service(l->p, name);
        if (prev)
                return pst_cfg_error(&l->c, g, "service '%s' is already defined at %s:%u", name, prev->loc.file,
                                     prev->loc.line);
        r = pst_service_parse(&l->c, g, false, &svc);
        if (r < 0)
                return r;
        r = add_policy_service(l, &svc);
        return r < 0 ? pst_cfg_error(&l->c, g, "too many services (at most %d)", PST_POLICY_SERVICES_MAX) : 0;
}

typedef int (*group_item_fn)(struct loader *l, const config_setting_t *s);

static int load_each(struct loader *l, const config_setting_t *g, const char *what, group_item_fn fn) {
        int n, r = 0;

        if (pst_cfg_group(&l->c, g, what) < 0)
                return -EINVAL;
        n = config_setting_length(g);
        for (int i = 0; i < n; i++) {
                int k = fn(l, config_setting_get_elem(g, (unsigned) i));

                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        r = k;
        }
        return r;
}

/* ---- rules ---- */

struct rule_ctx {
        struct loader *l;
        struct pst_prule *rule;
        bool to;
        unsigned chains; /* CHAIN_BIT()s of the rule: a rule of rules = (...) may have both */
};

#define CHAIN_BIT(k) (1u << (k))
#define CHAINS_BOTH (CHAIN_BIT(PST_INPUT) | CHAIN_BIT(PST_FORWARD))

static const struct pst_service *lookup_service(const struct loader *l, const char *name) {
        const struct pst_service *svc = find_policy_service(l->p, name);

        return svc ?: pst_catalog_find(l->cat, name);
}

static void suggest_services(struct suggest *sg, const struct loader *l) {
        for (size_t i = 0; i < l->cat->n; i++)
                suggest_try(sg, l->cat->v[i]->name);
        for (size_t i = 0; i < l->p->nservices; i++)
                if (l->p->services[i]->loc.line)
                        suggest_try(sg, l->p->services[i]->name);
}

/* "did you mean 'BASE/PROTO'?" for a restriction whose service or protocol is misspelt */
static const char *restrict_hint(const char *base, const char *proto, char buf[128]) {
        if (!base || !proto)
                return "";
        snprintf(buf, 128, " (did you mean '%s/%s'?)", base, proto);
        return buf;
}

/*
 * "ldap/tcp": the ports of one protocol of a named service (the catalog's
 * ldap is tcp and udp 389; udp/389 is CLDAP, a reflection vector, which an
 * administrator may not want open).  The result is an inline service named
 * as written, so the compiler treats it like "tcp/389".  Only tcp and udp
 * restrict: a service's IP protocols and ICMP types have no ports to pick.
 */
static int restrict_service(struct loader *l, struct pst_cfg *c, const config_setting_t *item, const char *s,
                            struct pst_service **ret) {
        _cleanup_(pst_service_freep) struct pst_service *svc = NULL;
        const char *slash = strchr(s, '/'), *proto = slash + 1;
        const struct pst_service *base = NULL;
        char name[PST_SERVICE_NAME_MAX], hint[128];
        bool udp = streq(proto, "udp");

        if ((size_t) (slash - s) < sizeof(name)) {
                snprintf(name, sizeof(name), "%.*s", (int) (slash - s), s);
                base = lookup_service(l, name);
        }
        if (!base && !udp && !streq(proto, "tcp"))
                return pst_service_parse_inline(c, item, s, ret); /* "sctp/5060": its error */
        if (!base) {
                struct suggest sg = { .want = name, .dist = 99 };

                if ((size_t) (slash - s) < sizeof(name))
                        suggest_services(&sg, l);
                return pst_cfg_error(c, item, "unknown service '%.*s' in '%s'%s; a restriction is written "
                                     "SERVICE/tcp or SERVICE/udp, SERVICE a catalog name (posternctl "
                                     "services) or a service of this policy", (int) (slash - s), s, s,
                                     restrict_hint(sg.best, proto, hint));
        }
        if (!udp && !streq(proto, "tcp")) {
                struct suggest sg = { .want = proto, .dist = 99 };

                /* "ldap/tpc" is a typo; "ldap/sctp" names a real protocol that has no port list here */
                if (pst_proto_lookup(proto) < 0) {
                        suggest_try(&sg, "tcp");
                        suggest_try(&sg, "udp");
                }
                return pst_cfg_error(c, item, "'%s': a service is restricted to its ports of one protocol, "
                                     "tcp or udp, not '%s'%s", s, proto, restrict_hint(sg.best ? name : NULL,
                                     sg.best, hint));
        }
        if (!(udp ? base->nudp : base->ntcp))
                return pst_cfg_error(c, item, "'%s': service '%s' has no %s port (posternctl services "
                                     "lists its ports)", s, name, proto);
        svc = calloc(1, sizeof(*svc));
        if (!svc)
                return -ENOMEM;
        snprintf(svc->name, sizeof(svc->name), "%s", s);
        svc->loc = pst_cfg_loc(c, item);
        if (udp) {
                svc->nudp = base->nudp;
                memcpy(svc->udp, base->udp, sizeof(svc->udp));
        } else {
                svc->ntcp = base->ntcp;
                memcpy(svc->tcp, base->tcp, sizeof(svc->tcp));
        }
        *ret = TAKE_PTR(svc);
        return 0;
}

/*
 * allow = "all": every protocol — a rule without any layer-4 match, so GRE,
 * ESP, AH, SCTP pass as well as TCP, UDP and ICMP.  An inline service like
 * "tcp/25" (kept out of name lookups), so that it composes with from/to
 * like any other.  "any" is what from/to say for every address; as a
 * service it gets a hint instead of the nearest catalog name ("dns"), and
 * so do "proto/all" and "all/tcp".
 */
static int all_service(struct pst_cfg *c, const config_setting_t *item, const char *name,
                       struct pst_service **ret) {
        struct pst_service *svc;

        if (streq(name, "any"))
                return pst_cfg_error(c, item, "unknown service 'any'; every protocol is written allow = \"all\" "
                                     "(\"any\" is for from and to)");
        if (streq(name, "proto/all"))
                return pst_cfg_error(c, item, "'proto/all' is not an IP protocol; every protocol is written "
                                     "allow = \"all\"");
        if (!streq(name, "all"))
                return pst_cfg_error(c, item, "'%s': \"all\" is every protocol and has no ports to restrict; "
                                     "every port of one protocol is \"tcp/1-65535\" or \"udp/1-65535\"", name);
        svc = calloc(1, sizeof(*svc));
        if (!svc)
                return -ENOMEM;
        strcpy(svc->name, "all");
        svc->all = true;
        svc->loc = pst_cfg_loc(c, item);
        *ret = svc;
        return 0;
}

/* "all" with other services in one rule: they add nothing, and a reader
 * would wonder which one is meant; refused rather than absorbed. */
static int check_all_alone(struct pst_cfg *c, const config_setting_t *item, const struct pst_prule *ru,
                           const struct pst_service *svc) {
        for (size_t i = 0; i < ru->nsvc; i++)
                if (ru->svc[i]->all || svc->all)
                        return pst_cfg_error(c, item, "'%s': \"all\" already allows every protocol; write "
                                             "allow = \"all\" alone, or the services without it",
                                             svc->name);
        return 0;
}

/* One service name of an allow list or a group (not a group's name): an
 * inline service, a restriction, a policy or catalog service. */
static int resolve_service(struct loader *l, struct pst_cfg *c, const config_setting_t *item,
                           const struct pst_service **ret) {
        _cleanup_(pst_service_freep) struct pst_service *inl = NULL;
        const char *name;
        int r;

        if (config_setting_type(item) != CONFIG_TYPE_STRING)
                return pst_cfg_error(c, item, "services must be names (strings) such as \"smtp\" or \"tcp/2222\", "
                                     "not %s", pst_cfg_type_name(item));
        name = config_setting_get_string(item);
        if (streq(name, "all") || streq(name, "any") || strncmp(name, "all/", 4) == 0 || streq(name, "proto/all"))
                r = all_service(c, item, name, &inl);
        else if (strchr(name, '/') && !pst_service_is_inline(name))
                r = restrict_service(l, c, item, name, &inl);
        else
                r = pst_service_parse_inline(c, item, name, &inl);
        if (r == -ENOENT) {
                *ret = lookup_service(l, name);
                if (!*ret) {
                        struct suggest sg = { .want = name, .dist = 99 };
                        char hint[96];

                        suggest_services(&sg, l);
                        for (size_t i = 0; i < l->p->ngroups; i++)
                                suggest_try(&sg, l->p->groups[i]->name);
                        return pst_cfg_error(c, item, "unknown service '%s'%s; expected a catalog name "
                                             "(posternctl services), a service or group of this policy, or "
                                             "tcp/PORT, udp/PORT, proto/NAME, icmp/TYPE", name,
                                             suggest_hint(&sg, hint));
                }
                return 0;
        }
        if (r < 0)
                return r;
        /* inline services have no definition line: loc.line = 0 keeps them out of name lookups */
        inl->loc.line = 0;
        *ret = inl;
        return add_policy_service(l, &inl);
}

/* ---- service groups ---- */

static const struct pst_group *find_group(const struct pst_policy *p, const char *name) {
        for (size_t i = 0; i < p->ngroups; i++)
                if (streq(p->groups[i]->name, name))
                        return p->groups[i];
        return NULL;
}

/* Pass 1: the name and the list; the members are resolved once every file's
 * definitions are known (resolve_groups), since they may name anything. */
static int load_group(struct loader *l, const config_setting_t *s) {
        const char *name = config_setting_name(s);
        const struct pst_service *svc = pst_catalog_find(l->cat, name);
        const struct pst_group *prev = find_group(l->p, name);
        int t = config_setting_type(s), r;
        struct pst_group *g;

        if (strlen(name) >= PST_NAME_LEN)
                return pst_cfg_error(&l->c, s, "group name '%s' is too long; at most %d bytes", name,
                                     PST_NAME_LEN - 1);
        if (streq(name, "any") || streq(name, "all"))
                return pst_cfg_error(&l->c, s, "'%s' is reserved and cannot name a group", name);
        if (svc)
                return pst_cfg_error(&l->c, s, "group '%s' has the name of the catalog service '%s' (%s:%u); "
                                     "a group name must not be a service name", name, name, svc->loc.file,
                                     svc->loc.line);
        if (prev)
                return pst_cfg_error(&l->c, s, "group '%s' is already defined at %s:%u", name, prev->loc.file,
                                     prev->loc.line);
        if (t != CONFIG_TYPE_STRING && t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
                return pst_cfg_error(&l->c, s, "group '%s' must be a list of service names [\"smtp\", ...], "
                                     "not %s", name, pst_cfg_type_name(s));
        if (t != CONFIG_TYPE_STRING && config_setting_length(s) == 0)
                return pst_cfg_error(&l->c, s, "group '%s' is empty; expected at least one service name", name);
        g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        strcpy(g->name, name);
        g->loc = pst_cfg_loc(&l->c, s);
        g->members = s;
        r = GROW(l->p->groups, l->p->capgroups, l->p->ngroups + 1, PST_GROUPS_MAX);
        if (r < 0) {
                free(g);
                return r == -E2BIG ? pst_cfg_error(&l->c, s, "too many groups (at most %d)", PST_GROUPS_MAX) : r;
        }
        l->p->groups[l->p->ngroups++] = g;
        return 0;
}

/* Add svc to g's flattened list unless it is there already. */
static int group_append(struct loader *l, const config_setting_t *item, struct pst_group *g,
                        const struct pst_service *svc) {
        int r;

        for (size_t i = 0; i < g->nsvc; i++)
                if (g->svc[i] == svc)
                        return 0;
        r = GROW(g->svc, g->capsvc, g->nsvc + 1, PST_RULE_ITEMS_MAX);
        if (r < 0)
                return r == -E2BIG ? pst_cfg_error(&l->c, item, "group '%s' holds too many services (at most %d, "
                                                   "groups in it included)", g->name, PST_RULE_ITEMS_MAX) : r;
        g->svc[g->nsvc++] = svc;
        return 0;
}

/* "a → b → a": the groups being expanded, outermost first */
static void group_path(struct pst_group *const *stack, unsigned depth, const char *last, char buf[256]) {
        size_t n = 0;

        buf[0] = 0;
        for (unsigned i = 0; i < depth && n < 256; i++)
                n += (size_t) snprintf(buf + n, 256 - n, "%s → ", stack[i]->name);
        if (n < 256)
                snprintf(buf + n, 256 - n, "%s", last);
}

static int resolve_group(struct loader *l, struct pst_group **stack, unsigned depth);

/* A member that names a group: that group's services, once it is resolved. */
static int group_member_group(struct loader *l, const config_setting_t *e, struct pst_group **stack, unsigned depth,
                              struct pst_group *sub) {
        struct pst_group *g = stack[depth - 1];
        char path[256];
        int r = 0;

        group_path(stack, depth, sub->name, path);
        if (sub->state == 1)
                return pst_cfg_error(&l->c, e, "group '%s' includes itself (%s); groups may contain groups, "
                                     "but not in a cycle", sub->name, path);
        if (sub->state == 0 && depth < PST_GROUP_DEPTH_MAX) {
                stack[depth] = sub;
                r = resolve_group(l, stack, depth + 1);
        }
        if (r < 0 || sub->state < 0)
                return -EINVAL; /* reported where it is */
        if (sub->state == 0 || depth + sub->levels > PST_GROUP_DEPTH_MAX)
                return pst_cfg_error(&l->c, e, "groups nest too deep (%s%s); at most %d levels", path,
                                     sub->state == 2 && sub->levels > 1 ? " → ..." : "", PST_GROUP_DEPTH_MAX);
        g->levels = MAX(g->levels, sub->levels + 1);
        for (size_t i = 0; r >= 0 && i < sub->nsvc; i++)
                r = group_append(l, e, g, sub->svc[i]);
        return r;
}

static int resolve_group(struct loader *l, struct pst_group **stack, unsigned depth) {
        struct pst_group *g = stack[depth - 1];
        const config_setting_t *m = g->members;
        const char *saved = l->c.main_file;
        int n, r = 0;

        g->state = 1;
        g->levels = 1;
        l->c.main_file = g->loc.file; /* for settings libconfig knows no file of */
        n = config_setting_type(m) == CONFIG_TYPE_STRING ? 1 : config_setting_length(m);
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_type(m) == CONFIG_TYPE_STRING ?
                                            m : config_setting_get_elem(m, (unsigned) i);
                const struct pst_group *sub = NULL;
                const struct pst_service *svc;
                int k;

                if (config_setting_type(e) == CONFIG_TYPE_STRING)
                        sub = find_group(l->p, config_setting_get_string(e));
                if (sub)
                        k = group_member_group(l, e, stack, depth, (struct pst_group *) sub);
                else {
                        k = resolve_service(l, &l->c, e, &svc);
                        if (k >= 0 && svc->all)
                                k = pst_cfg_error(&l->c, e, "group '%s': \"all\" cannot be in a group; it "
                                                  "stands alone, as allow = \"all\"", g->name);
                        if (k >= 0)
                                k = group_append(l, e, g, svc);
                }
                if (k == -ENOMEM) {
                        r = k;
                        break;
                }
                if (k < 0)
                        r = -EINVAL;
        }
        l->c.main_file = saved;
        g->state = r < 0 ? -1 : 2;
        return r;
}

/* Between the passes: every group's services, and no group named like a
 * service of the policy (whichever came first). */
static int resolve_groups(struct loader *l) {
        struct pst_group *stack[PST_GROUP_DEPTH_MAX + 1];
        int r = 0;

        for (size_t i = 0; i < l->p->ngroups; i++) {
                struct pst_group *g = l->p->groups[i];
                const struct pst_service *svc = find_policy_service(l->p, g->name);

                if (svc) {
                        r = pst_error(l->diag, -EINVAL, g->loc.file, g->loc.line, "group '%s' has the name of the "
                                      "service '%s' defined at %s:%u; a group name must not be a service name",
                                      g->name, g->name, svc->loc.file, svc->loc.line);
                        g->state = -1;
                }
        }
        for (size_t i = 0; i < l->p->ngroups; i++) {
                int k = 0;

                stack[0] = l->p->groups[i];
                if (stack[0]->state == 0)
                        k = resolve_group(l, stack, 1);
                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        r = k;
        }
        return r;
}

/* allow = "outlook": the group's services, each remembering the group */
static int rule_add_group(struct pst_cfg *c, const config_setting_t *item, struct pst_prule *ru,
                          const struct pst_group *g) {
        for (size_t i = 0; i < ru->nsvc; i++)
                if (ru->svc[i]->all)
                        return pst_cfg_error(c, item, "'%s': \"all\" already allows every protocol; write "
                                             "allow = \"all\" alone, or the services without it", g->name);
        for (size_t i = 0; i < g->nsvc; i++) {
                if (ru->nsvc >= PST_RULE_ITEMS_MAX)
                        return pst_cfg_error(c, item, "too many services in one rule (at most %d, the groups' "
                                             "services included)", PST_RULE_ITEMS_MAX);
                ru->via[ru->nsvc] = g;
                ru->svc[ru->nsvc++] = g->svc[i];
        }
        return 0;
}

/* Room for the services of an allow list, groups expanded (the item
 * callbacks refuse more than PST_RULE_ITEMS_MAX). */
static size_t allow_items(const struct pst_policy *p, const config_setting_t *s) {
        int t = s ? config_setting_type(s) : CONFIG_TYPE_NONE;
        int n = t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST ? config_setting_length(s) : 1;
        size_t total = 0;

        for (int i = 0; s && i < n; i++) {
                const config_setting_t *e = t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST ?
                                            config_setting_get_elem(s, (unsigned) i) : s;
                const char *name = config_setting_type(e) == CONFIG_TYPE_STRING ? config_setting_get_string(e) : NULL;
                const struct pst_group *g = name ? find_group(p, name) : NULL;

                total += g ? g->nsvc : 1;
        }
        return MIN(MAX(total, (size_t) 1), (size_t) PST_RULE_ITEMS_MAX);
}

static int svc_item(struct pst_cfg *c, const config_setting_t *item, void *userdata) {
        struct rule_ctx *rc = userdata;
        struct pst_prule *ru = rc->rule;
        const struct pst_group *grp = NULL;
        const struct pst_service *svc;
        int r;

        if (config_setting_type(item) == CONFIG_TYPE_STRING)
                grp = find_group(rc->l->p, config_setting_get_string(item));
        if (grp)
                return rule_add_group(c, item, ru, grp);
        r = resolve_service(rc->l, c, item, &svc);
        if (r < 0)
                return r;
        if (ru->nsvc >= PST_RULE_ITEMS_MAX)
                return pst_cfg_error(c, item, "too many services in one rule (at most %d)", PST_RULE_ITEMS_MAX);
        if (check_all_alone(c, item, ru, svc) < 0)
                return -EINVAL;
        ru->via[ru->nsvc] = NULL;
        ru->svc[ru->nsvc++] = svc;
        return 0;
}

static const struct pst_zone *find_zone(const struct pst_policy *p, const char *n) {
        for (size_t i = 0; i < p->nzones; i++)
                if (streq(p->zones[i]->name, n))
                        return p->zones[i];
        return NULL;
}

static const struct pst_host *find_host(const struct pst_policy *p, const char *n) {
        for (size_t i = 0; i < p->nhosts; i++)
                if (streq(p->hosts[i]->name, n))
                        return p->hosts[i];
        return NULL;
}

static const struct pst_list *find_list(const struct pst_policy *p, const char *n) {
        for (size_t i = 0; i < p->nlists; i++)
                if (streq(p->lists[i]->name, n))
                        return p->lists[i];
        return NULL;
}

/* For the other parts of the loader (policy-nat.c) */
const struct pst_zone *pst_policy_zone(const struct pst_policy *p, const char *name) {
        return find_zone(p, name);
}

const struct pst_host *pst_policy_host(const struct pst_policy *p, const char *name) {
        return find_host(p, name);
}

const struct pst_list *pst_policy_list(const struct pst_policy *p, const char *name) {
        return find_list(p, name);
}

/* "(IFNAME)" or "(IFNAME, link)": one string, so the libconfig grammar
 * needs nothing new; blanks around the comma are allowed. */
static int parse_ifaddr_ep(struct pst_cfg *c, const config_setting_t *item, const char *s,
                           struct pst_endpoint *ep) {
        const char *in = s + 1, *comma, *mod = NULL;
        size_t len = strlen(s) - 2, nlen, mlen = 0;
        char name[32];
        bool wild;

        while (len > 0 && *in == ' ')
                in++, len--;
        comma = memchr(in, ',', len);
        nlen = comma ? (size_t) (comma - in) : len;
        while (nlen > 0 && in[nlen - 1] == ' ')
                nlen--;
        if (comma) {
                mod = comma + 1;
                mlen = len - (size_t) (mod - in);
                while (mlen > 0 && *mod == ' ')
                        mod++, mlen--;
                while (mlen > 0 && mod[mlen - 1] == ' ')
                        mlen--;
        }
        snprintf(name, sizeof(name), "%.*s", (int) MIN(nlen, sizeof(name) - 1), in);
        if (nlen >= sizeof(name) || pst_ifname_parse(name, ep->ifname, &wild) < 0)
                return pst_cfg_error(c, item, "'%s' is not a valid interface name; expected (IFNAME) with "
                                     "1-15 characters", s);
        if (wild)
                return pst_cfg_error(c, item, "'%s': an interface address needs one exact interface name, "
                                     "not a wildcard", s);
        if (comma && (mlen != 4 || strncmp(mod, "link", 4) != 0))
                return pst_cfg_error(c, item, "'%s': unknown modifier '%.*s'; expected (IFNAME) for the "
                                     "global addresses or (IFNAME, link) to include the link-local ones",
                                     s, (int) MIN(mlen, 32u), mod);
        ep->link = comma != NULL;
        ep->kind = PST_EP_IFADDR;
        return 0;
}

static int ep_item(struct pst_cfg *c, const config_setting_t *item, void *userdata) {
        struct rule_ctx *rc = userdata;
        struct pst_prule *ru = rc->rule;
        const struct pst_policy *p = rc->l->p;
        const char *what = rc->to ? "to" : "from";
        struct pst_endpoint ep = { .loc = pst_cfg_loc(c, item) };
        size_t *n = rc->to ? &ru->nto : &ru->nfrom;
        const char *s;
        size_t len;

        if (config_setting_type(item) != CONFIG_TYPE_STRING)
                return pst_cfg_error(c, item, "'%s' entries must be strings, not %s", what, pst_cfg_type_name(item));
        s = config_setting_get_string(item);
        len = strlen(s);

        if (streq(s, "any"))
                ep.kind = PST_EP_ANY;
        else if (len > 2 && s[0] == '(' && s[len - 1] == ')') {
                if (!rc->to)
                        return pst_cfg_error(c, item, "'%s': an interface's address can only be a destination "
                                             "('to'), not a source", s);
                if (parse_ifaddr_ep(c, item, s, &ep) < 0)
                        return -EINVAL;
        } else if (strchr(s, ':') || strchr("0123456789", s[0])) {
                if (parse_addr(rc->l, ep.loc.file, ep.loc.line, s, &ep.lit) < 0)
                        return -EINVAL;
                ep.kind = PST_EP_ADDRS;
        } else if ((ep.zone = find_zone(p, s))) {
                if (rc->to && ru->chain == PST_INPUT)
                        return pst_cfg_error(c, item, "zone '%s' cannot be a destination in input; expected a "
                                             "host, network, list or (interface) on this host%s", s,
                                             rc->chains == CHAINS_BOTH ? " (this rule is for chains input and "
                                             "forward: a rule to a zone belongs in forward)" : "");
                ep.kind = PST_EP_ZONE;
        } else if ((ep.host = find_host(p, s)))
                ep.kind = PST_EP_ADDRS;
        else if ((ep.list = find_list(p, s)))
                ep.kind = PST_EP_LIST;
        else {
                struct suggest sg = { .want = s, .dist = 99 };
                char hint[96];

                for (size_t i = 0; i < p->nzones; i++)
                        suggest_try(&sg, p->zones[i]->name);
                for (size_t i = 0; i < p->nhosts; i++)
                        suggest_try(&sg, p->hosts[i]->name);
                for (size_t i = 0; i < p->nlists; i++)
                        suggest_try(&sg, p->lists[i]->name);
                return pst_cfg_error(c, item, "unknown name '%s' in '%s'%s; expected any, an address, (interface), "
                                     "or the name of a zone, host or list", s, what, suggest_hint(&sg, hint));
        }
        if (*n >= PST_RULE_ITEMS_MAX)
                return pst_cfg_error(c, item, "too many entries in '%s' (at most %d)", what, PST_RULE_ITEMS_MAX);
        (rc->to ? ru->to : ru->from)[(*n)++] = ep;
        return 0;
}

/* Only ICMP types, each of which level accepts everywhere */
static bool icmp_covered(const struct pst_service *svc, enum pst_icmp_level level) {
        size_t n4, n6;
        const uint8_t *t4 = pst_icmp_level_types(level, false, &n4), *t6 = pst_icmp_level_types(level, true, &n6);

        if (svc->ntcp || svc->nudp || svc->nproto || (!svc->nicmp && !svc->nicmp6))
                return false;
        if (level == PST_ICMP_ALL)
                return true;
        for (size_t i = 0; i < svc->nicmp; i++)
                if (!n4 || !memchr(t4, svc->icmp[i], n4))
                        return false;
        for (size_t i = 0; i < svc->nicmp6; i++)
                if (!n6 || !memchr(t6, svc->icmp6[i], n6))
                        return false;
        return true;
}

/*
 * chains = ["input", "forward"]: only, and always, on a rule of rules = (...)
 * (*chains == 0 on entry); a rule of input or forward is in that chain.
 */
static int rule_chains(struct loader *l, const config_setting_t *g, unsigned *chains) {
        const config_setting_t *s = config_setting_get_member(g, "chains");
        int n, t, r = 0;

        if (*chains && s)
                return pst_cfg_error(&l->c, s, "'chains' is for a rule of rules = ( ... ); this rule is in %s, "
                                     "its only chain", *chains == CHAIN_BIT(PST_INPUT) ? "input" : "forward");
        if (*chains)
                return 0;
        if (!s)
                return pst_cfg_error(&l->c, g, "a rule of rules = ( ... ) needs chains = [\"input\", \"forward\"] "
                                     "(or one of them)");
        t = config_setting_type(s);
        if (t != CONFIG_TYPE_STRING && t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
                return pst_cfg_error(&l->c, s, "chains must be a list of chain names [\"input\", \"forward\"], not %s",
                                     pst_cfg_type_name(s));
        n = t == CONFIG_TYPE_STRING ? 1 : config_setting_length(s);
        if (n == 0)
                return pst_cfg_error(&l->c, s, "chains is empty; expected \"input\", \"forward\" or both");
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = t == CONFIG_TYPE_STRING ? s : config_setting_get_elem(s, (unsigned) i);
                const char *v = config_setting_type(e) == CONFIG_TYPE_STRING ? config_setting_get_string(e) : NULL;
                unsigned bit = !v ? 0 : streq(v, "input") ? CHAIN_BIT(PST_INPUT) :
                               streq(v, "forward") ? CHAIN_BIT(PST_FORWARD) : 0;

                if (!v)
                        r = pst_cfg_error(&l->c, e, "chains entries must be strings, not %s", pst_cfg_type_name(e));
                else if (!bit) {
                        struct suggest sg = { .want = v, .dist = 99 };
                        char hint[96];

                        suggest_try(&sg, "input");
                        suggest_try(&sg, "forward");
                        r = pst_cfg_error(&l->c, e, "unknown chain '%s'%s; expected \"input\" (to this host) or "
                                          "\"forward\" (through it)", v, suggest_hint(&sg, hint));
                } else if (*chains & bit)
                        r = pst_cfg_error(&l->c, e, "chain '%s' is listed twice", v);
                *chains |= bit;
        }
        return r;
}

static void *copy_of(const void *v, size_t n) {
        void *c = malloc(MAX(n, (size_t) 1));

        return c && n ? memcpy(c, v, n) : c;
}

/* A copy of a rule with arrays of its own, for its next chain. */
static int prule_dup(const struct pst_prule *ru, enum pst_chain_kind chain, struct pst_prule *ret) {
        *ret = *ru;
        ret->chain = chain;
        ret->svc = copy_of(ru->svc, MAX(ru->nsvc, (size_t) 1) * sizeof(*ru->svc));
        ret->via = copy_of(ru->via, MAX(ru->nsvc, (size_t) 1) * sizeof(*ru->via));
        ret->from = copy_of(ru->from, ru->nfrom * sizeof(*ru->from));
        ret->to = copy_of(ru->to, ru->nto * sizeof(*ru->to));
        ret->rpc = ru->rpc ? copy_of(ru->rpc, sizeof(*ru->rpc)) : NULL;
        if (!ret->svc || !ret->via || !ret->from || !ret->to || (ru->rpc && !ret->rpc)) {
                prule_clear(ret);
                return -ENOMEM;
        }
        return 0;
}

/* The policy takes the rule, once per chain (input first); *ru is emptied. */
static int rule_push(struct loader *l, const config_setting_t *g, struct pst_prule *ru, unsigned chains) {
        size_t n = (size_t) __builtin_popcount(chains);
        int r = GROW(l->p->rules, l->p->caprules, l->p->nrules + n, PST_PRULES_MAX);

        if (r < 0)
                return r == -E2BIG ? pst_cfg_error(&l->c, g, "too many rules (at most %d)", PST_PRULES_MAX) : r;
        if (chains == CHAINS_BOTH) {
                r = prule_dup(ru, PST_FORWARD, &l->p->rules[l->p->nrules + 1]);
                if (r < 0)
                        return r;
        }
        l->p->rules[l->p->nrules] = *ru;
        l->p->nrules += n;
        *ru = (struct pst_prule) {}; /* the policy owns its arrays now */
        return 0;
}

/*
 * A rule that accepts only ICMP types the chain's global option accepts
 * already, from everywhere and before any rule (README, "ICMP"), narrows
 * nothing: say so, since "ping from the LAN" with options.icmp = "ping"
 * looks like a restriction and is not.
 */
static void warn_icmp_redundant(struct loader *l, const struct pst_prule *ru, unsigned chains) {
        const struct pst_options *o = &l->p->options;

        for (int k = PST_INPUT; k <= PST_FORWARD; k++) {
                enum pst_icmp_level lv = k == PST_INPUT ? o->icmp : o->forward_icmp;
                bool covered = ru->nsvc > 0;

                if (!(chains & CHAIN_BIT(k)))
                        continue;
                for (size_t i = 0; covered && i < ru->nsvc; i++)
                        covered = icmp_covered(ru->svc[i], lv);
                if (covered)
                        pst_warning(l->diag, ru->loc.file, ru->loc.line, "this rule adds nothing in %s: "
                                    "options.%s = \"%s\" accepts its ICMP types from everywhere, before any rule; "
                                    "set options.%s = \"essential\" (or \"none\") to accept them only as rules "
                                    "say", k == PST_INPUT ? "input" : "forward", k == PST_INPUT ? "icmp" :
                                    "forward_icmp", pst_icmp_level_name(lv), k == PST_INPUT ? "icmp" :
                                    "forward_icmp");
        }
}

/* Room for the entries of allow/from/to (at least one: the implicit "any");
 * the item callbacks refuse more than PST_RULE_ITEMS_MAX. */
static size_t rule_items(const config_setting_t *s) {
        int t = s ? config_setting_type(s) : CONFIG_TYPE_NONE;
        int n = t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST ? config_setting_length(s) : 1;

        return (size_t) MIN(MAX(n, 1), PST_RULE_ITEMS_MAX);
}

static int load_rule(struct loader *l, const config_setting_t *g, unsigned chains) {
        static const char *const keys[] = { "allow", "from", "to", "comment", "chains", "rpc", NULL };
        _cleanup_(prule_clear) struct pst_prule ru = { .loc = pst_cfg_loc(&l->c, g) };
        const config_setting_t *s;
        int r = 0;

        if (config_setting_type(g) != CONFIG_TYPE_GROUP)
                return pst_cfg_error(&l->c, g, "a rule must be a group { allow = ...; }, not %s",
                                     pst_cfg_type_name(g));
        if (pst_cfg_check_keys(&l->c, g, "a rule", keys) < 0 || rule_chains(l, g, &chains) < 0)
                return -EINVAL;
        ru.chain = chains & CHAIN_BIT(PST_INPUT) ? PST_INPUT : PST_FORWARD;

        /* Sized by what the rule names, not PST_RULE_ITEMS_MAX: 2,000 rules
         * with room for 256 endpoints each cost 96 MiB of zeroed memory. */
        ru.svc = calloc(allow_items(l->p, config_setting_get_member(g, "allow")), sizeof(*ru.svc));
        ru.via = calloc(allow_items(l->p, config_setting_get_member(g, "allow")), sizeof(*ru.via));
        ru.from = calloc(rule_items(config_setting_get_member(g, "from")), sizeof(*ru.from));
        ru.to = calloc(rule_items(config_setting_get_member(g, "to")), sizeof(*ru.to));
        if (!ru.svc || !ru.via || !ru.from || !ru.to)
                return -ENOMEM;

        s = config_setting_get_member(g, "allow");
        if (!s)
                r = pst_cfg_error(&l->c, g, "rule has no 'allow'; expected allow = \"service\" or a list of services");
        else
                r |= pst_cfg_foreach_scalar(&l->c, s, "allow", false, svc_item,
                                            &(struct rule_ctx) { l, &ru, false, chains });
        if ((s = config_setting_get_member(g, "from")))
                r |= pst_cfg_foreach_scalar(&l->c, s, "from", false, ep_item,
                                            &(struct rule_ctx) { l, &ru, false, chains });
        if ((s = config_setting_get_member(g, "to")))
                r |= pst_cfg_foreach_scalar(&l->c, s, "to", false, ep_item,
                                            &(struct rule_ctx) { l, &ru, true, chains });
        if ((s = config_setting_get_member(g, "comment"))) {
                const char *v;

                if (pst_cfg_string(&l->c, s, "comment", sizeof(ru.comment) - 1, &v) < 0 ||
                    check_printable(l, s, "comment", v) < 0)
                        r = -EINVAL;
                else
                        strcpy(ru.comment, v);
        }
        if ((s = config_setting_get_member(g, "rpc")) && r >= 0 &&
            (pst_rpc_parse(&l->c, s, &ru.rpc) < 0 ||
             (ru.rpc && pst_rpc_check_rule(&l->c, s, ru.svc, ru.nsvc) < 0)))
                r = -EINVAL;
        if (r < 0)
                return r;
        if (ru.nfrom == 0)
                ru.from[ru.nfrom++] = (struct pst_endpoint) { .kind = PST_EP_ANY, .loc = ru.loc };
        if (ru.nto == 0)
                ru.to[ru.nto++] = (struct pst_endpoint) { .kind = PST_EP_ANY, .loc = ru.loc };
        warn_icmp_redundant(l, &ru, chains);
        return rule_push(l, g, &ru, chains);
}

static int load_rules(struct loader *l, const config_setting_t *list, unsigned chains) {
        int t = config_setting_type(list), n, r = 0;

        if (t != CONFIG_TYPE_LIST && !(t == CONFIG_TYPE_ARRAY && config_setting_length(list) == 0))
                return pst_cfg_error(&l->c, list, "%s must be a list of rules ( { ... }, { ... } ), not %s",
                                     config_setting_name(list), pst_cfg_type_name(list));
        n = config_setting_length(list);
        for (int i = 0; i < n; i++) {
                int k = load_rule(l, config_setting_get_elem(list, (unsigned) i), chains);

                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        r = k;
        }
        return r;
}

/* ---- files ---- */

static int load_definitions(struct loader *l, config_t *cfg, bool main_file) {
        static const char *const keys[] = { "options", "emergency", "zones", "hosts", "lists", "services", "groups",
                                            "input", "forward", "rules", "nat", NULL };
        const config_setting_t *root = config_root_setting(cfg), *s;
        int r = 0;

        if (pst_cfg_check_keys(&l->c, root, "the policy", keys) < 0)
                r = -EINVAL;
        if ((s = config_setting_get_member(root, "options"))) {
                if (!main_file)
                        r = pst_cfg_error(&l->c, s, "options may only be set in the main policy file %s", l->p->path);
                else if (load_options(l, s) < 0)
                        r = -EINVAL;
        }
        if ((s = config_setting_get_member(root, "emergency"))) {
                if (!main_file)
                        r = pst_cfg_error(&l->c, s, "emergency may only be set in the main policy file %s", l->p->path);
                else if (pst_emergency_parse(&l->c, s, &l->p->emergency) < 0)
                        r = -EINVAL;
                else
                        l->p->has_emergency = true;
        }
        if ((s = config_setting_get_member(root, "zones")) && load_each(l, s, "zones", load_zone) < 0)
                r = -EINVAL;
        if ((s = config_setting_get_member(root, "hosts")) && load_each(l, s, "hosts", load_host) < 0)
                r = -EINVAL;
        if ((s = config_setting_get_member(root, "lists")) && load_each(l, s, "lists", load_list) < 0)
                r = -EINVAL;
        if ((s = config_setting_get_member(root, "services")) && load_each(l, s, "services", load_service) < 0)
                r = -EINVAL;
        if ((s = config_setting_get_member(root, "groups")) && load_each(l, s, "groups", load_group) < 0)
                r = -EINVAL;
        return r;
}

static int load_rule_sections(struct loader *l, config_t *cfg) {
        const config_setting_t *root = config_root_setting(cfg), *s;
        int r = 0;

        if ((s = config_setting_get_member(root, "input")) && load_rules(l, s, CHAIN_BIT(PST_INPUT)) < 0)
                r = -EINVAL;
        l->has_rules |= s != NULL;
        if ((s = config_setting_get_member(root, "forward")) && load_rules(l, s, CHAIN_BIT(PST_FORWARD)) < 0)
                r = -EINVAL;
        l->has_rules |= s != NULL;
        /* after the file's input and forward lists: among accept rules, order changes nothing */
        if ((s = config_setting_get_member(root, "rules")) && load_rules(l, s, 0) < 0)
                r = -EINVAL;
        l->has_rules |= s != NULL;
        if ((s = config_setting_get_member(root, "nat")) && pst_policy_load_nat(&l->c, l->p, l->cat, s) < 0)
                r = -EINVAL;
        return r;
}

/* options.forward = "unmanaged": a forward rule would have no chain to go in */
static int check_unmanaged_forward(struct loader *l) {
        int r = 0;

        if (!l->p->options.forward_unmanaged)
                return 0;
        for (size_t i = 0; i < l->p->nrules; i++) {
                const struct pst_prule *pr = &l->p->rules[i];

                if (pr->chain == PST_FORWARD)
                        r = pst_error(l->diag, -EINVAL, pr->loc.file, pr->loc.line,
                                      "a forward rule, but options.forward = \"unmanaged\" (%s): postern "
                                      "installs no forward chain; remove the rule or manage forwarding",
                                      l->p->path);
        }
        return r;
}

static int conf_filter(const struct dirent *de) {
        size_t l = strlen(de->d_name);

        return de->d_name[0] != '.' && l > 5 && streq(de->d_name + l - 5, ".conf");
}

static void dirents_free(struct dirent **list, int n) {
        for (int i = 0; i < n; i++)
                free(list[i]);
        free(list);
}

/* n strings, some of them possibly NULL */
static void strings_free(char **v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                free(v[i]);
        free(v);
}

/* The main file, then <dir>/postern.d/ *.conf in lexical order. */
void pst_policy_files_free(char **v, size_t n) {
        strings_free(v, n);
}

int pst_policy_files(const char *path, struct pst_diag *diag, char ***ret, size_t *ret_n) {
        _cleanup_free_ char *dir = NULL, *fragdir = NULL;
        struct dirent **list = NULL;
        char **files;
        int n;

        dir = strdup(path);
        if (!dir || asprintf(&fragdir, "%s/postern.d", dirname(dir)) < 0)
                return -ENOMEM;
        n = scandir(fragdir, &list, conf_filter, alphasort);
        if (n < 0) {
                if (errno != ENOENT && errno != ENOTDIR)
                        return pst_error(diag, -errno, fragdir, 0, "cannot read fragment directory: %m");
                n = 0;
        }
        if (n > PST_FRAGMENTS_MAX) {
                dirents_free(list, n);
                return pst_error(diag, -E2BIG, fragdir, 0, "too many fragments (%d; at most %d)", n,
                                 PST_FRAGMENTS_MAX);
        }
        files = calloc((size_t) n + 1, sizeof(char *));
        if (!files) {
                dirents_free(list, n);
                return -ENOMEM;
        }
        files[0] = strdup(path);
        for (int i = 0; i < n; i++)
                if (asprintf(&files[i + 1], "%s/%s", fragdir, list[i]->d_name) < 0)
                        files[i + 1] = NULL;
        dirents_free(list, n);
        for (int i = 0; i <= n; i++)
                if (!files[i]) {
                        strings_free(files, (size_t) n + 1);
                        return -ENOMEM;
                }
        *ret = files;
        *ret_n = (size_t) n + 1;
        return 0;
}

static const struct pst_options options_default = {
        .ipv6 = true,
        .icmp = PST_ICMP_PING,
        .forward_icmp = PST_ICMP_ESSENTIAL,
        .log_prefix = "postern drop: ",
        .log_rate = 10,
        .rpc_mech = PST_RPC_MECH_AUTO,
};

static int policy_load(const char *path, const struct pst_catalog *cat, unsigned source_flags,
                       struct pst_list_cache *cache, struct pst_diag *diag, struct pst_policy **ret) {
        _cleanup_(pst_policy_freep) struct pst_policy *p = NULL;
        struct loader l = { .cat = cat, .diag = diag, .cache = cache };
        config_t *cfgs = NULL;
        char **files = NULL;
        size_t nfiles = 0, nread = 0;
        int r;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->path = strdup(path);
        if (!p->path)
                return -ENOMEM;
        p->options = options_default;
        p->digest = PST_DIGEST_INIT;
        l.p = p;
        l.c = (struct pst_cfg) { .files = &p->files, .diag = diag, .source_flags = source_flags, .digest = &p->digest,
                                 .log = &p->read };

        r = pst_policy_files(path, diag, &files, &nfiles);
        if (r < 0)
                return r;
        cfgs = calloc(nfiles, sizeof(*cfgs));
        if (!cfgs) {
                r = -ENOMEM;
                goto out;
        }

        /* pass 1: syntax and definitions */
        for (size_t i = 0; i < nfiles; i++) {
                config_init(&cfgs[i]);
                nread++;
                l.c.main_file = pst_strpool_intern(&p->files, files[i]);
                if (!l.c.main_file) {
                        r = -ENOMEM;
                        goto out;
                }
                if (pst_cfg_read(&l.c, &cfgs[i], files[i]) < 0) {
                        r = -EINVAL;
                        config_destroy(&cfgs[i]);
                        config_init(&cfgs[i]); /* empty: pass 2 skips it */
                        continue;
                }
                if (load_definitions(&l, &cfgs[i], i == 0) < 0)
                        r = -EINVAL;
        }
        if (check_zone_overlaps(&l) < 0 || (r == 0 && resolve_groups(&l) < 0))
                r = -EINVAL;

        /* pass 2: rules.  Not after broken definitions: every use of a name
         * whose definition was refused would only repeat the first error. */
        for (size_t i = 0; r == 0 && i < nfiles; i++) {
                l.c.main_file = pst_strpool_intern(&p->files, files[i]);
                if (load_rule_sections(&l, &cfgs[i]) < 0)
                        r = -EINVAL;
        }
        /* A file emptied, or caught half-written, must not become "drop
         * everything" by accident; a policy that means it says so. */
        if (r == 0 && !l.has_rules)
                r = pst_error(diag, -EINVAL, path, 0,
                              "no input or forward rules: this policy would drop all new connections; write "
                              "input = (); to mean that");
        if (r == 0 && (check_unmanaged_forward(&l) < 0 || pst_diag_has_errors(diag)))
                r = -EINVAL;
        if (r == 0)
                *ret = TAKE_PTR(p);
out:
        for (size_t i = 0; i < nread; i++)
                config_destroy(&cfgs[i]);
        free(cfgs);
        strings_free(files, nfiles);
        return r;
}

int pst_policy_load(const char *path, const struct pst_catalog *cat, unsigned source_flags, struct pst_diag *diag,
                    struct pst_policy **ret) {
        return pst_policy_load_cached(path, cat, source_flags, NULL, diag, ret);
}

int pst_policy_load_cached(const char *path, const struct pst_catalog *cat, unsigned source_flags,
                           struct pst_list_cache *cache, struct pst_diag *diag, struct pst_policy **ret) {
        int r;

        if (cache)
                pst_list_cache_begin(cache);
        r = policy_load(path, cat, source_flags, cache, diag, ret);
        if (cache)
                pst_list_cache_end(cache, r >= 0);
        return r;
}
