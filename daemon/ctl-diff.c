/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * posternctl diff, in two parts so that a million-entry list costs
 * O(elements) and no text of its size is ever made:
 *
 *   structure  Both sides are built in private network namespaces of child
 *              processes without their named sets' elements — the policy's
 *              ruleset applied, the live table's chains, rules and set
 *              declarations replayed from a netlink dump (nft-dump.h) — and
 *              listed there by libnftables, so both are in the kernel's and
 *              nft's canonical form; diff(1) -u of the two listings.
 *   elements   The live named sets' elements from the same dump, as sorted
 *              ranges, merged against the policy's sets (sorted in the IR).
 *
 * The kernel's dump of a big interval set is quadratic (it walks from the
 * first element again for every 32 KiB datagram): minutes for a million
 * entries.  When a posternd runs here and vouches that the kernel still
 * holds what it last committed, the live elements come from its running
 * ruleset instead (live_from_daemon()), and only the structure is dumped.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conntrack.h"
#include "ctl-bus.h"
#include "ctl-diff.h"
#include "ctl-speak.h"
#include "ctl-stats.h"
#include "json.h"
#include "nft-delta.h"
#include "nft-dump.h"
#include "nft.h"
#include "presence.h"
#include "show.h"
#include "snapshot.h"

#define DIFF_TEXT_MAX ((size_t) 256 << 20) /* a structure listing has no elements of named sets */

/* Read fd to its end into a NUL-terminated buffer. */
static int read_all(int fd, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;

        for (;;) {
                ssize_t n;

                if (GROW(buf, cap, len + 65536, DIFF_TEXT_MAX) < 0)
                        return -E2BIG;
                n = read(fd, buf + len, cap - len - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        return 0;
}

typedef int (*fill_fn)(void *data, struct pst_diag *diag);

/*
 * In a child process in a private, empty network namespace: fill(data)
 * builds a table there, libnftables lists it (without counters) into *ret.
 * The namespace goes away with the child.
 */
static int list_in_private_netns(fill_fn fill, void *data, struct pst_diag *diag, char **ret) {
        int pfd[2], status, r;
        pid_t pid;

        if (pipe2(pfd, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(pfd[0]);
                close(pfd[1]);
                return r;
        }
        if (pid == 0) {
                struct pst_diag d;
                char *text = NULL;
                FILE *out;

                close(pfd[0]);
                pst_diag_init(&d);
                if (unshare(CLONE_NEWNET) < 0)
                        _exit(3);
                r = fill(data, &d);
                if (r >= 0)
                        r = pst_show_table(PST_TABLE, PST_SHOW_STATELESS, &d, &text);
                if (r == -ENOENT) /* nothing was built: no table */
                        r = 0;
                if (r < 0) {
                        pst_diag_print(&d, stderr);
                        _exit(4);
                }
                out = fdopen(pfd[1], "w");
                if (!out || fputs(text ?: "", out) < 0 || fclose(out) != 0)
                        _exit(5);
                _exit(0);
        }
        close(pfd[1]);
        r = read_all(pfd[0], ret);
        close(pfd[0]);
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                if (r >= 0)
                        free(*ret), *ret = NULL;
                return pst_error(diag, -EIO, NULL, 0,
                                 "cannot build the comparison table in a private network namespace (status %d)",
                                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        }
        return r;
}

/* The policy's side: its ruleset with the named sets emptied (this is a
 * child's copy of it), applied as a one-shot apply would. */
static int fill_want(void *data, struct pst_diag *diag) {
        _cleanup_(pst_nft_closep) struct pst_nft *nft = NULL;
        struct pst_ruleset *rs = data;
        int r;

        for (size_t i = 0; i < rs->nsets; i++)
                if (!(rs->sets[i].flags & PST_SET_ANON))
                        rs->sets[i].n = 0;
        r = pst_nft_open(&nft);
        if (r < 0)
                return pst_error(diag, r, NULL, 0, "cannot open a netlink socket: %s", strerror(-r));
        return pst_nft_apply(nft, rs, &(struct pst_apply_opts) {}, diag);
}

static int fill_live(void *data, struct pst_diag *diag) {
        return pst_live_replay(data, diag);
}

static int write_tmp(const char *text, char path[static 64]) {
        _cleanup_close_ int fd = -1;
        size_t len = strlen(text);

        strcpy(path, "/tmp/posternctl-diff-XXXXXX");
        fd = mkstemp(path);
        if (fd < 0)
                return -errno;
        if (write(fd, text, len) != (ssize_t) len) {
                unlink(path);
                return -EIO;
        }
        return 0;
}

/* diff -u of two texts, labelled; "" when they are equal. */
static int unified_diff(const char *a, const char *b, const char *label_b, char **ret) {
        char pa[64], pb[64];
        int pfd[2], status, r;
        pid_t pid;

        if (streq(a, b))
                return (*ret = strdup("")) ? 0 : -ENOMEM;
        r = write_tmp(a, pa);
        if (r < 0)
                return r;
        r = write_tmp(b, pb);
        if (r < 0) {
                unlink(pa);
                return r;
        }
        if (pipe2(pfd, O_CLOEXEC) < 0) {
                r = -errno;
                goto out;
        }
        pid = fork();
        if (pid == 0) {
                if (dup2(pfd[1], STDOUT_FILENO) < 0)
                        _exit(127);
                execl("/usr/bin/diff", "diff", "-u", "--label", "live", "--label", label_b, pa, pb, (char *) NULL);
                _exit(127);
        }
        close(pfd[1]);
        r = pid < 0 ? -errno : read_all(pfd[0], ret);
        close(pfd[0]);
        /* diff exits 1 when the files differ; 127: no diff(1) on this host */
        if (pid > 0 && (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) > 1)) {
                if (r >= 0)
                        free(*ret), *ret = NULL;
                r = -ENOEXEC;
        }
out:
        unlink(pa);
        unlink(pb);
        return r;
}

/* What changes in one named set. */
struct set_diff {
        char name[PST_NAME_MAX * 4];
        const struct pst_elems *fmt_live, *fmt_want; /* format the keys of each side, while the walk runs */
        size_t added, removed;
        char *shown[CTL_DIFF_SHOWN]; /* "+ 198.18.5.0/24", the first CTL_DIFF_SHOWN in key order */
        size_t nshown;
};

struct diffs {
        struct set_diff *v;
        size_t n, cap;
};

static void diffs_clear(struct diffs *d) {
        for (size_t i = 0; i < d->n; i++)
                for (size_t k = 0; k < d->v[i].nshown; k++)
                        free(d->v[i].shown[k]);
        free(d->v);
}

static int elem_cb(char sign, const uint8_t *first, const uint8_t *last, void *data) {
        struct set_diff *sd = data;
        char buf[1024];

        if (sign == '+')
                sd->added++;
        else
                sd->removed++;
        if (sd->nshown >= CTL_DIFF_SHOWN)
                return 0;
        buf[0] = sign;
        buf[1] = ' ';
        pst_elems_format(sign == '+' ? sd->fmt_want : sd->fmt_live, first, last, buf + 2, sizeof(buf) - 2);
        sd->shown[sd->nshown] = strdup(buf);
        if (!sd->shown[sd->nshown])
                return -ENOMEM;
        sd->nshown++;
        return 0;
}

/* One set's difference (live or want may be NULL: the set is only on one side). */
static int diff_set(struct diffs *d, const struct pst_elems *live, const struct pst_elems *want) {
        static const struct pst_elems none = {};
        struct set_diff *sd;
        int r;

        if (GROW(d->v, d->cap, d->n + 1, (size_t) PST_SETS_MAX * 2) < 0)
                return -ENOMEM;
        sd = &d->v[d->n];
        *sd = (struct set_diff) { .fmt_live = live, .fmt_want = want };
        memcpy(sd->name, (want ?: live)->name, sizeof(sd->name));
        r = pst_elems_diff(live ?: &none, want ?: &none, elem_cb, sd);
        sd->fmt_live = sd->fmt_want = NULL;
        d->n++; /* counted even on failure: diffs_clear() frees what it holds */
        if (r < 0)
                return r;
        if (sd->added == 0 && sd->removed == 0)
                d->n--;
        return 0;
}

static int diff_elements(const struct pst_ruleset *rs, const struct pst_live_table *live, struct diffs *d) {
        int r;

        for (size_t i = 0; i < rs->nsets; i++) {
                struct pst_elems want;

                /* rpc pinholes come and go with the endpoint mapper's replies: not drift */
                if (rs->sets[i].flags & (PST_SET_ANON | PST_SET_TIMEOUT))
                        continue;
                r = pst_elems_from_set(&rs->sets[i], &want);
                if (r < 0)
                        return r;
                r = diff_set(d, pst_live_find_set(live, want.name), &want);
                pst_elems_clear(&want);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < pst_live_nsets(live); i++) {
                const struct pst_elems *e = pst_live_set(live, i);

                if (pst_set_find(rs, e->name) >= 0)
                        continue;
                r = diff_set(d, e, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void print_text(const char *structure, const struct diffs *d) {
        fputs(structure, stdout);
        for (size_t i = 0; i < d->n; i++) {
                const struct set_diff *sd = &d->v[i];

                printf("set %s: %zu added, %zu removed\n", sd->name, sd->added, sd->removed);
                for (size_t k = 0; k < sd->nshown; k++)
                        printf("%s\n", sd->shown[k]);
                if (sd->added + sd->removed > sd->nshown)
                        printf("... and %zu more\n", sd->added + sd->removed - sd->nshown);
        }
}

static void print_json(bool same, const char *live, const char *want, const char *structure,
                       const struct diffs *d) {
        struct pst_json j;

        pst_json_init(&j, stdout);
        pst_json_begin_object(&j, NULL);
        pst_json_bool(&j, "ok", true);
        pst_json_bool(&j, "same", same);
        pst_json_string(&j, "live", live);
        pst_json_string(&j, "policy", want);
        pst_json_string(&j, "structure", structure);
        pst_json_begin_array(&j, "sets");
        for (size_t i = 0; i < d->n; i++) {
                const struct set_diff *sd = &d->v[i];

                pst_json_begin_object(&j, NULL);
                pst_json_string(&j, "name", sd->name);
                pst_json_int(&j, "added", (long long) sd->added);
                pst_json_int(&j, "removed", (long long) sd->removed);
                pst_json_begin_array(&j, "elements");
                for (size_t k = 0; k < sd->nshown; k++)
                        pst_json_string(&j, NULL, sd->shown[k]);
                pst_json_end_array(&j);
                pst_json_end_object(&j);
        }
        pst_json_end_array(&j);
        pst_json_end_object(&j);
}

/* ---- the policy's words ---- */

/* One line said, with its parts, for the text and for --json. */
struct said {
        char sign;
        char *text, *chain, *what, *where, *verdict, *element;
        char *trusted_zone; /* NULL unless a trusted zone's rule */
};

/* What becomes allowed (+) and blocked (-), in the order it is printed. */
struct speech {
        struct said *v;
        size_t n, cap;
        size_t more; /* element lines left out */
};

static void said_clear(struct said *x) {
        free(x->text);
        free(x->chain);
        free(x->what);
        free(x->where);
        free(x->verdict);
        free(x->element);
        free(x->trusted_zone);
}

static void speech_clear(struct speech *sp) {
        for (size_t i = 0; i < sp->n; i++)
                said_clear(&sp->v[i]);
        free(sp->v);
        *sp = (struct speech) {};
}

static int say(struct speech *sp, char sign, const struct speak_line *l) {
        struct said *x;

        if (GROW(sp->v, sp->cap, sp->n + 1, (size_t) 1 << 24) < 0)
                return -ENOMEM;
        x = &sp->v[sp->n++];
        *x = (struct said) { .sign = sign, .text = strdup(l->text), .chain = strdup(l->chain),
                             .what = strdup(l->what), .where = strdup(l->where), .verdict = strdup(l->verdict),
                             .element = l->element ? strdup(l->element) : NULL,
                             .trusted_zone = l->trusted_zone ? strdup(l->trusted_zone) : NULL };
        if (!x->text || !x->chain || !x->what || !x->where || !x->verdict || (l->element && !x->element) ||
            (l->trusted_zone && !x->trusted_zone))
                return -ENOMEM;
        return 0;
}

static int say_atom(struct speech *sp, char sign, const struct speak_atom *a) {
        struct speak_line l;

        speak_atom_line(a, &l);
        return say(sp, sign, &l);
}

static int say_atoms(struct speech *sp, const struct speak_table *live, const struct speak_table *want) {
        struct speak_atom *a = NULL, *b = NULL;
        size_t na = 0, nb = 0, i = 0, j = 0;
        int r;

        r = speak_atoms(live, &a, &na);
        if (r >= 0)
                r = speak_atoms(want, &b, &nb);
        while (r >= 0 && (i < na || j < nb)) {
                int c = i >= na ? 1 : j >= nb ? -1 : strcmp(a[i].text, b[j].text);

                if (c == 0)
                        i++, j++;
                else if (c < 0)
                        r = say_atom(sp, '-', &a[i++]);
                else
                        r = say_atom(sp, '+', &b[j++]);
        }
        speak_atoms_free(a, na);
        speak_atoms_free(b, nb);
        return r;
}

struct say_elem {
        struct speech *sp;
        char sign;
};

static int say_elem_cb(const struct speak_line *l, void *data) {
        struct say_elem *se = data;

        return say(se->sp, se->sign, l);
}

/* The shown element changes of every set, said through the rules that use them. */
static int say_elements(struct speech *sp, const struct diffs *d, const struct speak_table *live,
                        const struct speak_table *want, const struct speak_names *names) {
        int r = 0;

        for (size_t i = 0; i < d->n && r >= 0; i++) {
                const struct set_diff *sd = &d->v[i];

                for (size_t k = 0; k < sd->nshown && r >= 0; k++) {
                        struct say_elem se = { sp, sd->shown[k][0] };

                        r = speak_element(se.sign == '+' ? want : live, names, sd->name, sd->shown[k] + 2,
                                          say_elem_cb, &se);
                }
                sp->more += sd->added + sd->removed - sd->nshown;
        }
        return r;
}

static void json_said(struct pst_json *j, const struct speech *sp, char sign, const char *key) {
        pst_json_begin_array(j, key);
        for (size_t i = 0; i < sp->n; i++) {
                const struct said *x = &sp->v[i];

                if (x->sign != sign)
                        continue;
                pst_json_begin_object(j, NULL);
                pst_json_string(j, "text", x->text);
                pst_json_string(j, "chain", x->chain);
                pst_json_string(j, "what", x->what);
                pst_json_string(j, "where", x->where);
                pst_json_string(j, "verdict", x->verdict[0] ? x->verdict : "accept");
                pst_json_string(j, "element", x->element);
                pst_json_string(j, "trusted_zone", x->trusted_zone);
                pst_json_end_object(j);
        }
        pst_json_end_array(j);
}

static void print_speech(const struct speech *sp, bool json, bool same, int ct, uint64_t cut, uint64_t total) {
        struct pst_json j;

        if (!json) {
                for (size_t i = 0; i < sp->n; i++)
                        printf("%c %s\n", sp->v[i].sign, sp->v[i].text);
                if (sp->more)
                        printf("... and %zu more set elements\n", sp->more);
                if (ct >= 0 && !same)
                        printf("conntrack: %" PRIu64 " of %" PRIu64 " tracked connections would not be let in as new\n",
                               cut, total);
                else if (!same)
                        printf("conntrack: not counted (%s)\n", strerror(-ct));
                return;
        }
        pst_json_init(&j, stdout);
        pst_json_begin_object(&j, NULL);
        pst_json_bool(&j, "ok", true);
        pst_json_bool(&j, "same", same);
        json_said(&j, sp, '+', "allowed");
        json_said(&j, sp, '-', "blocked");
        pst_json_int(&j, "more", (long long) sp->more);
        if (ct >= 0 && !same) {
                pst_json_begin_object(&j, "conntrack");
                pst_json_int(&j, "cut", (long long) cut);
                pst_json_int(&j, "total", (long long) total);
                pst_json_end_object(&j);
        } else
                pst_json_raw(&j, "conntrack", "null");
        pst_json_end_object(&j);
}

static int speak_diff(const struct pst_ruleset *rs, const struct ctl_diff_opts *o, const char *live_text,
                      const char *want_text, const struct diffs *d, bool same) {
        const struct speak_names names = { .policy = o->policy, .catalog = o->catalog };
        struct speak_table live = {}, want = {};
        struct speech sp = {};
        uint64_t cut = 0, total = 0;
        int r, ct = -ENODATA;

        r = speak_parse(live_text, &names, &live);
        if (r >= 0)
                r = speak_parse(want_text, &names, &want);
        if (r >= 0)
                r = say_atoms(&sp, &live, &want);
        if (r >= 0)
                r = say_elements(&sp, d, &live, &want, &names);
        if (r >= 0 && !same)
                ct = pst_conntrack_count_cut(rs, NULL, &cut, &total);
        if (r >= 0)
                print_speech(&sp, o->json, same, ct, cut, total);
        speak_table_clear(&live);
        speak_table_clear(&want);
        speech_clear(&sp);
        return r;
}

/* ---- the live side's named sets' elements from posternd ---- */

/* Hand every named set of run (posternd's running ruleset) to live; any
 * mismatch with the kernel's declarations means run is not what it holds. */
static int elems_from_running(struct pst_live_table *live, const struct pst_ruleset *run) {
        size_t n = 0;
        int r;

        for (size_t i = 0; i < run->nsets; i++) {
                struct pst_elems e;

                if (run->sets[i].flags & PST_SET_ANON)
                        continue;
                r = pst_elems_from_set(&run->sets[i], &e);
                if (r < 0)
                        return r;
                r = pst_live_set_elems(live, &e);
                pst_elems_clear(&e);
                if (r < 0)
                        return -ESTALE;
                n++;
        }
        /* names are unique on both sides: n handed over and n declared means all of them */
        return n == pst_live_nsets(live) ? 0 : -ESTALE;
}

/*
 * SaveRunning(), then the structure without the named sets' elements,
 * between two readings of the kernel's generation: if both are the one of
 * posternd's last commit, nobody committed anything since, and the kernel
 * holds exactly the daemon's running ruleset, whose elements are then the
 * live ones.  -ESTALE: someone else did commit; any other error: the D-Bus
 * path failed.  Either way the caller dumps everything.
 */
static int live_from_daemon(const char *table, struct pst_live_table **ret, uint32_t *ret_gen,
                            struct pst_ruleset **ret_run) {
        _cleanup_(pst_live_freep) struct pst_live_table *live = NULL;
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *run = NULL;
        _cleanup_(pst_nft_closep) struct pst_nft *nft = NULL;
        struct pst_snapshot_meta meta;
        struct pst_diag d;
        uint32_t gen, g0 = 0, g1 = 0;
        int r;

        r = ctl_running_ruleset(&run, &gen, &meta);
        if (r < 0)
                return r;
        if (!streq(run->table, table) || meta.backend != PST_BACKEND_NFTABLES)
                return -ESTALE;
        pst_diag_init(&d);
        r = pst_nft_open(&nft);
        if (r >= 0)
                r = pst_nft_genid(nft, &g0);
        if (r >= 0)
                r = pst_live_dump(table, PST_LIVE_NO_NAMED_ELEMS, &live, &d);
        if (r >= 0)
                r = pst_nft_genid(nft, &g1);
        pst_diag_clear(&d);
        if (r < 0)
                return r;
        if (g0 != gen || g1 != gen || !pst_live_exists(live))
                return -ESTALE;
        r = elems_from_running(live, run);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(live);
        *ret_gen = gen;
        *ret_run = TAKE_PTR(run);
        return 0;
}

/* POSTERN_DIFF_DEBUG=1: say on stderr where the live elements came from (tests, timing). */
static bool diff_debug(void) {
        const char *e = getenv("POSTERN_DIFF_DEBUG");

        return e && streq(e, "1");
}

/* The live table: from posternd's running ruleset when it can be (then
 * *ret_run is that ruleset), else all from the kernel. */
static int dump_live(const char *table, struct pst_live_table **ret, struct pst_ruleset **ret_run,
                     struct pst_diag *diag) {
        uint32_t gen = 0;
        int r = presence_check() > 0 ? live_from_daemon(table, ret, &gen, ret_run) : -ENOTCONN;

        if (r >= 0) {
                if (diff_debug())
                        fprintf(stderr, "posternctl diff: live set elements from posternd's running ruleset "
                                "(generation %" PRIu32 ")\n", gen);
                return 0;
        }
        if (diff_debug())
                fprintf(stderr, "posternctl diff: live set elements from the kernel (%s)\n",
                        r == -ENOTCONN ? "no posternd here"
                        : r == -ESTALE ? "changed since posternd's last commit"
                        : r == -EBUSY  ? "posternd cannot vouch for the kernel's ruleset"
                                       : strerror(-r));
        else if (r != -ENOTCONN && r != -EBUSY)
                fprintf(stderr, "posternctl diff: note: %s%s; reading every set element from the kernel, which "
                        "takes minutes for a list of a million entries\n",
                        r == -ESTALE ? "the ruleset changed since posternd's last commit"
                                     : "cannot take the elements from posternd's running ruleset: ",
                        r == -ESTALE ? "" : strerror(-r));
        return pst_live_dump(table, 0, ret, diag);
}

/* On stderr, beside the diff: what a reload through posternd would send
 * (issue 15), when its running ruleset is what the kernel holds. */
static void say_delta(const struct pst_ruleset *run, const struct pst_ruleset *rs) {
        struct pst_delta_stats st;
        struct pst_diag d;
        char what[256];

        if (!run)
                return;
        pst_diag_init(&d);
        if (pst_nft_delta_count(run, rs, &st, &d) >= 0 || st.full) {
                pst_delta_stats_format(&st, what, sizeof(what));
                fprintf(stderr, "posternctl diff: a reload through posternd would send: %s\n", what);
        }
        pst_diag_clear(&d);
}

int ctl_diff(struct pst_ruleset *rs, const struct ctl_diff_opts *o, struct pst_diag *diag) {
        _cleanup_(pst_live_freep) struct pst_live_table *live = NULL;
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *run = NULL;
        _cleanup_free_ char *live_text = NULL, *want_text = NULL, *structure = NULL;
        struct diffs d = {};
        bool same;
        int r;

        r = dump_live(rs->table, &live, &run, diag);
        if (r < 0)
                return r;
        say_delta(run, rs);
        r = list_in_private_netns(fill_want, rs, diag, &want_text);
        if (r < 0)
                return r;
        if (pst_live_exists(live))
                r = list_in_private_netns(fill_live, live, diag, &live_text);
        else
                r = (live_text = strdup("")) ? 0 : -ENOMEM;
        if (r < 0)
                return r;
        r = unified_diff(live_text, want_text, o->label, &structure);
        if (r < 0)
                return pst_error(diag, r, NULL, 0, "cannot compare the listings with diff(1): %s", strerror(-r));
        r = diff_elements(rs, live, &d);
        if (r < 0) {
                diffs_clear(&d);
                return pst_error(diag, r, NULL, 0, "cannot compare set elements: %s", strerror(-r));
        }
        same = !*structure && d.n == 0;
        if (!o->nft)
                r = speak_diff(rs, o, live_text, want_text, &d, same);
        else if (o->json)
                print_json(same, live_text, want_text, structure, &d);
        else
                print_text(structure, &d);
        diffs_clear(&d);
        if (r < 0)
                return pst_error(diag, r, NULL, 0, "cannot say what changes: %s", strerror(-r));
        return same ? 0 : 1;
}
