/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reload in O(change) (nft-delta.h), in a private network namespace:
 *   1. counters: a policy is applied whole; three TCP SYNs from a second
 *      namespace (veth, 198.18.9.1 → 198.18.0.1:22) hit its counted ssh
 *      rule; a delta that adds a list entry, removes one rule and adds
 *      another keeps that rule's counter at 3 packets, and the table then
 *      lists (counters aside) exactly as a full replace of the new policy;
 *      the same policy again is "nothing": no batch, the generation stays;
 *   2. the differential test: POSTERN_DELTA_SEQS (default 1000) random
 *      policies (zones, hosts, lists of overlapping and adjacent v4 and v6
 *      entries, entries at 0.0.0.0 and at the end of the address space,
 *      input and forward rules), each applied whole and then changed three
 *      times by one to three edits (a port, a host address, a list entry, a
 *      rule, a zone, a rule's source), every change applied as a delta;
 *      the table must then
 *      list exactly as a full replace of the last policy does (stateless).
 * Exit 0 ok, 1 failure, 77 skipped (not root / no nf_tables / no veth).
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <time.h>

#include "check.h"
#include "nft-delta.h"
#include "nft.h"
#include "show.h"

static struct pst_catalog *cat;
static char dir[] = "/tmp/postern-delta-XXXXXX";

/* text as a policy file, compiled; NULL (and the error printed when loud) if it does not compile */
static struct pst_ruleset *compile_text(const char *text, bool loud) {
        struct pst_policy *p = NULL;
        struct pst_ruleset *rs = NULL;
        char path[256];
        struct pst_diag d;
        FILE *f;

        snprintf(path, sizeof(path), "%s/p.conf", dir);
        f = fopen(path, "we");
        if (!f)
                return NULL;
        fputs(text, f);
        fclose(f);
        pst_diag_init(&d);
        if (pst_policy_load(path, cat, pst_source_flags_from_env(), &d, &p) < 0 || pst_compile(p, NULL, &d, &rs) < 0) {
                if (loud) {
                        printf("does not compile:\n%s\n", text);
                        pst_diag_print(&d, stdout);
                }
                rs = NULL;
        }
        pst_policy_free(p);
        pst_diag_clear(&d);
        return rs;
}

static int block_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * An "elements = { a, b, ... }" list (line, and the lines strtok_r has
 * still, up to the closing brace) as one line, its elements sorted: a
 * concatenated set (pipapo) lists its elements in the order they were
 * added, and a delta adds them after those that stay.
 */
static char *elements_sorted(char *line, char **save) {
        char *all = NULL, *elems[8192], *p, *tok, *sv = NULL, *out = NULL;
        size_t len = 0, n = 0, olen = 0;
        FILE *f = open_memstream(&all, &len), *o;

        fputs(line, f);
        while (!strchr(line, '}') && (line = strtok_r(NULL, "\n", save)))
                fprintf(f, "%s", line);
        fclose(f);
        p = strstr(all, "{ ") + 2;
        *strrchr(p, '}') = 0;
        for (tok = strtok_r(p, ",", &sv); tok && n < ELEMENTSOF(elems); tok = strtok_r(NULL, ",", &sv)) {
                tok += strspn(tok, " \t");
                while (*tok && strchr(" \t", tok[strlen(tok) - 1]))
                        tok[strlen(tok) - 1] = 0;
                elems[n++] = tok;
        }
        qsort(elems, n, sizeof(char *), block_cmp);
        o = open_memstream(&out, &olen);
        fprintf(o, "%.*s{", (int) (strstr(all, "{ ") - all), all);
        for (size_t i = 0; i < n; i++)
                fprintf(o, "%s %s", i ? "," : "", elems[i]);
        fputs(" }", o);
        fclose(o);
        free(all);
        return out;
}

/*
 * The listing with its sets and chains in name order, without blank lines: the kernel lists
 * objects in the order they were created, and a delta creates a new set or
 * chain after those that stay (where a full replace creates it in IR
 * order).  Rules within a chain keep their order; elements are sorted.
 */
static char *canonical(char *text) {
        char *blocks[4096], *save = NULL, *out = NULL, *cur = NULL, *line;
        size_t n = 0, outlen = 0, curlen = 0;
        FILE *f = open_memstream(&out, &outlen), *b = NULL;

        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (strstr(line, "elements = { ")) {
                        line = elements_sorted(line, &save);
                        fprintf(b ? b : f, "%s\n", line);
                        free(line);
                        continue;
                }
                if (line[strspn(line, " \t")] == 0)
                        continue; /* blank lines separate blocks: the blocks say that */
                if (streq(line, "}"))
                        continue; /* the table's: put back at the end */
                if ((!strncmp(line, "\tset ", 5) || !strncmp(line, "\tmap ", 5) || !strncmp(line, "\tchain ", 7)) &&
                    n < ELEMENTSOF(blocks)) {
                        if (b)
                                fclose(b), blocks[n++] = cur;
                        cur = NULL;
                        b = open_memstream(&cur, &curlen);
                }
                fprintf(b ? b : f, "%s\n", line);
        }
        if (b)
                fclose(b), blocks[n++] = cur;
        qsort(blocks, n, sizeof(char *), block_cmp);
        for (size_t i = 0; i < n; i++) {
                fputs(blocks[i], f);
                free(blocks[i]);
        }
        fputs("}\n", f);
        fclose(f);
        free(text);
        return out;
}

static char *list_stateless(void) {
        struct pst_diag d;
        char *text = NULL;

        pst_diag_init(&d);
        if (pst_show_table(PST_TABLE, PST_SHOW_STATELESS, &d, &text) < 0)
                text = strdup("");
        pst_diag_clear(&d);
        return canonical(text);
}

static int full(struct pst_nft *nft, const struct pst_ruleset *rs, struct pst_nft_handles **h) {
        struct pst_diag d;
        int r;

        pst_diag_init(&d);
        r = pst_nft_apply(nft, rs, &(struct pst_apply_opts) {}, &d);
        if (r < 0)
                pst_diag_print(&d, stdout);
        pst_diag_clear(&d);
        pst_nft_handles_free(*h);
        *h = NULL;
        return r < 0 ? r : pst_nft_handles_read(rs, h);
}

static int delta(struct pst_nft *nft, const struct pst_ruleset *old, const struct pst_ruleset *new,
                 struct pst_nft_handles **h, struct pst_delta_stats *st) {
        struct pst_diag d;
        uint32_t gen;
        int r;

        pst_diag_init(&d);
        r = pst_nft_genid(nft, &gen);
        if (r >= 0)
                r = pst_nft_apply_delta(nft, old, new, gen, h, st, &d);
        if (r < 0 && r != -EOPNOTSUPP)
                pst_diag_print(&d, stdout);
        pst_diag_clear(&d);
        return r;
}

/* ---- part 1: counters ---- */

static const char *policy_a =
        "lists = { admins = { addresses = [\"198.18.9.0/28\", \"2001:db8:9::/64\"]; };\n"
        "          partners = { addresses = [\"198.18.40.0/24\"]; }; };\n"
        "input = ( { allow = \"ssh\"; from = \"admins\"; comment = \"admin\"; },\n"
        "          { allow = \"smtp\"; from = \"partners\"; comment = \"mail\"; } );\n";
static const char *policy_b =
        "lists = { admins = { addresses = [\"198.18.9.0/28\", \"2001:db8:9::/64\", \"198.18.20.0/24\"]; };\n"
        "          partners = { addresses = [\"198.18.40.0/24\"]; }; };\n"
        "input = ( { allow = \"ssh\"; from = \"admins\"; comment = \"admin\"; },\n"
        "          { allow = \"https\"; from = \"partners\"; comment = \"web\"; } );\n";

static int sh(const char *cmd) {
        int r = system(cmd);

        return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

/* n SYNs from 198.18.9.1 in a second namespace to 198.18.0.1:22 over a veth pair */
static int syns_from_peer(unsigned n) {
        int go[2], ready[2], status;
        char c = 0, cmd[256];
        pid_t pid;

        if (pipe(go) < 0 || pipe(ready) < 0)
                return -errno;
        pid = fork();
        if (pid == 0) {
                struct sockaddr_in src = { .sin_family = AF_INET }, dst = { .sin_family = AF_INET,
                                                                             .sin_port = htons(22) };

                if (unshare(CLONE_NEWNET) < 0)
                        _exit(2);
                (void) !write(ready[1], &c, 1);
                if (read(go[0], &c, 1) != 1 ||
                    sh("ip link set lo up && ip addr add 198.18.9.1/16 dev v1 && ip link set v1 up") != 0)
                        _exit(3);
                inet_pton(AF_INET, "198.18.9.1", &src.sin_addr);
                inet_pton(AF_INET, "198.18.0.1", &dst.sin_addr);
                for (unsigned i = 0; i < n; i++) {
                        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                        struct timeval tv = { .tv_sec = 2 };

                        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
                        if (fd < 0 || bind(fd, (struct sockaddr *) &src, sizeof(src)) < 0)
                                _exit(4);
                        (void) connect(fd, (struct sockaddr *) &dst, sizeof(dst)); /* refused: nobody listens */
                        close(fd);
                }
                _exit(0);
        }
        if (pid < 0 || read(ready[0], &c, 1) != 1)
                return -EIO;
        snprintf(cmd, sizeof(cmd),
                 "ip link add v0 type veth peer name v1 && ip link set v1 netns %d && "
                 "ip addr add 198.18.0.1/16 dev v0 && ip link set v0 up",
                 (int) pid);
        if (sh(cmd) != 0) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                return -EOPNOTSUPP;
        }
        (void) !write(go[1], &c, 1);
        waitpid(pid, &status, 0);
        close(go[0]), close(go[1]), close(ready[0]), close(ready[1]);
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static void part_counters(struct pst_nft *nft) {
        struct pst_ruleset *a = compile_text(policy_a, true), *b = compile_text(policy_b, true),
                           *b2 = compile_text(policy_b, true);
        struct pst_nft_handles *h = NULL;
        struct pst_delta_stats st;
        char *listed, *fresh;
        uint32_t g0, g1;
        int r;

        if (!a || !b || !b2)
                exit(1);
        CHECK(full(nft, a, &h) == 0, "full apply of policy a");
        r = syns_from_peer(3);
        if (r == -EOPNOTSUPP) {
                printf("skipped: no veth\n");
                exit(77);
        }
        CHECK(r == 0, "3 SYNs from the peer: %s", strerror(-r));
        listed = list_table();
        CHECK(strstr(listed, "tcp dport 22 counter packets 3 ") != NULL, "ssh rule counted 3 SYNs:\n%s", listed);
        free(listed);

        r = delta(nft, a, b, &h, &st);
        CHECK(r == 0, "delta a → b: %s", strerror(-r));
        CHECK(!st.full && st.rules_added == 1 && st.rules_removed == 1 && st.elems_added == 1 &&
                      st.elems_removed == 0,
              "delta a → b: %zu/%zu rules, %zu/%zu elements", st.rules_added, st.rules_removed, st.elems_added,
              st.elems_removed);
        listed = list_table();
        CHECK(strstr(listed, "tcp dport 22 counter packets 3 ") != NULL, "the ssh rule kept its counter:\n%s",
              listed);
        free(listed);
        listed = list_stateless();

        pst_nft_genid(nft, &g0);
        r = delta(nft, b, b2, &h, &st);
        pst_nft_genid(nft, &g1);
        CHECK(r == 0 && st.nothing && g0 == g1, "the same policy again: nothing sent (generation %u → %u)", g0, g1);

        CHECK(full(nft, b2, &h) == 0, "full apply of policy b");
        fresh = list_stateless();
        CHECK(streq(listed, fresh), "after the delta:\n%s\nafter a full replace:\n%s", listed, fresh);
        free(listed), free(fresh);
        pst_nft_handles_free(h);
        pst_ruleset_free(a), pst_ruleset_free(b), pst_ruleset_free(b2);
}

/* ---- part 2: the differential test ---- */

static const char *addr_pool[] = {
        "198.18.1.0/24", "198.18.2.0/25", "198.18.2.128/25", "198.18.2.0/24", "198.18.3.5", "198.18.3.6",
        "198.18.3.4/30", "198.19.0.0/16", "0.0.0.0/8", "255.255.255.0/24", "2001:db8:1::/64",
        "2001:db8:1:1::/64", "2001:db8:2::1", "2001:db8:2::2", "2001:db8:2::/126", "::/8", "ffff::/16",
};
#define NADDR ELEMENTSOF(addr_pool)
static const char *svc_pool[] = { "ssh", "smtp", "https", "imaps", "tcp/2222", "udp/1024-2000", "tcp/8000-8080",
                                  "udp/53" };
#define NSVC ELEMENTSOF(svc_pool)
static const char *zone_names[] = { "lan", "dmz", "wan" }, *zone_if[] = { "eth1", "eth2", "ppp*" };
#define NZONE 3
#define NHOST 3
#define NLIST 2
#define NRULE 10

/* from/to: 0 none, 1..NZONE zones, then hosts, then lists */
enum { REF_ZONE = 1, REF_HOST = REF_ZONE + NZONE, REF_LIST = REF_HOST + NHOST, REF_MAX = REF_LIST + NLIST };

struct mrule {
        unsigned id;
        bool forward;
        uint32_t svc; /* bits of svc_pool */
        unsigned from, to;
};

struct model {
        bool zone_on[NZONE];
        uint32_t zone_net[NZONE], host[NHOST], list[NLIST]; /* bits of addr_pool */
        struct mrule rule[NRULE];
        unsigned nrule, next_id;
};

static uint32_t rnd_bits(unsigned n, unsigned max_set) {
        uint32_t v = 0;
        unsigned k = 1 + (unsigned) rand() % max_set;

        for (unsigned i = 0; i < k; i++)
                v |= 1u << (rand() % n);
        return v;
}

static bool ref_ok(const struct model *m, unsigned ref) {
        return ref == 0 || ref >= REF_HOST || m->zone_on[ref - REF_ZONE];
}

static struct mrule rnd_rule(struct model *m) {
        struct mrule r = { .id = m->next_id++, .forward = rand() % 3 == 0, .svc = rnd_bits(NSVC, 3) };

        do
                r.from = (unsigned) rand() % REF_MAX;
        while (!ref_ok(m, r.from) || (r.forward && r.from == 0));
        do
                r.to = (unsigned) rand() % REF_LIST; /* none, a zone or a host */
        while (!ref_ok(m, r.to) || (r.to >= REF_ZONE && r.to < REF_HOST && !r.forward) ||
               (r.forward && r.to == 0));
        return r;
}

static void rnd_model(struct model *m) {
        *m = (struct model) {};
        for (unsigned i = 0; i < NZONE; i++) {
                m->zone_on[i] = rand() % 2;
                m->zone_net[i] = rand() % 2 ? rnd_bits(NADDR, 2) : 0;
        }
        m->zone_on[0] = true;
        for (unsigned i = 0; i < NHOST; i++)
                m->host[i] = rnd_bits(NADDR, 2);
        for (unsigned i = 0; i < NLIST; i++)
                m->list[i] = rnd_bits(NADDR, 6);
        m->nrule = 1 + (unsigned) rand() % 6;
        for (unsigned i = 0; i < m->nrule; i++)
                m->rule[i] = rnd_rule(m);
}

static void put_addrs(FILE *f, uint32_t bits) {
        const char *sep = "";

        fputs("[", f);
        for (unsigned i = 0; i < NADDR; i++)
                if (bits & (1u << i)) {
                        fprintf(f, "%s\"%s\"", sep, addr_pool[i]);
                        sep = ", ";
                }
        fputs("]", f);
}

static const char *ref_name(unsigned ref, char *buf) {
        if (ref < REF_HOST)
                return zone_names[ref - REF_ZONE];
        snprintf(buf, 16, "%c%u", ref < REF_LIST ? 'h' : 'l', ref < REF_LIST ? ref - REF_HOST : ref - REF_LIST);
        return buf;
}

static void put_rules(FILE *f, const struct model *m, bool forward) {
        const char *sep = "";
        char buf[16];

        fprintf(f, "%s = (\n", forward ? "forward" : "input");
        for (unsigned i = 0; i < m->nrule; i++) {
                const struct mrule *r = &m->rule[i];
                const char *s2 = "";

                if (r->forward != forward)
                        continue;
                fprintf(f, "%s  { allow = [", sep);
                for (unsigned k = 0; k < NSVC; k++)
                        if (r->svc & (1u << k)) {
                                fprintf(f, "%s\"%s\"", s2, svc_pool[k]);
                                s2 = ", ";
                        }
                fprintf(f, "]; comment = \"r%u\";", r->id);
                if (r->from)
                        fprintf(f, " from = \"%s\";", ref_name(r->from, buf));
                if (r->to)
                        fprintf(f, " to = \"%s\";", ref_name(r->to, buf));
                fputs(" }", f);
                sep = ",\n";
        }
        fputs("\n);\n", f);
}

static char *model_text(const struct model *m) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        bool any_fwd = false, any_in = false;

        fputs("zones = {\n", f);
        for (unsigned i = 0; i < NZONE; i++) {
                if (!m->zone_on[i])
                        continue;
                fprintf(f, "  %s = { interfaces = [\"%s\"];", zone_names[i], zone_if[i]);
                if (m->zone_net[i]) {
                        fputs(" networks = ", f);
                        put_addrs(f, m->zone_net[i]);
                        fputs(";", f);
                }
                fputs(" };\n", f);
        }
        fputs("};\nhosts = {\n", f);
        for (unsigned i = 0; i < NHOST; i++) {
                fprintf(f, "  h%u = ", i);
                put_addrs(f, m->host[i]);
                fputs(";\n", f);
        }
        fputs("};\nlists = {\n", f);
        for (unsigned i = 0; i < NLIST; i++) {
                fprintf(f, "  l%u = { addresses = ", i);
                put_addrs(f, m->list[i]);
                fputs("; };\n", f);
        }
        fputs("};\n", f);
        for (unsigned i = 0; i < m->nrule; i++)
                *(m->rule[i].forward ? &any_fwd : &any_in) = true;
        if (any_in)
                put_rules(f, m, false);
        if (any_fwd)
                put_rules(f, m, true);
        fclose(f);
        return text;
}

static bool zone_used(const struct model *m, unsigned z) {
        for (unsigned i = 0; i < m->nrule; i++)
                if (m->rule[i].from == REF_ZONE + z || m->rule[i].to == REF_ZONE + z)
                        return true;
        return false;
}

/* One random edit of the kinds an administrator makes. */
static void rnd_edit(struct model *m) {
        unsigned i = m->nrule ? (unsigned) rand() % m->nrule : 0, z = (unsigned) rand() % NZONE;
        uint32_t bit = 1u << (rand() % NADDR);

        switch (rand() % 8) {
        case 0: /* a port more or less */
                if (m->nrule && (m->rule[i].svc ^ (1u << (rand() % NSVC))))
                        m->rule[i].svc ^= 1u << (rand() % NSVC);
                break;
        case 1: /* a host's address */
                if (m->host[i % NHOST] ^ bit)
                        m->host[i % NHOST] ^= bit;
                break;
        case 2: /* a list entry */
        case 3:
                if (m->list[i % NLIST] ^ bit)
                        m->list[i % NLIST] ^= bit;
                break;
        case 4: /* a rule more, anywhere */
                if (m->nrule < NRULE) {
                        unsigned at = (unsigned) rand() % (m->nrule + 1);

                        memmove(&m->rule[at + 1], &m->rule[at], (m->nrule - at) * sizeof(m->rule[0]));
                        m->rule[at] = rnd_rule(m);
                        m->nrule++;
                }
                break;
        case 5: /* a rule less */
                if (m->nrule > 1) {
                        memmove(&m->rule[i], &m->rule[i + 1], (m->nrule - i - 1) * sizeof(m->rule[0]));
                        m->nrule--;
                }
                break;
        case 6: /* a zone comes or goes, or its networks change */
                if (z != 0 && !zone_used(m, z))
                        m->zone_on[z] = !m->zone_on[z];
                else
                        m->zone_net[z] ^= bit;
                break;
        case 7: { /* a rule's source */
                struct mrule r = m->nrule ? rnd_rule(m) : (struct mrule) {};

                if (m->nrule && r.forward == m->rule[i].forward && (r.from || !r.forward))
                        m->rule[i].from = r.from;
                break;
        }
        }
}

struct totals {
        unsigned seqs, deltas, fallbacks, nothing, skipped, mismatches;
        size_t rules_added, rules_removed, elems_added, elems_removed;
};

/* One to three edits of m, until it compiles (at most 20 tries): the new ruleset, or NULL. */
static struct pst_ruleset *edited(struct model *m, struct totals *t) {
        unsigned n = 1 + (unsigned) rand() % 3;

        for (unsigned k = 0; k < 20; k++) {
                struct model e = *m;
                _cleanup_free_ char *text = NULL;
                struct pst_ruleset *rs;

                for (unsigned i = 0; i < n; i++)
                        rnd_edit(&e);
                text = model_text(&e);
                rs = compile_text(text, false);
                if (rs) {
                        *m = e;
                        return rs;
                }
                t->skipped++;
        }
        return NULL;
}

/* One sequence: a random policy whole, three edits as deltas, then the
 * listing against a full replace of the last policy. */
static void one_sequence(struct pst_nft *nft, unsigned seq, struct totals *t) {
        struct pst_nft_handles *h = NULL;
        struct pst_ruleset *cur = NULL;
        struct model m;
        char *listed, *fresh;

        for (unsigned k = 0; !cur && k < 20; k++) {
                _cleanup_free_ char *text = NULL;

                rnd_model(&m);
                text = model_text(&m);
                cur = compile_text(text, k == 19);
        }
        if (!cur || full(nft, cur, &h) < 0) {
                CHECK(false, "sequence %u: no first policy", seq);
                exit(1);
        }
        for (unsigned e = 0; e < 3; e++) {
                struct pst_ruleset *next = edited(&m, t);
                struct pst_delta_stats st;
                int r;

                if (!next)
                        continue;
                r = delta(nft, cur, next, &h, &st);
                if (getenv("POSTERN_DELTA_DEBUG") && (unsigned) atoi(getenv("POSTERN_DELTA_DEBUG")) == seq) {
                        _cleanup_free_ char *text = model_text(&m), *l = list_stateless();
                        char what[256];

                        pst_delta_stats_format(&st, what, sizeof(what));
                        printf("debug: edit %u: r=%d %s\n%s\n%s\n", e, r, what, text, l);
                }
                if (r == -EOPNOTSUPP) {
                        t->fallbacks++;
                        r = full(nft, next, &h);
                } else if (r >= 0) {
                        t->deltas++;
                        t->nothing += st.nothing;
                        t->rules_added += st.rules_added, t->rules_removed += st.rules_removed;
                        t->elems_added += st.elems_added, t->elems_removed += st.elems_removed;
                }
                if (r < 0) {
                        _cleanup_free_ char *text = model_text(&m);

                        CHECK(false, "sequence %u edit %u: %s; policy:\n%s", seq, e, strerror(-r), text);
                        exit(1);
                }
                pst_ruleset_free(cur);
                cur = next;
        }
        listed = list_stateless();
        full(nft, cur, &h);
        fresh = list_stateless();
        if (!streq(listed, fresh)) {
                _cleanup_free_ char *text = model_text(&m);

                t->mismatches++;
                if (t->mismatches <= 3)
                        printf("FAIL: sequence %u: after the deltas:\n%s\nafter a full replace:\n%s\npolicy:\n%s\n",
                               seq, listed, fresh, text);
        }
        t->seqs++;
        free(listed), free(fresh);
        pst_nft_handles_free(h);
        pst_ruleset_free(cur);
}

static void part_differential(struct pst_nft *nft) {
        const char *env = getenv("POSTERN_DELTA_SEQS");
        unsigned n = env ? (unsigned) atoi(env) : 1000;
        struct totals t = {};
        struct timespec t0, t1;

        srand(15);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (unsigned s = 0; s < n; s++)
                one_sequence(nft, s, &t);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("differential: %u sequences, %u deltas (%u of them no change), %u full-replace fallbacks, "
               "%u edits that did not compile; %zu rules added, %zu removed, %zu elements added, %zu removed; "
               "%.1f s\n",
               t.seqs, t.deltas, t.nothing, t.fallbacks, t.skipped, t.rules_added, t.rules_removed, t.elems_added,
               t.elems_removed, (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9);
        CHECK(t.mismatches == 0, "%u of %u sequences list differently after deltas than after a full replace",
              t.mismatches, t.seqs);
        CHECK(t.deltas > t.fallbacks, "most edits went as deltas (%u deltas, %u fallbacks)", t.deltas, t.fallbacks);
}

int main(void) {
        const char *catalog = getenv("POSTERN_CATALOG");
        struct pst_nft *nft = NULL;
        struct pst_diag d;
        char cmd[128];

        check_private_netns();
        if (!catalog)
                return 1;
        pst_diag_init(&d);
        check_catalog_and_nft(catalog, &cat, &nft, &d);
        if (!mkdtemp(dir))
                return 1;
        if (sh("ip link set lo up") != 0) {
                printf("skipped: no ip(8)\n");
                return 77;
        }
        part_counters(nft);
        part_differential(nft);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        (void) sh(cmd);
        pst_nft_close(nft);
        pst_catalog_free(cat);
        return failed;
}
