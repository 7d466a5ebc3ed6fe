/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "snapshot.h"

#define SNAPSHOT_MAGIC "PSTSNAP1"
#define SNAPSHOT_FILES_MAX 4096
#define SNAPSHOT_PATH_MAX 4096

/* What a snapshot file starts with: the struct sizes say which build wrote it. */
struct snapshot_header {
        char magic[8];
        uint32_t set_size, chain_size, rule_size, verdict_size;
        struct pst_snapshot_meta meta;
        char table[PST_NAME_MAX];
        uint64_t nfiles, nsets, nchains;
};

static int put(FILE *f, const void *p, size_t n) {
        return n == 0 || fwrite(p, n, 1, f) == 1 ? 0 : -EIO;
}

static int get(FILE *f, void *p, size_t n) {
        return n == 0 || fread(p, n, 1, f) == 1 ? 0 : -EBADMSG;
}

static int write_body(FILE *f, const struct pst_ruleset *rs) {
        int r = 0;

        for (size_t i = 0; i < rs->nfiles && r >= 0; i++) {
                uint32_t len = (uint32_t) strlen(rs->files[i]);

                r = put(f, &len, sizeof(len));
                if (r >= 0)
                        r = put(f, rs->files[i], len);
        }
        for (size_t i = 0; i < rs->nsets && r >= 0; i++) {
                struct pst_set s = rs->sets[i];

                s.keys = NULL;
                s.data = NULL;
                r = put(f, &s, sizeof(s));
                if (r >= 0)
                        r = put(f, rs->sets[i].keys, rs->sets[i].n * 2 * rs->sets[i].klen);
                if (r >= 0 && (s.flags & PST_SET_MAP))
                        r = put(f, rs->sets[i].data, rs->sets[i].n * sizeof(struct pst_verdict));
        }
        for (size_t i = 0; i < rs->nchains && r >= 0; i++) {
                struct pst_chain c = rs->chains[i];

                c.rules = NULL;
                r = put(f, &c, sizeof(c));
                if (r >= 0)
                        r = put(f, rs->chains[i].rules, rs->chains[i].n * sizeof(struct pst_rule));
        }
        return r;
}

/* A new file only root can read: a snapshot holds every list entry of the policy. */
static FILE *create_private(const char *path) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        FILE *f;

        if (fd < 0)
                return NULL;
        f = fdopen(fd, "w");
        if (!f)
                close(fd);
        return f;
}

int pst_snapshot_save(const char *path, const struct pst_ruleset *rs, const struct pst_snapshot_meta *meta) {
        _cleanup_free_ char *tmp = NULL;
        struct snapshot_header h = {
                .set_size = sizeof(struct pst_set),
                .chain_size = sizeof(struct pst_chain),
                .rule_size = sizeof(struct pst_rule),
                .verdict_size = sizeof(struct pst_verdict),
                .meta = *meta,
                .nfiles = rs->nfiles,
                .nsets = rs->nsets,
                .nchains = rs->nchains,
        };
        FILE *f;
        int r;

        memcpy(h.magic, SNAPSHOT_MAGIC, sizeof(h.magic));
        snprintf(h.table, sizeof(h.table), "%s", rs->table);
        if (asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        f = create_private(tmp);
        if (!f && errno == EEXIST && unlink(tmp) == 0)
                f = create_private(tmp); /* left by a crash */
        if (!f)
                return -errno;
        r = put(f, &h, sizeof(h));
        if (r >= 0)
                r = write_body(f, rs);
        if (r >= 0 && (fflush(f) != 0 || fsync(fileno(f)) < 0))
                r = -errno;
        if (fclose(f) != 0 && r >= 0)
                r = -errno;
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                (void) unlink(tmp);
        return r;
}

/* ---- reading: everything checked before it is used ---- */

static bool fields_ok(const enum pst_field *fields, unsigned n) {
        if (n == 0 || n > PST_CONCAT_MAX)
                return false;
        for (unsigned i = 0; i < n; i++)
                if ((unsigned) fields[i] >= _PST_F_MAX)
                        return false;
        return true;
}

static bool verdict_ok(const struct pst_verdict *v, size_t nchains) {
        if ((unsigned) v->kind > PST_V_QUEUE)
                return false;
        if (v->kind == PST_V_QUEUE)
                return v->chain <= UINT16_MAX;
        return (v->kind != PST_V_JUMP && v->kind != PST_V_GOTO) || v->chain < nchains;
}

static bool rule_ok(struct pst_rule *rule, const struct pst_ruleset *rs) {
        uint8_t counter;

        memcpy(&counter, &rule->counter, 1); /* a bool that is neither 0 nor 1 must not be read as one */
        rule->counter = counter != 0;
        memcpy(&counter, &rule->log_nflog, 1);
        rule->log_nflog = counter != 0;
        if (rule->nmatch > PST_MATCH_MAX || !verdict_ok(&rule->verdict, rs->nchains) || rule->origin.file >= rs->nfiles)
                return false;
        if (rule->nat.kind > PST_NAT_DNAT || (rule->nat.kind > PST_NAT_MASQ && rule->nat.family != AF_INET &&
                                              rule->nat.family != AF_INET6))
                return false;
        rule->comment[PST_COMMENT_MAX - 1] = 0;
        rule->log_prefix[PST_LOG_PREFIX_MAX - 1] = 0;
        for (unsigned i = 0; i < rule->nmatch; i++) {
                const struct pst_match *m = &rule->match[i];

                if ((unsigned) m->op > PST_M_RANGE || !fields_ok(m->fields, m->nfields))
                        return false;
                if ((m->op == PST_M_SET || m->op == PST_M_VMAP) &&
                    (m->set >= rs->nsets || rs->sets[m->set].nfields != m->nfields ||
                     memcmp(rs->sets[m->set].fields, m->fields, m->nfields * sizeof(m->fields[0])) != 0 ||
                     (m->op == PST_M_VMAP) != !!(rs->sets[m->set].flags & PST_SET_MAP)))
                        return false;
        }
        return true;
}

static int read_files(FILE *f, struct pst_ruleset *rs, uint64_t n) {
        rs->files = calloc(n, sizeof(char *));
        if (!rs->files)
                return -ENOMEM;
        rs->capfiles = n;
        while (rs->nfiles < n) {
                uint32_t len;
                char *s;

                if (get(f, &len, sizeof(len)) < 0 || len > SNAPSHOT_PATH_MAX)
                        return -EBADMSG;
                s = rs->files[rs->nfiles] = calloc(1, len + 1);
                if (!s)
                        return -ENOMEM;
                rs->nfiles++; /* freed with the rest from here on */
                if (get(f, s, len) < 0 || strlen(s) != len)
                        return -EBADMSG;
        }
        return rs->nfiles > 0 && rs->files[0][0] == 0 ? 0 : -EBADMSG; /* files[0] is "" */
}

static int read_set(FILE *f, struct pst_set *s, const struct pst_ruleset *rs) {
        size_t keybytes;

        if (get(f, s, sizeof(*s)) < 0)
                return -EBADMSG;
        s->keys = NULL;
        s->data = NULL;
        s->cap = s->capdata = 0;
        s->name[PST_NAME_MAX - 1] = s->ifname[IFNAMSIZ - 1] = s->comment[PST_COMMENT_MAX - 1] = 0;
        if (!fields_ok(s->fields, s->nfields) || s->klen != pst_key_len(s->fields, s->nfields) ||
            s->n > PST_ELEMS_MAX || s->origin.file >= rs->nfiles)
                return -EBADMSG;
        keybytes = s->n * 2 * s->klen;
        if (keybytes && !(s->keys = malloc(keybytes)))
                return -ENOMEM;
        s->cap = keybytes;
        if (get(f, s->keys, keybytes) < 0)
                return -EBADMSG;
        if (!(s->flags & PST_SET_MAP) || s->n == 0)
                return 0;
        s->data = calloc(s->n, sizeof(*s->data));
        if (!s->data)
                return -ENOMEM;
        s->capdata = s->n;
        return get(f, s->data, s->n * sizeof(*s->data));
}

static int read_chain(FILE *f, struct pst_chain *c, const struct pst_ruleset *rs) {
        if (get(f, c, sizeof(*c)) < 0)
                return -EBADMSG;
        c->rules = NULL;
        c->cap = 0;
        c->name[PST_NAME_MAX - 1] = 0;
        if (c->n > PST_RULES_MAX || (unsigned) c->hook > PST_HOOK_OUTPUT)
                return -EBADMSG;
        if (c->n && !(c->rules = calloc(c->n, sizeof(*c->rules))))
                return -ENOMEM;
        c->cap = c->n;
        return get(f, c->rules, c->n * sizeof(*c->rules));
}

/* The sets' verdicts and the rules can name chains and sets by index only
 * once all are read. */
static int check_refs(struct pst_ruleset *rs) {
        for (size_t i = 0; i < rs->nsets; i++)
                for (size_t e = 0; rs->sets[i].data && e < rs->sets[i].n; e++)
                        if (!verdict_ok(&rs->sets[i].data[e], rs->nchains))
                                return -EBADMSG;
        for (size_t i = 0; i < rs->nchains; i++)
                for (size_t k = 0; k < rs->chains[i].n; k++)
                        if (!rule_ok(&rs->chains[i].rules[k], rs))
                                return -EBADMSG;
        return 0;
}

static int read_body(FILE *f, const struct snapshot_header *h, struct pst_ruleset *rs) {
        int r = read_files(f, rs, h->nfiles);

        if (r < 0)
                return r;
        if (h->nsets && !(rs->sets = calloc(h->nsets, sizeof(*rs->sets))))
                return -ENOMEM;
        rs->capsets = h->nsets;
        for (; rs->nsets < h->nsets; rs->nsets++) {
                r = read_set(f, &rs->sets[rs->nsets], rs);
                if (r < 0) {
                        rs->nsets++; /* what it allocated is freed with the rest */
                        return r;
                }
        }
        if (h->nchains && !(rs->chains = calloc(h->nchains, sizeof(*rs->chains))))
                return -ENOMEM;
        rs->capchains = h->nchains;
        for (; rs->nchains < h->nchains; rs->nchains++) {
                r = read_chain(f, &rs->chains[rs->nchains], rs);
                if (r < 0) {
                        rs->nchains++;
                        return r;
                }
        }
        if (fgetc(f) != EOF)
                return -EBADMSG; /* trailing bytes: not what we wrote */
        return check_refs(rs);
}

int pst_snapshot_load(const char *path, struct pst_ruleset **ret, struct pst_snapshot_meta *meta) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        struct snapshot_header h;
        int r;

        f = fopen(path, "re");
        if (!f)
                return -errno;
        if (get(f, &h, sizeof(h)) < 0 || memcmp(h.magic, SNAPSHOT_MAGIC, sizeof(h.magic)) != 0 ||
            h.set_size != sizeof(struct pst_set) || h.chain_size != sizeof(struct pst_chain) ||
            h.rule_size != sizeof(struct pst_rule) || h.verdict_size != sizeof(struct pst_verdict) ||
            h.nfiles == 0 || h.nfiles > SNAPSHOT_FILES_MAX || h.nsets > PST_SETS_MAX || h.nchains > PST_CHAINS_MAX)
                return -EBADMSG;
        rs = calloc(1, sizeof(*rs));
        if (!rs)
                return -ENOMEM;
        h.table[PST_NAME_MAX - 1] = 0;
        h.meta.digest[sizeof(h.meta.digest) - 1] = 0;
        memcpy(rs->table, h.table, sizeof(rs->table));
        r = read_body(f, &h, rs);
        if (r < 0)
                return r;
        *meta = h.meta;
        *ret = TAKE_PTR(rs);
        return 0;
}
