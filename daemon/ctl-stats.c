/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * posternctl stats / metrics (ctl-stats.h).
 *
 * The kernel's rules of our table come in chain order; the n-th rule of
 * chain C is rs's n-th rule of C when both come from the same ruleset.  A
 * rule whose comment differs from rs's (the policy was changed since, or
 * someone else edited the table) is not attributed: rule="?".
 *
 * Metrics (one sample per policy rule and chain: a policy rule that became
 * several kernel rules, IPv4 and IPv6, is summed into one series):
 *   postern_rule_packets_total{chain,rule,comment}, postern_rule_bytes_total
 *   postern_rules                     kernel rules in the table
 *   with posternd: postern_generation, postern_last_apply_timestamp_seconds,
 *   postern_last_apply_duration_seconds, postern_address_set_updates_total,
 *   postern_rollbacks_total
 *   with posternd and options.log_drops: postern_drops_total by zone, protocol, port
 *   with posternd and rpc pinholes: postern_rpc_* (the reply reader's counters, put_rpc)
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl-bus.h"
#include "ctl-stats.h"
#include "json.h"
#include "nft-observe.h"
#include "service.h"
#include "snapshot.h"
#include "util.h"

enum { EXIT_SYSTEM = 2 }; /* posternctl's */
#define ORIGIN_MAX 512 /* "FILE:LINE" */

int ctl_running_ruleset(struct pst_ruleset **ret, uint32_t *ret_gen, struct pst_snapshot_meta *ret_meta) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = NULL;
        _cleanup_free_ char *path = NULL;
        struct pst_snapshot_meta meta;
        uint32_t gen;
        int r;

        r = ctl_bus_save_running(&path, &gen);
        if (r < 0)
                return r;
        r = pst_snapshot_load(path, &rs, &meta);
        (void) unlink(path); /* the whole ruleset: not left lying around */
        if (r < 0)
                return r;
        if (ret_gen)
                *ret_gen = gen;
        if (ret_meta)
                *ret_meta = meta;
        *ret = TAKE_PTR(rs);
        return 0;
}

/* The policy rule behind the kernel's rule, or NULL. */
static const struct pst_rule *origin_rule(const struct pst_ruleset *rs, const struct pst_rule_counter *k) {
        int ci = rs ? pst_chain_find(rs, k->chain) : -1;
        const struct pst_chain *c;

        if (ci < 0)
                return NULL;
        c = &rs->chains[ci];
        if (k->index >= c->n || !streq(c->rules[k->index].comment, k->comment))
                return NULL;
        return &c->rules[k->index];
}

static void format_origin(const struct pst_ruleset *rs, const struct pst_rule *pr, char *buf, size_t size) {
        const char *file = pr ? pst_origin_file(rs, pr->origin) : NULL;

        if (!pr)
                snprintf(buf, size, "?");
        else if (file && *file)
                snprintf(buf, size, "%s:%" PRIu32, file, pr->origin.line);
        else
                snprintf(buf, size, "built-in");
}

/* posternd's last-hit times, when it runs here (quietly none otherwise) */
struct hits {
        struct ctl_hit *v;
        size_t n;
};

static void hits_clear(struct hits *h) {
        free(h->v);
}

/* The last hit of the kernel's i-th rule k (both lists come in the kernel's order), 0: unknown. */
static uint64_t last_hit(const struct hits *h, size_t i, const struct pst_rule_counter *k) {
        if (i < h->n && h->v[i].index == k->index && streq(h->v[i].chain, k->chain))
                return h->v[i].last_usec;
        for (size_t j = 0; j < h->n; j++)
                if (h->v[j].index == k->index && streq(h->v[j].chain, k->chain))
                        return h->v[j].last_usec;
        return 0;
}

static int dump(struct pst_counters *k, struct hits *h) {
        int r;

        /* first: RuleHits() samples the counters, so that ours are not older than its times */
        if (ctl_bus_rule_hits(&h->v, &h->n) < 0)
                *h = (struct hits) {};
        r = pst_counters_dump(PST_TABLE, k);

        if (r == -ENOENT)
                fprintf(stderr, "posternctl: table inet %s does not exist in this network namespace\n", PST_TABLE);
        else if (r == -EPERM)
                fprintf(stderr, "posternctl: reading table inet %s needs CAP_NET_ADMIN (run as root)\n", PST_TABLE);
        else if (r < 0)
                fprintf(stderr, "posternctl: cannot dump table inet %s: %s\n", PST_TABLE, strerror(-r));
        return r < 0 ? (r == -ENOENT ? 1 : EXIT_SYSTEM) : 0;
}

static void stats_json(const struct pst_ruleset *rs, const struct pst_counters *k, const struct hits *h) {
        struct pst_json j;

        pst_json_init(&j, stdout);
        pst_json_begin_object(&j, NULL);
        pst_json_bool(&j, "ok", true);
        pst_json_begin_array(&j, "rules");
        for (size_t i = 0; i < k->n; i++) {
                const struct pst_rule *pr = origin_rule(rs, &k->v[i]);
                const char *file = pr ? pst_origin_file(rs, pr->origin) : NULL;

                if (!k->v[i].counter)
                        continue;
                pst_json_begin_object(&j, NULL);
                pst_json_string(&j, "chain", k->v[i].chain);
                pst_json_int(&j, "index", k->v[i].index);
                pst_json_int(&j, "handle", (long long) k->v[i].handle);
                pst_json_string(&j, "file", file && *file ? file : NULL);
                pst_json_int(&j, "line", pr ? pr->origin.line : 0);
                pst_json_string(&j, "comment", k->v[i].comment);
                pst_json_int(&j, "packets", (long long) k->v[i].packets);
                pst_json_int(&j, "bytes", (long long) k->v[i].bytes);
                if (h->v && last_hit(h, i, &k->v[i]))
                        pst_json_int(&j, "last_hit_usec", (long long) last_hit(h, i, &k->v[i]));
                else
                        pst_json_string(&j, "last_hit_usec", NULL); /* null */
                pst_json_end_object(&j);
        }
        pst_json_end_array(&j);
        pst_json_end_object(&j);
}

/* "2026-12-02T05:31:07" (local time), "-" when not known or not since the apply */
static void format_hit(uint64_t usec, char *buf, size_t size) {
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;

        if (!usec || !localtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm))
                snprintf(buf, size, "-");
}

int ctl_stats(const struct pst_ruleset *rs, bool json) {
        _cleanup_(pst_counters_clear) struct pst_counters k = {};
        _cleanup_(hits_clear) struct hits h = {};
        int r = dump(&k, &h);

        if (r)
                return r;
        if (json) {
                stats_json(rs, &k, &h);
                return 0;
        }
        printf("%-10s %-5s %12s %14s  %-19s  %-32s %s\n", "CHAIN", "RULE", "PACKETS", "BYTES", "LAST HIT", "POLICY",
               "COMMENT");
        for (size_t i = 0; i < k.n; i++) {
                char origin[ORIGIN_MAX], hit[32];

                if (!k.v[i].counter)
                        continue;
                format_origin(rs, origin_rule(rs, &k.v[i]), origin, sizeof(origin));
                format_hit(last_hit(&h, i, &k.v[i]), hit, sizeof(hit));
                printf("%-10s %-5" PRIu32 " %12" PRIu64 " %14" PRIu64 "  %-19s  %-32s %s\n", k.v[i].chain,
                       k.v[i].index, k.v[i].packets, k.v[i].bytes, hit, origin, k.v[i].comment);
        }
        return 0;
}

/* ---- metrics ---- */

/* A label value as the exposition format wants it: \\, \" and \n escaped. */
static void put_label(FILE *f, const char *name, const char *v, bool last) {
        fprintf(f, "%s=\"", name);
        for (; *v; v++) {
                if (*v == '\\' || *v == '"')
                        fputc('\\', f);
                if (*v == '\n')
                        fputs("\\n", f);
                else
                        fputc(*v, f);
        }
        fputs(last ? "\"" : "\",", f);
}

struct series {
        const char *chain, *comment;
        char rule[ORIGIN_MAX];
        uint64_t packets, bytes, last_usec;
};

/* One series per (chain, policy rule, comment), in first-seen order. */
static int group(const struct pst_ruleset *rs, const struct pst_counters *k, const struct hits *h, struct series **ret,
                 size_t *ret_n) {
        _cleanup_free_ struct series *v = NULL;
        size_t n = 0, cap = 0;

        for (size_t i = 0; i < k->n; i++) {
                struct series s = { .chain = k->v[i].chain, .comment = k->v[i].comment };
                size_t at = n;

                if (!k->v[i].counter)
                        continue;
                format_origin(rs, origin_rule(rs, &k->v[i]), s.rule, sizeof(s.rule));
                /* the kernel rules of one policy rule are neighbours: look back a little only */
                for (size_t b = n; b > 0 && n - b < 8; b--)
                        if (streq(v[b - 1].chain, s.chain) && streq(v[b - 1].rule, s.rule) &&
                            streq(v[b - 1].comment, s.comment))
                                at = b - 1;
                if (at == n) {
                        if (GROW(v, cap, n + 1, PST_COUNTERS_MAX) < 0)
                                return -ENOMEM;
                        v[n++] = s;
                }
                v[at].packets += k->v[i].packets;
                v[at].bytes += k->v[i].bytes;
                v[at].last_usec = MAX(v[at].last_usec, last_hit(h, i, &k->v[i]));
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

enum family { F_PACKETS, F_BYTES, F_LAST_HIT };

static void put_rule_family(FILE *f, const struct series *v, size_t n, enum family fam) {
        static const char *const names[] = { "postern_rule_packets_total", "postern_rule_bytes_total",
                                             "postern_rule_last_hit_timestamp_seconds" };
        static const char *const helps[] = {
                "Packets matched by a rule of the postern policy (table inet " PST_TABLE " counters).",
                "Bytes matched by a rule of the postern policy (table inet " PST_TABLE " counters).",
                "When a rule of the postern policy last matched, as posternd's counter samples saw it.",
        };

        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", names[fam], helps[fam], names[fam],
                fam == F_LAST_HIT ? "gauge" : "counter");
        for (size_t i = 0; i < n; i++) {
                if (fam == F_LAST_HIT && !v[i].last_usec)
                        continue; /* not since the apply: no sample, rather than 1970 */
                fprintf(f, "%s{", names[fam]);
                put_label(f, "chain", v[i].chain, false);
                put_label(f, "rule", v[i].rule, false);
                put_label(f, "comment", v[i].comment, true);
                if (fam == F_LAST_HIT)
                        fprintf(f, "} %" PRIu64 ".%06" PRIu64 "\n", v[i].last_usec / 1000000, v[i].last_usec % 1000000);
                else
                        fprintf(f, "} %" PRIu64 "\n", fam == F_BYTES ? v[i].bytes : v[i].packets);
        }
}

static void put_gauge(FILE *f, const char *name, const char *type, const char *help, const char *value) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", name, help, name, type, name, value);
}

/*
 * The drop log's figures (posternd's Drops(), issue 16 part 1), after
 * posternd's gauges:
 *   postern_drops_total{zone="wan",protocol="tcp",port="993"} 312
 * counting what the kernel's per-zone limit let through to the log (see
 * README "posternctl drops"); port 0 for protocols without ports; nothing
 * when posternd does not answer or has logged no drop.
 */
static void metrics_drops(FILE *f) {
        _cleanup_(ctl_drops_clear) struct ctl_drops d = {};
        char proto[16], port[8];

        if (ctl_bus_drops_quiet(&d) < 0 || d.n == 0)
                return;
        fputs("# HELP postern_drops_total Dropped packets posternd read from the drop log, by source zone, "
              "protocol and destination port.\n# TYPE postern_drops_total counter\n", f);
        for (size_t i = 0; i < d.n; i++) {
                const char *name = pst_proto_name(d.v[i].l4proto);

                if (name)
                        snprintf(proto, sizeof(proto), "%s", name);
                else
                        snprintf(proto, sizeof(proto), "%u", d.v[i].l4proto);
                snprintf(port, sizeof(port), "%u", d.v[i].dport);
                fputs("postern_drops_total{", f);
                put_label(f, "zone", d.v[i].zone, false);
                put_label(f, "protocol", proto, false);
                put_label(f, "port", port, true);
                fprintf(f, "} %" PRIu64 "\n", d.v[i].count);
        }
}

/* the endpoint-mapper reply reader, once some policy had rpc pinholes */
static void put_rpc(FILE *f, const struct ctl_rpc *c) {
        const struct {
                const char *name, *type, *help;
                uint64_t v;
        } m[] = {
                { "postern_rpc_sets", "gauge", "Pinhole sets the endpoint-mapper reply reader fills.", c->sets },
                { "postern_rpc_replies_total", "counter", "Endpoint-mapper reply copies read.", c->packets },
                { "postern_rpc_pinholes_added_total", "counter", "Pinholes the kernel took.", c->added },
                { "postern_rpc_pinholes_refused_total", "counter", "Pinholes refused: the set was full.", c->refused },
                { "postern_rpc_pinholes_skipped_total", "counter", "Ports of RPC interfaces not listed.", c->skipped },
                { "postern_rpc_replies_unparsed_total", "counter", "Replies the parser could not read.", c->unparsed },
                { "postern_rpc_lost_total", "counter", "Reply copies lost, out of order or of no set.", c->lost },
        };
        char v[64];

        if (!c->sets && !c->packets)
                return;
        for (size_t i = 0; i < ELEMENTSOF(m); i++) {
                snprintf(v, sizeof(v), "%" PRIu64, m[i].v);
                put_gauge(f, m[i].name, m[i].type, m[i].help, v);
        }
        snprintf(v, sizeof(v), "%" PRIu64 ".%06" PRIu64, c->last_latency_us / 1000000, c->last_latency_us % 1000000);
        put_gauge(f, "postern_rpc_last_latency_seconds", "gauge",
                  "From the last endpoint-mapper reply to its pinhole in the kernel.", v);
}

static void put_daemon(FILE *f) {
        struct ctl_figures d;
        char v[64];

        if (ctl_bus_figures(&d) < 0 || !d.applied)
                return; /* no posternd (or nothing applied): only what the kernel says */
        snprintf(v, sizeof(v), "%" PRIu64, d.generation);
        put_gauge(f, "postern_generation", "gauge", "Full applies of the policy since posternd started.", v);
        snprintf(v, sizeof(v), "%" PRIu64 ".%06" PRIu64, d.applied_at / 1000000, d.applied_at % 1000000);
        put_gauge(f, "postern_last_apply_timestamp_seconds", "gauge", "When the running ruleset was applied.", v);
        snprintf(v, sizeof(v), "%" PRIu64 ".%06" PRIu64, d.apply_usec / 1000000, d.apply_usec % 1000000);
        put_gauge(f, "postern_last_apply_duration_seconds", "gauge",
                  "How long the last full apply took (load, compile, commit).", v);
        snprintf(v, sizeof(v), "%" PRIu64, d.set_updates);
        put_gauge(f, "postern_address_set_updates_total", "counter",
                  "Interface-address set updates sent to the kernel.", v);
        snprintf(v, sizeof(v), "%" PRIu64, d.rollbacks);
        put_gauge(f, "postern_rollbacks_total", "counter", "Applies rolled back for want of a confirmation.", v);
        put_rpc(f, &d.rpc);
}

int ctl_metrics(const struct pst_ruleset *rs, FILE *f) {
        _cleanup_(pst_counters_clear) struct pst_counters k = {};
        _cleanup_(hits_clear) struct hits h = {};
        _cleanup_free_ struct series *v = NULL;
        size_t n = 0;
        char nrules[32];
        int r = dump(&k, &h);

        if (r)
                return r;
        if (group(rs, &k, &h, &v, &n) < 0)
                return EXIT_SYSTEM;
        put_rule_family(f, v, n, F_PACKETS);
        put_rule_family(f, v, n, F_BYTES);
        if (h.v)
                put_rule_family(f, v, n, F_LAST_HIT);
        snprintf(nrules, sizeof(nrules), "%zu", k.n);
        put_gauge(f, "postern_rules", "gauge", "Rules in table inet postern.", nrules);
        put_daemon(f);
        metrics_drops(f);
        return fflush(f) == 0 ? 0 : EXIT_SYSTEM;
}
