/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "conntrack.h"
#include "list-cache.h"
#include "lockout.h"
#include "log.h"
#include "drops.h"
#include "rpc.h"
#include "kernel-features.h"
#include "manager.h"
#include "netmon.h"
#include "presence.h"
#include "snapshot.h"

#define HEAL_BURST 10                  /* heals of the table per window, at most */
#define HEAL_WINDOW_USEC (10 * 1000000ULL)

/* --backend, else the policy's options.backend (p NULL: no valid policy). */
static enum pst_backend_kind wanted_backend(const struct manager *m, const struct pst_policy *p) {
        if (m->backend_cli != PST_BACKEND_AUTO || !p)
                return m->backend_cli;
        return p->options.backend;
}

/* The open backend when it is what want asks for (its socket stays open and
 * watched: keep it), else a new one; the caller installs or closes it. */
static int backend_for(struct manager *m, enum pst_backend_kind want, struct pst_diag *diag, struct pst_backend **ret) {
        if (m->backend && pst_backend_matches(m->backend, want)) {
                *ret = m->backend;
                return 0;
        }
        return pst_backend_open(want, diag, ret);
}

static int on_watch(sd_event_source *s, int fd, uint32_t revents, void *userdata);

/* b installs our ruleset from now on: watch it for what others do to it. */
static void set_backend(struct manager *m, struct pst_backend *b) {
        int fd, r;

        if (b == m->backend)
                return;
        m->watch = sd_event_source_disable_unref(m->watch);
        pst_backend_close(m->backend);
        m->backend = b;
        r = pst_backend_watch_open(b, PST_TABLE, &fd);
        if (r == -EOPNOTSUPP)
                return; /* legacy xtables: nothing to watch with */
        if (r >= 0)
                r = sd_event_add_io(m->event, &m->watch, fd, EPOLLIN, on_watch, m);
        if (r >= 0)
                (void) sd_event_source_set_description(m->watch, "ruleset-watch");
        if (r < 0)
                log_errno(LOG_WARNING, r, "cannot watch table inet %s for changes by others (%m), continuing without",
                          PST_TABLE);
}

static void backend_unused(struct manager *m, struct pst_backend *b) {
        if (b != m->backend)
                pst_backend_close(b);
}

#define CHANGED_SETS_MAX 64 /* more changed sets than this at once: re-apply the whole table */

/* ---- state ---- */

const char *manager_state_name(enum manager_state s) {
        static const char *const names[] = {
                [MANAGER_STARTING] = "starting",
                [MANAGER_APPLIED] = "applied",
                [MANAGER_EMERGENCY] = "emergency",
                [MANAGER_DEGRADED] = "degraded",
        };
        return (unsigned) s < ELEMENTSOF(names) ? names[s] : "unknown";
}

void manager_set_observer(struct manager *m, const struct manager_observer *o, void *userdata) {
        m->observer = o;
        m->observer_userdata = userdata;
}

static void notify_applied(struct manager *m) {
        if (m->observer)
                m->observer->applied(m->observer_userdata);
}

static void notify_state_changed(struct manager *m) {
        if (m->observer)
                m->observer->state_changed(m->observer_userdata);
}

static void notify_rolled_back(struct manager *m) {
        if (m->observer && m->observer->rolled_back)
                m->observer->rolled_back(m->observer_userdata);
}

int manager_new(struct manager **ret) {
        struct manager *m = calloc(1, sizeof(*m));

        if (!m || pst_list_cache_new(&m->list_cache) < 0) {
                free(m);
                return -ENOMEM;
        }
        m->source_flags = pst_source_flags_from_env();
        m->state = MANAGER_STARTING;
        m->presence_fd = -1;
        m->generation_fd = -1;
        *ret = m;
        return 0;
}

struct manager *manager_free(struct manager *m) {
        if (!m)
                return NULL;
        netmon_free(m->netmon);
        drops_free(m->drops);
        rpc_free(m->rpc);
        pst_ifaddrs_clear(&m->ifaddrs);
        sd_event_source_disable_unref(m->sigterm);
        sd_event_source_disable_unref(m->sigint);
        sd_event_source_disable_unref(m->sighup);
        sd_event_source_disable_unref(m->watch);
        sd_event_source_disable_unref(m->heal_defer);
        sd_event_source_disable_unref(m->heal_timer);
        sd_event_source_disable_unref(m->release_defer);
        pst_compiled_free(m->retired);
        sd_event_source_disable_unref(m->foreign_timer);
        free(m->foreign);
        manager_hits_free(m);
        sd_event_source_disable_unref(m->confirm_timer);
        sd_event_unref(m->event);
        pst_backend_close(m->backend);
        if (m->presence_fd >= 0)
                close(m->presence_fd);
        if (m->generation_fd >= 0)
                close(m->generation_fd);
        pst_compiled_free(m->running);
        pst_compiled_free(m->previous);
        pst_list_cache_free(m->list_cache);
        free(m->policy_path);
        free(m->catalog_path);
        free(m->runtime_dir);
        free(m->state_dir);
        free(m->last_error);
        free(m);
        return NULL;
}

static uint64_t realtime_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static void set_last_error(struct manager *m, const char *msg) {
        free(m->last_error);
        m->last_error = msg ? strdup(msg) : NULL;
}

static void notify_status(struct manager *m, const char *prefix) {
        size_t rules = manager_nrules(m);

        switch (m->state) {
        case MANAGER_APPLIED:
                sd_notifyf(false, "%sSTATUS=applied: generation %" PRIu64 ", digest %s, %zu rules%s", prefix,
                           m->generation, m->digest, rules, m->last_error ? " (last reload failed)" : "");
                break;
        case MANAGER_EMERGENCY:
                sd_notifyf(false, "%sSTATUS=EMERGENCY ruleset (no valid policy): generation %" PRIu64 ", %zu rules",
                           prefix, m->generation, rules);
                break;
        case MANAGER_DEGRADED:
                sd_notifyf(false, "%sSTATUS=DEGRADED: kept the table of a previous run (no valid policy)", prefix);
                break;
        case MANAGER_STARTING:
                sd_notifyf(false, "%sSTATUS=starting", prefix);
                break;
        }
}

/* The generation file in the runtime directory: "NETNS GENERATION", the
 * network namespace (its inode) and the kernel's ruleset generation after
 * our last commit there (pst_backend_generation()).  Written after each
 * commit, read at a boot without a valid policy. */
static int netns_id(uint64_t *ret) {
        struct stat st;

        if (stat("/proc/self/ns/net", &st) < 0)
                return -errno;
        *ret = (uint64_t) st.st_ino;
        return 0;
}

/*
 * Every commit is recorded, so the record is one fixed-width line rewritten
 * in place on a descriptor kept open: a new file renamed over the old one
 * costs an inode allocation and, on ext4 (auto_da_alloc), a data flush per
 * commit — a fifth of posternd's work per Apply in tests/bench where /run is
 * not a tmpfs.  A record a crash could tear names no generation the kernel
 * has, and so vouches for nothing (unchanged_since_last_run).
 */
static void record_generation(struct manager *m) {
        _cleanup_free_ char *path = NULL;
        char line[40];
        uint32_t gen = 0;
        uint64_t ns = 0;
        int r = 0, n;

        if (!m->backend || pst_backend_generation(m->backend, &gen) < 0 || netns_id(&ns) < 0)
                return;
        if (asprintf(&path, "%s/generation", m->runtime_dir) < 0)
                return;
        if (m->generation_fd < 0) {
                r = mkdir(m->runtime_dir, 0755) < 0 && errno != EEXIST ? -errno : 0;
                if (r >= 0) /* (read at start-up, before the first commit: unchanged_since_last_run) */
                        m->generation_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
                if (r >= 0 && m->generation_fd < 0)
                        r = -errno;
        }
        n = snprintf(line, sizeof(line), "%020" PRIu64 " %010" PRIu32 "\n", ns, gen);
        errno = 0;
        if (r >= 0 && pwrite(m->generation_fd, line, (size_t) n, 0) != n)
                r = errno ? -errno : -EIO;
        if (r < 0 && !m->generation_warned)
                log_errno(LOG_WARNING, r, "cannot record the ruleset generation in %s (%m): after a restart without "
                          "a valid policy, a table found will be replaced by the emergency ruleset", path);
        m->generation_warned = r < 0;
}

/* Is the kernel's ruleset where our last commit (of a previous run) left
 * it?  Then nobody committed anything since, and the table is ours as we
 * left it.  Anything else — another commit, another namespace, no record —
 * and nothing vouches for it. */
static bool unchanged_since_last_run(struct manager *m, struct pst_backend *b, char *why, size_t size) {
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        unsigned long long rec_ns = 0;
        uint32_t rec_gen = 0, gen = 0;
        uint64_t ns = 0;

        if (pst_backend_generation(b, &gen) < 0 || netns_id(&ns) < 0) {
                snprintf(why, size, "the kernel cannot say whether anyone changed it");
                return false;
        }
        if (asprintf(&path, "%s/generation", m->runtime_dir) < 0 || !(f = fopen(path, "re")) ||
            fscanf(f, "%llu %" SCNu32, &rec_ns, &rec_gen) != 2 || rec_ns != ns) {
                snprintf(why, size, "posternd has no record of installing it");
                return false;
        }
        if (rec_gen != gen) {
                snprintf(why, size, "the ruleset changed since posternd last committed (generation %" PRIu32
                         ", now %" PRIu32 ")", rec_gen, gen);
                return false;
        }
        return true;
}

/* The rpc reader added pinholes (its own socket, port portid): not drift,
 * and the generation we vouch for is the one it left. */
static void rpc_committed(uint32_t portid, void *userdata) {
        struct manager *m = userdata;

        if (!m->backend)
                return;
        (void) pst_backend_committed_by(m->backend, portid);
        record_generation(m);
}

/* c is now running, installed by b; what ran before is freed unless the
 * caller took it (m->running = NULL). */
static void install(struct manager *m, struct pst_backend *b, struct pst_compiled *c, enum manager_state state) {
        set_backend(m, b);
        pst_compiled_free(m->running);
        m->running = c;
        m->running_unsure = false;
        m->generation++;
        snprintf(m->digest, sizeof(m->digest), "%s", c->digest);
        m->applied_at = realtime_usec();
        m->state = state;
        record_generation(m);
        manager_foreign_check_soon(m);
        (void) drops_sync(&m->drops, m->event, m->running); /* logged there; drops are not worth failing for */
        (void) rpc_sync(&m->rpc, m->event, m->running, rpc_committed, m); /* logged there too */
}

/* diag's errors in the log, LastError, and for a D-Bus reply *ret_msg */
/*
 * LastError is a D-Bus property, and anyone may read those: it says where
 * the first problem is, never what a file says there (a list file
 * symlinked to a root-only file would show its first line to everybody).
 * The journal and the caller's own D-Bus error reply carry the whole text.
 */
static char *public_summary(const struct pst_diag *d) {
        char *s = NULL;

        for (size_t i = 0; i < d->n; i++) {
                const struct pst_diag_item *it = &d->items[i];

                if (it->severity != PST_ERROR)
                        continue;
                if (!it->file)
                        return pst_diag_summary(d); /* a system error: no file's content in it */
                if ((it->line ? asprintf(&s, "%s:%u: refused; the journal has the details (journalctl -u postern)",
                                         it->file, it->line)
                              : asprintf(&s, "%s: refused; the journal has the details (journalctl -u postern)",
                                         it->file)) < 0)
                        return NULL;
                return s;
        }
        return strdup("unknown error");
}

static void report_failure(struct manager *m, struct pst_diag *diag, int r, char **ret_msg) {
        _cleanup_free_ char *pub = NULL;

        if (!pst_diag_has_errors(diag))
                pst_error(diag, r, m->policy_path, 0, "%s", strerror(-r));
        log_diag(diag, LOG_ERR);
        pub = public_summary(diag);
        set_last_error(m, pub);
        if (ret_msg)
                *ret_msg = pst_diag_summary(diag);
}

/* The pipeline (pipeline.h) on path with the addresses netmon knows. */
static int load_compile(struct manager *m, const char *path, struct pst_diag *diag, struct pst_compiled **ret) {
        if (!m->rpc_probed) { /* what options.rpc_mechanism = "auto" becomes: once, the kernel stays */
                m->rpc_offer = pst_rpc_offer_probe();
                m->rpc_probed = true;
        }
        return pst_load_compile(&(struct pst_load_opts) { .policy = path, .catalog = m->catalog_path,
                                                          .ifaddrs = &m->ifaddrs, .source_flags = m->source_flags,
                                                          .list_cache = m->list_cache, .rpc_offer = m->rpc_offer,
                                                          /* its interface-address sets: refilled from ifaddrs */
                                                          .previous = m->running },
                                diag, ret);
}

/* c through the backend kind asks for (AUTO: the policy's); on success
 * *ret is the backend to install() with, on failure nothing changed.
 * With st, what runs is known and the backend stays: only what changed
 * (pst_backend_reload), and *st says what that was. */
static int apply_compiled(struct manager *m, const struct pst_compiled *c, enum pst_backend_kind kind,
                          struct pst_diag *diag, struct pst_backend **ret, struct pst_delta_stats *st) {
        struct pst_backend *b = NULL;
        int r;

        if (kind == PST_BACKEND_AUTO)
                kind = wanted_backend(m, c->policy);
        r = backend_for(m, kind, diag, &b);
        if (r >= 0 && st)
                r = pst_backend_reload(b, b == m->backend && m->running && !m->running_unsure ? m->running->ruleset
                                                                                              : NULL,
                                       c->ruleset, st, diag);
        else if (r >= 0)
                r = pst_backend_apply(b, c->ruleset, diag);
        if (r < 0) {
                backend_unused(m, b);
                return r;
        }
        *ret = b;
        return 0;
}

/* t1: when the compiled policy went to the backend */
static void log_applied(struct manager *m, const char *path, uint64_t t0, uint64_t t1,
                        const struct pst_delta_stats *st) {
        const struct pst_policy *p = m->running->policy;
        uint64_t t2 = now_usec();
        char what[256], split[64] = "";

        m->apply_usec = t2 - t0;
        pst_delta_stats_format(st, what, sizeof(what));
        /* a delta: building it (compare, batch) and the kernel's part (0: nothing sent) apart */
        if (!st->full && st->send_usec <= t2 - t1)
                snprintf(split, sizeof(split), "delta %" PRIu64 " us, ", t2 - t1 - st->send_usec);
        /* forward = "unmanaged": said once here, so a dropped container is not blamed on postern */
        log_struct(LOG_INFO,
                   "GENERATION=%" PRIu64 "\nDIGEST=%s\nPOLICY_FILE=%s\nDURATION_USEC=%" PRIu64
                   "\nRULES_ADDED=%zu\nRULES_REMOVED=%zu\nELEMENTS_ADDED=%zu\nELEMENTS_REMOVED=%zu"
                   "\nMESSAGE=applied %s: generation %" PRIu64 ", digest %s, %zu chains, %zu rules; %s "
                   "(%s %" PRIu64 " us, %skernel %" PRIu64 " us) (%" PRIu64 " us)%s",
                   m->generation, m->digest, path, m->apply_usec, st->rules_added, st->rules_removed,
                   st->elems_added, st->elems_removed, path, m->generation, m->digest,
                   m->running->ruleset->nchains, manager_nrules(m), what,
                   /* pipeline.h: only list files changed, nothing else parsed or compiled */
                   m->running->lists_only ? "lists only" : "compile", t1 - t0, split,
                   split[0] ? st->send_usec : t2 - t1, m->apply_usec,
                   p && p->options.forward_unmanaged ? "; forwarding unmanaged (no forward chain)" : "");
}

/*
 * Load, compile, then check (check may be NULL: it refuses with a message
 * in diag, e.g. the anti-lockout check), then one backend apply.  On any
 * failure nothing running is touched and *ret_err says where it stopped;
 * on success *ret_old is what ran before (the caller keeps or frees it).
 */
static int load_compile_apply(struct manager *m, const char *path,
                              int (*check)(struct manager *m, const struct pst_compiled *c, struct pst_diag *diag,
                                           const void *userdata),
                              const void *userdata, enum manager_error *ret_err, char **ret_msg,
                              struct pst_compiled **ret_old) {
        _cleanup_(pst_compiled_freep) struct pst_compiled *c = NULL;
        struct pst_backend *b = NULL;
        struct pst_delta_stats st = { .full = true };
        struct pst_diag diag;
        uint64_t t0 = now_usec(), t1 = t0;
        enum manager_error kind = MANAGER_ERR_POLICY;
        int r;

        pst_diag_init(&diag);
        r = load_compile(m, path, &diag, &c);
        if (r >= 0 && check) {
                r = check(m, c, &diag, userdata);
                /* -EACCES: it would cut the caller's SSH connection; -EINVAL: a malformed one */
                kind = r == -EACCES ? MANAGER_ERR_LOCKOUT : r == -EINVAL ? MANAGER_ERR_NONE : MANAGER_ERR_KERNEL;
        }
        if (r >= 0) {
                kind = MANAGER_ERR_KERNEL;
                t1 = now_usec();
                r = apply_compiled(m, c, PST_BACKEND_AUTO, &diag, &b, &st);
        }
        if (r < 0) {
                report_failure(m, &diag, r, ret_msg);
                if (ret_err)
                        *ret_err = kind;
                pst_diag_clear(&diag);
                return r;
        }

        log_diag(&diag, LOG_WARNING); /* warnings only */
        pst_diag_clear(&diag);
        *ret_old = TAKE_PTR(m->running);
        install(m, b, TAKE_PTR(c), MANAGER_APPLIED);
        set_last_error(m, NULL);
        log_applied(m, path, t0, t1, &st);
        notify_applied(m);
        return 0;
}

/* What ran before a reload, freed, and the memory the reload's compile and
 * the two rulesets took back to the kernel: glibc keeps freed heap, and a
 * 100,000-entry policy parses into megabytes (issue 15: RSS with P2).  On
 * the next turn of the event loop, after the D-Bus reply has gone out: the
 * free and the trim (~1 ms with P2) are nobody's wait. */
static int on_release(sd_event_source *s, void *userdata) {
        struct manager *m = userdata;

        pst_compiled_free(TAKE_PTR(m->retired));
        (void) malloc_trim(0);
        return 0;
}

static void release_old(struct manager *m, struct pst_compiled *old) {
        if (old) { /* NULL: a failed reload, whose compile's memory the trim gives back too */
                pst_compiled_free(m->retired); /* two reloads in one turn: the first one's now */
                m->retired = old;
        }
        if (sd_event_source_set_enabled(m->release_defer, SD_EVENT_ONESHOT) < 0)
                (void) on_release(m->release_defer, m);
}

static void log_reload_failed(struct manager *m, const char *path) {
        if (m->state == MANAGER_APPLIED)
                log_struct(LOG_ERR, "GENERATION=%" PRIu64 "\nDIGEST=%s\nMESSAGE=applying %s failed: keeping generation %" PRIu64 " (digest %s) as it is",
                           m->generation, m->digest, path, m->generation, m->digest);
        else
                log_struct(LOG_ERR, "MESSAGE=applying %s failed: staying in state %s", path, manager_state_name(m->state));
        notify_state_changed(m);
}

/* A reload or an apply while a confirmation is pending would make its
 * rollback target unclear: confirm (or let it roll back) first.  Apply()
 * with a new confirmation is the exception (manager_apply). */
static int refuse_while_pending(struct manager *m, enum manager_error *ret_err, char **ret_msg) {
        char *msg = NULL;

        if (!m->previous)
                return 0;
        if (asprintf(&msg, "a confirmation is pending (rollback in %" PRIu64 " s): run 'posternctl confirm' first, "
                     "or wait for the rollback", (m->confirm_deadline - MIN(m->confirm_deadline, realtime_usec()) + 999999) / 1000000) < 0)
                msg = NULL;
        log_msg(LOG_WARNING, "%s", msg ? msg : "a confirmation is pending");
        if (ret_err)
                *ret_err = MANAGER_ERR_BUSY;
        if (ret_msg)
                *ret_msg = msg;
        else
                free(msg);
        return -EBUSY;
}

int manager_reload(struct manager *m, enum manager_error *ret_err, char **ret_msg) {
        struct pst_compiled *old = NULL;
        int r;

        r = refuse_while_pending(m, ret_err, ret_msg);
        if (r < 0)
                return r;
        sd_notifyf(false, "RELOADING=1\nSTATUS=reloading %s\nMONOTONIC_USEC=%" PRIu64, m->policy_path, now_usec());
        r = load_compile_apply(m, m->policy_path, NULL, NULL, ret_err, ret_msg, &old);
        release_old(m, old);
        if (r < 0)
                log_reload_failed(m, m->policy_path);
        notify_status(m, "READY=1\n");
        return r;
}

/* ---- fail-closed boot ---- */

/* What the emergency ruleset allows: the command line's --emergency-ssh and
 * the policy's emergency block (read on its own: the policy as a whole did
 * not load), whichever allows more. */
static void emergency_options(struct manager *m, struct pst_emergency *ret) {
        struct pst_emergency pol = {};
        struct pst_diag diag;
        bool any;

        *ret = m->emergency_cli ? m->emergency : (struct pst_emergency) {};
        pst_diag_init(&diag);
        if (pst_emergency_load(m->policy_path, m->source_flags, &diag, &pol) < 0 || !pol.ssh) {
                pst_diag_clear(&diag);
                return;
        }
        pst_diag_clear(&diag);
        any = (ret->ssh && ret->nfrom == 0) || pol.nfrom == 0;
        ret->ssh = true;
        if (any) {
                ret->nfrom = 0;
                return;
        }
        for (size_t i = 0; i < pol.nfrom && ret->nfrom < PST_EMERGENCY_FROM_MAX; i++)
                ret->from[ret->nfrom++] = pol.from[i];
}

static void format_emergency_ssh(const struct pst_emergency *e, char *buf, size_t size) {
        char a[PST_ADDR_STRLEN];
        size_t len;

        if (!e->ssh) {
                snprintf(buf, size, "no SSH");
                return;
        }
        if (e->nfrom == 0) {
                snprintf(buf, size, "SSH from anywhere");
                return;
        }
        len = (size_t) snprintf(buf, size, "SSH from");
        for (size_t i = 0; i < e->nfrom && len < size; i++)
                len += (size_t) snprintf(buf + len, size - len, " %s", pst_addr_format(&e->from[i], a));
}

/* A previous run's ruleset is better than a generic one: keep it.  1 kept, 0 none. */
static int adopt_previous(struct manager *m, struct pst_backend *b) {
        struct pst_diag diag;
        char why[160];
        int r;

        pst_diag_init(&diag);
        r = pst_backend_adopt(b, PST_TABLE, &diag);
        log_diag(&diag, LOG_ERR);
        pst_diag_clear(&diag);
        if (r < 0) {
                log_errno(LOG_ERR, r, "cannot tell whether table inet %s exists (%m): assuming it does not", PST_TABLE);
                return 0;
        }
        if (r == 0)
                return 0;
        if (!unchanged_since_last_run(m, b, why, sizeof(why))) {
                log_struct(LOG_WARNING, "MESSAGE=table inet %s exists, but %s: not keeping it", PST_TABLE, why);
                return 0;
        }
        set_backend(m, b);
        m->state = MANAGER_DEGRADED;
        log_struct(LOG_CRIT, "POSTERN_STATE=degraded\nMESSAGE=no valid policy in %s: DEGRADED, keeping table inet %s "
                   "from a previous run unchanged; fix the policy and reload",
                   m->policy_path, PST_TABLE);
        return 1;
}

/* Nothing we can trust to install (why says what): the built-in emergency
 * ruleset, through b, as any policy would be. */
static int apply_emergency(struct manager *m, struct pst_backend *b, const char *why) {
        _cleanup_(pst_compiled_freep) struct pst_compiled *c = NULL;
        struct pst_ruleset *rs = NULL;
        struct pst_emergency e;
        struct pst_diag diag;
        char ssh[PST_EMERGENCY_FROM_MAX * (PST_ADDR_STRLEN + 2) + 32];
        int r;

        pst_diag_init(&diag);
        emergency_options(m, &e);
        r = pst_emergency_ruleset(&e, &rs);
        if (r >= 0)
                r = pst_compiled_from_ruleset(rs, &c); /* takes rs */
        if (r >= 0)
                r = pst_backend_apply(b, c->ruleset, &diag);
        if (r < 0) {
                backend_unused(m, b);
                log_diag(&diag, LOG_ALERT);
                pst_diag_clear(&diag);
                return log_errno(LOG_ALERT, r, "cannot apply the emergency ruleset: %m");
        }
        pst_diag_clear(&diag);
        install(m, b, TAKE_PTR(c), MANAGER_EMERGENCY);
        format_emergency_ssh(&e, ssh, sizeof(ssh));
        log_struct(LOG_ALERT,
                   "POSTERN_STATE=emergency\nGENERATION=%" PRIu64 "\nMESSAGE=%s: applied the built-in EMERGENCY "
                   "ruleset (loopback, established, essential ICMP/ICMPv6, %s); fix the policy and reload",
                   m->generation, why, ssh);
        notify_applied(m);
        return 0;
}

/* No valid policy at boot: keep what a previous run left, else install the
 * built-in emergency ruleset. */
static int fail_closed(struct manager *m) {
        _cleanup_free_ char *why = NULL;
        struct pst_backend *b = NULL;
        struct pst_diag diag;
        int r;

        pst_diag_init(&diag);
        r = backend_for(m, wanted_backend(m, NULL), &diag, &b);
        log_diag(&diag, LOG_ALERT);
        pst_diag_clear(&diag);
        if (r < 0)
                return log_errno(LOG_ALERT, r, "no usable firewall backend: %m");
        if (adopt_previous(m, b) > 0)
                return 0;
        if (asprintf(&why, "no valid policy in %s", m->policy_path) < 0)
                return -ENOMEM;
        return apply_emergency(m, b, why);
}

/* ---- what others do to our ruleset ---- */

/* The running ruleset, whole, again (after a failed set update, or someone
 * else's change): on failure LastError says why. */
static int put_running_back(struct manager *m) {
        struct pst_diag diag;
        int r;

        pst_diag_init(&diag);
        r = pst_backend_apply(m->backend, m->running->ruleset, &diag);
        /* after a failed set update m->running has addresses the kernel lacks; no commit of ours says so */
        m->running_unsure = r < 0;
        if (r < 0)
                report_failure(m, &diag, r, NULL);
        else
                record_generation(m);
        pst_diag_clear(&diag);
        return r;
}

static void describe_drift(const struct pst_drift *d, char *buf, size_t size) {
        const char *what = d->deleted ? "deleted" : "changed";

        if (d->unknown)
                snprintf(buf, size, "perhaps changed (kernel notifications were lost)");
        else if (d->pid)
                snprintf(buf, size, "%s by %s (pid %u)", what, d->comm[0] ? d->comm : "a process", d->pid);
        else
                snprintf(buf, size, "%s by another program (netlink port %u)", what, d->portid);
}

/* At most HEAL_BURST heals per HEAL_WINDOW_USEC, so that two managers of one
 * table do not spin: 0 to go on, 1 held off (the timer heals later). */
static int heal_held_off(struct manager *m) {
        uint64_t now = now_usec();

        if (now - m->heal_window_start > HEAL_WINDOW_USEC) {
                m->heal_window_start = now;
                m->heals_in_window = 0;
        }
        if (++m->heals_in_window <= HEAL_BURST)
                return 0;
        if (m->heals_in_window == HEAL_BURST + 1)
                log_msg(LOG_ERR, "table inet %s keeps being changed by someone else (%u times in %llu s): holding "
                        "off until the window ends", PST_TABLE, HEAL_BURST,
                        (unsigned long long) (HEAL_WINDOW_USEC / 1000000));
        if (sd_event_source_set_time(m->heal_timer, m->heal_window_start + HEAL_WINDOW_USEC + 1) >= 0)
                (void) sd_event_source_set_enabled(m->heal_timer, SD_EVENT_ONESHOT);
        return 1;
}

/*
 * Someone else changed or deleted our table: put ours back.  A policy's or
 * the emergency ruleset goes back as it was; a table kept from a previous
 * run (degraded) is no longer what that run left, and nothing vouches for
 * what it has become: the emergency ruleset replaces it.
 */
static int heal(struct manager *m) {
        char who[128], why[200];
        int r;

        if (m->state == MANAGER_STARTING || heal_held_off(m))
                return 0;
        describe_drift(&m->drift, who, sizeof(who));
        m->heals++;
        snprintf(m->last_event, sizeof(m->last_event), "table inet %s %s", PST_TABLE, who);
        if (m->state == MANAGER_DEGRADED) {
                snprintf(why, sizeof(why), "table inet %s, kept from a previous run, was %s", PST_TABLE, who);
                return apply_emergency(m, m->backend, why);
        }
        r = put_running_back(m);
        if (r < 0)
                log_errno(LOG_ERR, r, "table inet %s was %s, and putting it back failed: %m", PST_TABLE, who);
        else
                log_struct(LOG_WARNING, "GENERATION=%" PRIu64 "\nDRIFT_PID=%u\nMESSAGE=table inet %s was %s: put "
                           "generation %" PRIu64 " back", m->generation, m->drift.pid, PST_TABLE, who, m->generation);
        return r;
}

static int on_watch(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct manager *m = userdata;
        struct pst_drift d = {};
        int r = pst_backend_watch_read(m->backend, &d);

        if (r < 0)
                log_errno(LOG_ERR, r, "reading nf_tables notifications failed: %m");
        if (d.elsewhere || d.unknown)
                manager_foreign_check_soon(m);
        if (r > 0) {
                m->drift = d;
                /* after whatever else this iteration brings: one heal per burst */
                (void) sd_event_source_set_enabled(m->heal_defer, SD_EVENT_ONESHOT);
        }
        return 0;
}

static int on_heal_defer(sd_event_source *s, void *userdata) {
        (void) heal(userdata);
        return 0;
}

static int on_heal_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;

        m->heal_window_start = now_usec();
        m->heals_in_window = 0;
        (void) heal(m);
        return 0;
}

/* ---- events ---- */

static void format_set_addrs(const struct pst_set *s, char *buf, size_t size) {
        size_t len = 0;

        buf[0] = 0;
        for (size_t i = 0; i < s->n && len + 1 < size; i++) {
                struct pst_addr a = { .family = s->fields[0] == PST_F_IP_DADDR ? AF_INET : AF_INET6 };
                char tmp[PST_ADDR_STRLEN];

                a.prefixlen = (uint8_t) (pst_addr_len(a.family) * 8);
                memcpy(a.a, pst_set_first(s, i), pst_addr_len(a.family));
                len += (size_t) snprintf(buf + len, size - len, "%s%s", i ? " " : "", pst_addr_format(&a, tmp));
        }
        if (!s->n)
                snprintf(buf, size, "(none)");
}

static int reapply_table(struct manager *m, const char *why) {
        int r = put_running_back(m);

        if (r < 0) {
                log_errno(LOG_ERR, r, "re-applying the whole table after %s failed: %m", why);
                notify_state_changed(m);
        } else
                log_struct(LOG_WARNING, "GENERATION=%" PRIu64 "\nMESSAGE=re-applied the whole table (%s)", m->generation,
                           why);
        return r;
}

/* Returns 0, or a negative errno when the kernel refused what we sent. */
static int update_ifaddr_sets(struct manager *m, const struct pst_ifaddrs *ifa, uint64_t t0) {
        uint32_t changed[CHANGED_SETS_MAX];
        int n, r = 0;

        if (!m->running)
                return 0; /* degraded, or still starting: the table is not ours to edit */
        n = pst_ruleset_update_ifaddrs(m->running->ruleset, ifa, CHANGED_SETS_MAX, changed);
        if (n < 0) {
                log_errno(LOG_ERR, n, "cannot refill the interface-address sets: %m");
                return n;
        }
        if (n == 0)
                return 0; /* nothing the policy depends on: no kernel write */
        if (n > CHANGED_SETS_MAX)
                return reapply_table(m, "many interface-address sets changed");

        for (int i = 0; i < n; i++) {
                const struct pst_set *s = &m->running->ruleset->sets[changed[i]];
                char addrs[512];
                struct pst_diag diag;
                int k;

                pst_diag_init(&diag);
                k = pst_backend_update_set(m->backend, m->running->ruleset, changed[i], &diag);
                if (k < 0) {
                        log_diag(&diag, LOG_ERR);
                        pst_diag_clear(&diag);
                        /* the kernel's set and ours now differ: make them equal the sure way */
                        return reapply_table(m, "an interface-address set update failed");
                }
                pst_diag_clear(&diag);
                m->set_updates++;
                format_set_addrs(s, addrs, sizeof(addrs));
                snprintf(m->last_event, sizeof(m->last_event), "%s: %s", s->name, addrs);
                log_struct(LOG_INFO,
                           "INTERFACE=%s\nADDRESS=%s\nSET=%s\nGENERATION=%" PRIu64 "\nDURATION_USEC=%" PRIu64
                           "\nMESSAGE=%s (%s) now %s (event to commit %" PRIu64 " us)",
                           s->ifname, addrs, s->name, m->generation, t0 ? now_usec() - t0 : 0, s->name, s->ifname,
                           addrs, t0 ? now_usec() - t0 : 0);
        }
        record_generation(m); /* after the burst's last commit, not in the way of the first */
        return r;
}

/* Issue 17: the NAT entries of addresses that went away are stale, and the
 * kernel's own masquerade flush cannot be relied on (tests/daemon/nat.sh:
 * with it alone the flow kept the old address).  After the set commit, so
 * the new address is served first; nothing to do without nat chains. */
static void flush_stale_nat(struct manager *m, const struct pst_ifaddrs *old, const struct pst_ifaddrs *now) {
        struct pst_ifaddrs gone = {};
        bool nat = false;
        uint64_t n = 0;
        int r = 0;

        for (size_t i = 0; m->running && i < m->running->ruleset->nchains; i++)
                nat |= pst_hook_is_nat(m->running->ruleset->chains[i].hook);
        for (size_t i = 0; nat && r >= 0 && i < old->n; i++) {
                bool kept = false;

                for (size_t j = 0; !kept && j < now->n; j++)
                        kept = old->v[i].addr.family == now->v[j].addr.family &&
                               memcmp(old->v[i].addr.a, now->v[j].addr.a, 16) == 0;
                if (!kept)
                        r = pst_ifaddrs_add(&gone, old->v[i].ifname, &old->v[i].addr);
        }
        if (r >= 0 && gone.n)
                r = pst_conntrack_flush_nat(&gone, &n);
        if (r < 0)
                log_errno(LOG_WARNING, r, "cannot forget the NAT connections of removed addresses: %m");
        else if (n)
                log_struct(LOG_INFO, "MESSAGE=forgot %" PRIu64 " NAT connection(s) of removed addresses", n);
        pst_ifaddrs_clear(&gone);
}

/* netmon's handler: keep the snapshot (the next compile uses it), then
 * update the sets that depend on it.  Returns 0, or a negative errno when
 * the kernel refused what we sent (netmon_resync() passes it on). */
static int manager_ifaddrs_changed(struct netmon *nm, const struct pst_ifaddrs *snapshot, uint64_t first_event_usec,
                                   void *userdata) {
        struct manager *m = userdata;
        struct pst_ifaddrs ifa, old;
        int r;

        r = pst_ifaddrs_copy(snapshot, &ifa);
        if (r < 0)
                return log_errno(LOG_ERR, r, "cannot keep the interface addresses: %m");
        old = m->ifaddrs;
        m->ifaddrs = ifa;
        r = update_ifaddr_sets(m, &m->ifaddrs, first_event_usec);
        flush_stale_nat(m, &old, &m->ifaddrs);
        pst_ifaddrs_clear(&old);
        return r;
}

int manager_recheck(struct manager *m, const char *why) {
        m->rechecks++;
        snprintf(m->last_event, sizeof(m->last_event), "re-check: %s", why);
        log_struct(LOG_INFO, "MESSAGE=re-check (%s): re-reading links and addresses", why);
        /* the snapshot reaches manager_ifaddrs_changed() before this returns */
        return netmon_resync(m->netmon);
}

void manager_hint(struct manager *m, const char *why) {
        m->rechecks++;
        snprintf(m->last_event, sizeof(m->last_event), "%s", why);
        (void) netmon_request_resync(m->netmon);
}

bool manager_has_link(struct manager *m, const char *ifname) {
        return netmon_has_link(m->netmon, ifname);
}

size_t manager_nrules(const struct manager *m) {
        return m->running ? pst_ruleset_nrules(m->running->ruleset) : 0;
}

uint64_t manager_resyncs(struct manager *m) {
        return netmon_resyncs(m->netmon);
}

/* ---- apply --confirm: a rollback that needs no terminal ---- */

/*
 * The state of a pending confirmation, in state_dir, written before the
 * new ruleset is committed:
 *   previous.snap  what goes back (snapshot.h), with the backend that had it
 *   pending.snap   what the apply installed, so a restarted daemon can go on
 *   pending        "BOOT_ID DEADLINE" (CLOCK_REALTIME µs): written last,
 *                  removed first; it alone says a rollback is due
 * A restart within the same boot before the deadline resumes the wait; a
 * later restart, or any reboot, comes up with previous.snap: the last
 * ruleset nobody needed to confirm.
 */

static char *state_file(const struct manager *m, const char *name) {
        char *p = NULL;

        return asprintf(&p, "%s/%s", m->state_dir, name) < 0 ? NULL : p;
}

static int read_boot_id(char id[40]) {
        _cleanup_fclose_ FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

        if (!f || !fgets(id, 40, f))
                return -errno ?: -EIO;
        id[strcspn(id, "\n")] = 0;
        return 0;
}

static void pending_remove_files(const struct manager *m) {
        static const char *const names[] = { "pending", "pending.snap", "previous.snap" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *p = state_file(m, names[i]);

                if (p)
                        (void) unlink(p);
        }
}

/* Nothing pending any more (confirmed, rolled back): forget it all. */
static void pending_forget(struct manager *m) {
        pending_remove_files(m);
        m->confirm_timer = sd_event_source_disable_unref(m->confirm_timer);
        pst_compiled_free(m->previous);
        m->previous = NULL;
        m->confirm_deadline = 0;
}

/* c, with the backend kind that installs it, to path (snapshot.h: 0600, atomic) */
static int save_compiled(const char *path, const struct pst_compiled *c, enum pst_backend_kind kind) {
        struct pst_snapshot_meta meta = { .backend = kind };

        snprintf(meta.digest, sizeof(meta.digest), "%s", c->digest);
        return pst_snapshot_save(path, c->ruleset, &meta);
}

static int save_snapshot(const struct manager *m, const char *name, const struct pst_compiled *c,
                         enum pst_backend_kind kind) {
        _cleanup_free_ char *p = state_file(m, name);

        return p ? save_compiled(p, c, kind) : -ENOMEM;
}

static int load_snapshot(const struct manager *m, const char *name, struct pst_compiled **ret,
                         enum pst_backend_kind *ret_kind) {
        _cleanup_free_ char *p = state_file(m, name);
        struct pst_snapshot_meta meta;
        struct pst_ruleset *rs = NULL;
        int r;

        if (!p)
                return -ENOMEM;
        r = pst_snapshot_load(p, &rs, &meta);
        if (r >= 0)
                r = pst_compiled_from_ruleset(rs, ret); /* takes rs */
        if (r < 0)
                return r;
        snprintf((*ret)->digest, sizeof((*ret)->digest), "%s", meta.digest);
        *ret_kind = meta.backend < _PST_BACKEND_MAX ? (enum pst_backend_kind) meta.backend : PST_BACKEND_AUTO;
        return 0;
}

/* Before next is committed: what a restart or reboot needs to roll back. */
static int pending_record(struct manager *m, const struct pst_compiled *prev, enum pst_backend_kind prev_kind,
                          const struct pst_compiled *next, uint64_t deadline) {
        _cleanup_free_ char *path = state_file(m, "pending"), *tmp = state_file(m, "pending.tmp");
        _cleanup_fclose_ FILE *f = NULL;
        char boot[40];
        int r;

        if (!path || !tmp)
                return -ENOMEM;
        if (mkdir(m->state_dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        r = read_boot_id(boot);
        if (r >= 0)
                r = save_snapshot(m, "previous.snap", prev, prev_kind);
        if (r >= 0)
                r = save_snapshot(m, "pending.snap", next, wanted_backend(m, next->policy));
        if (r < 0)
                return r;
        f = fopen(tmp, "we");
        if (!f || fprintf(f, "%s %" PRIu64 "\n", boot, deadline) < 0 || fflush(f) != 0 || fsync(fileno(f)) < 0)
                return -errno ?: -EIO;
        return rename(tmp, path) < 0 ? -errno : 0;
}

static int on_confirm_timeout(sd_event_source *s, uint64_t usec, void *userdata);

static int arm_confirm_timer(struct manager *m) {
        uint64_t now = realtime_usec(), left = m->confirm_deadline > now ? m->confirm_deadline - now : 0;
        int r;

        m->confirm_timer = sd_event_source_disable_unref(m->confirm_timer);
        /* monotonic: a clock step must not move the rollback */
        r = sd_event_add_time_relative(m->event, &m->confirm_timer, CLOCK_MONOTONIC, left, 100000, on_confirm_timeout, m);
        if (r >= 0)
                (void) sd_event_source_set_description(m->confirm_timer, "confirm-timeout");
        return r;
}

/* Put m->previous back (it becomes the running ruleset); why is logged. */
static int rollback(struct manager *m, const char *why) {
        _cleanup_(pst_compiled_freep) struct pst_compiled *prev = TAKE_PTR(m->previous);
        enum pst_backend_kind kind = m->previous_backend;
        _cleanup_free_ char *msg = NULL;
        struct pst_backend *b = NULL;
        struct pst_diag diag;
        int r;

        pending_forget(m);
        pst_diag_init(&diag);
        r = apply_compiled(m, prev, kind, &diag, &b, NULL);
        if (r < 0) {
                log_diag(&diag, LOG_ALERT);
                pst_diag_clear(&diag);
                log_errno(LOG_ALERT, r, "%s, and putting the previous ruleset back failed: %m", why);
                return m->backend ? apply_emergency(m, m->backend, "the rollback failed") : r;
        }
        pst_diag_clear(&diag);
        install(m, b, TAKE_PTR(prev), MANAGER_APPLIED);
        m->rollbacks++;
        if (asprintf(&msg, "%s: rolled back to digest %s (generation %" PRIu64 ")", why,
                     m->digest[0] ? m->digest : "(built-in)", m->generation) >= 0)
                set_last_error(m, msg);
        log_struct(LOG_WARNING, "GENERATION=%" PRIu64 "\nDIGEST=%s\nPOSTERN_EVENT=rollback\nMESSAGE=%s", m->generation,
                   m->digest, msg ? msg : why);
        notify_applied(m);
        notify_rolled_back(m);
        return 0;
}

static int on_confirm_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) rollback(userdata, "no confirmation arrived in time");
        notify_status(userdata, "");
        return 0;
}

struct apply_args {
        const char *ssh_connection;
        bool force;
        uint32_t confirm_sec;
        uint64_t deadline;
};

/* load_compile_apply()'s check for Apply(): the caller's own SSH
 * connection, then the rollback state on disk, before the commit. */
static int apply_check(struct manager *m, const struct pst_compiled *c, struct pst_diag *diag, const void *userdata) {
        const struct apply_args *a = userdata;
        const struct pst_compiled *prev = m->previous ? m->previous : m->running;
        enum pst_backend_kind kind = m->previous ? m->previous_backend : pst_backend_kind(m->backend);
        int r;

        /* the caller's own session (lockout.h); the daemon's running ruleset says what accepts it today */
        if (!a->force) {
                r = pst_lockout_check(c->ruleset, m->running, a->ssh_connection, &m->ifaddrs,
                                      a->confirm_sec ? "use --force to apply it anyway"
                                                     : "use --confirm=SECONDS to try it with an automatic "
                                                       "rollback, or --force to apply it anyway",
                                      diag);
                if (r < 0)
                        return r;
        }
        if (a->confirm_sec == 0)
                return 0;
        r = pending_record(m, prev, kind, c, a->deadline);
        if (r < 0) /* a system error, whatever its errno: -EACCES and -EINVAL mean the caller's SSH connection here */
                return pst_error(diag, -EIO, NULL, 0, "cannot keep the rollback state in %s: %s", m->state_dir,
                                 strerror(-r));
        return 0;
}

int manager_apply(struct manager *m, const char *path, uint32_t confirm_sec, const char *ssh_connection, bool force,
                  enum manager_error *ret_err, char **ret_msg) {
        struct apply_args a = { ssh_connection, force, confirm_sec, realtime_usec() + confirm_sec * 1000000ULL };
        const char *p = path && *path ? path : m->policy_path;
        bool was_pending = m->previous;
        enum pst_backend_kind old_kind = m->backend ? pst_backend_kind(m->backend) : PST_BACKEND_AUTO;
        struct pst_compiled *old = NULL;
        int r;

        if (confirm_sec == 0) {
                r = refuse_while_pending(m, ret_err, ret_msg);
                if (r < 0)
                        return r;
        } else if (!m->running) {
                if (ret_err)
                        *ret_err = MANAGER_ERR_BUSY;
                if (ret_msg)
                        *ret_msg = strdup("no ruleset posternd knows is running (state degraded): nothing to roll "
                                          "back to; apply without --confirm");
                return -EBUSY;
        }
        r = load_compile_apply(m, p, apply_check, &a, ret_err, ret_msg, &old);
        if (r < 0) {
                if (was_pending) /* the files must describe what runs: the earlier pending apply */
                        (void) pending_record(m, m->previous, m->previous_backend, m->running, m->confirm_deadline);
                else if (confirm_sec)
                        pending_remove_files(m);
                log_reload_failed(m, p);
                return r;
        }
        if (confirm_sec == 0) {
                release_old(m, old);
                return 0;
        }
        if (was_pending)
                pst_compiled_free(old); /* the rollback target stays the last confirmed one */
        else {
                m->previous = old;
                m->previous_backend = old_kind;
        }
        m->confirm_deadline = a.deadline;
        r = arm_confirm_timer(m);
        if (r < 0)
                return rollback(m, "cannot start the confirmation timer"), r;
        log_struct(LOG_NOTICE, "CONFIRM_DEADLINE_USEC=%" PRIu64 "\nMESSAGE=waiting %" PRIu32 " s for "
                   "'posternctl confirm'; without it digest %s goes back", m->confirm_deadline, confirm_sec,
                   m->previous->digest[0] ? m->previous->digest : "(built-in)");
        notify_status(m, "");
        return 0;
}

int manager_confirm(struct manager *m) {
        if (!m->previous)
                return -ENOENT;
        pending_forget(m);
        log_struct(LOG_INFO, "GENERATION=%" PRIu64 "\nDIGEST=%s\nPOSTERN_EVENT=confirm\nMESSAGE=confirmed generation %"
                   PRIu64 " (digest %s)", m->generation, m->digest, m->generation, m->digest);
        notify_status(m, "");
        notify_state_changed(m);
        return 0;
}

/* At start-up: a confirmation was pending when the last run ended.  1 when
 * that decided what runs now, 0 to start as usual. */
static int resume_pending(struct manager *m) {
        _cleanup_free_ char *path = state_file(m, "pending");
        _cleanup_(pst_compiled_freep) struct pst_compiled *next = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        enum pst_backend_kind next_kind;
        char boot[40], rec_boot[40];
        unsigned long long deadline;
        struct pst_backend *b = NULL;
        struct pst_diag diag;
        int r;

        if (!path || !(f = fopen(path, "re")))
                return 0;
        if (fscanf(f, "%39s %llu", rec_boot, &deadline) != 2 ||
            load_snapshot(m, "previous.snap", &m->previous, &m->previous_backend) < 0) {
                log_msg(LOG_ERR, "%s: a confirmation was pending, but its rollback state cannot be read: starting "
                        "with the policy", path);
                pending_forget(m);
                return 0;
        }
        m->confirm_deadline = deadline;
        if (read_boot_id(boot) < 0 || !streq(boot, rec_boot) || deadline <= realtime_usec() ||
            load_snapshot(m, "pending.snap", &next, &next_kind) < 0)
                return rollback(m, "the apply was not confirmed before posternd stopped") >= 0;
        pst_diag_init(&diag);
        r = apply_compiled(m, next, next_kind, &diag, &b, NULL);
        pst_diag_clear(&diag);
        if (r < 0)
                return rollback(m, "the pending ruleset cannot be put back") >= 0;
        install(m, b, TAKE_PTR(next), MANAGER_APPLIED);
        if (arm_confirm_timer(m) < 0)
                return rollback(m, "cannot start the confirmation timer") >= 0;
        log_struct(LOG_NOTICE, "CONFIRM_DEADLINE_USEC=%" PRIu64 "\nMESSAGE=a confirmation is still pending: "
                   "rollback in %llu s unless 'posternctl confirm'", m->confirm_deadline,
                   (deadline - realtime_usec() + 999999) / 1000000);
        return 1;
}

/* ---- signals and life cycle ---- */

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct manager *m = userdata;

        sd_notify(false, "STOPPING=1\nSTATUS=stopping; the ruleset stays installed");
        log_struct(LOG_INFO, "GENERATION=%" PRIu64 "\nMESSAGE=stopping on %s; %s stays installed", m->generation,
                   strsignal((int) si->ssi_signo),
                   m->backend && pst_backend_kind(m->backend) == PST_BACKEND_IPTABLES ? "the iptables ruleset"
                                                                                    : "table inet " PST_TABLE);
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void) manager_reload(userdata, NULL, NULL);
        return 0;
}

int manager_setup(struct manager *m) {
        sigset_t ss;
        int r;

        r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return -errno;
        r = sd_event_add_signal(m->event, &m->sigterm, SIGTERM, on_sigterm, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sigint, SIGINT, on_sigterm, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sighup, SIGHUP, on_sighup, m);
        if (r < 0)
                return r;

        m->presence_fd = presence_claim();
        if (m->presence_fd == -EADDRINUSE)
                return log_errno(LOG_ERR, -EADDRINUSE, "another posternd runs in this network namespace: the two "
                                 "would undo each other's changes; not starting");
        if (m->presence_fd < 0)
                return m->presence_fd;
        r = sd_event_add_defer(m->event, &m->heal_defer, on_heal_defer, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->heal_defer, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_defer(m->event, &m->release_defer, on_release, m);
        if (r >= 0)
                r = sd_event_source_set_priority(m->release_defer, SD_EVENT_PRIORITY_IDLE);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->release_defer, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_time(m->event, &m->heal_timer, CLOCK_MONOTONIC, 0, 0, on_heal_timer, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->heal_timer, SD_EVENT_OFF);
        if (r >= 0)
                r = manager_foreign_setup(m);
        if (r >= 0)
                r = manager_hits_setup(m);
        if (r < 0)
                return r;
        r = netmon_new(m->event, manager_ifaddrs_changed, m, &m->netmon);
        if (r < 0)
                return r;
        /* the initial dump arrives through manager_ifaddrs_changed(): kept, no ruleset yet to update */
        r = netmon_start(m->netmon);
        if (r < 0)
                return r;
        return 0;
}

int manager_start(struct manager *m) {
        struct pst_compiled *old = NULL;
        int r;

        r = resume_pending(m);
        if (r > 0) {
                notify_status(m, "READY=1\n");
                return 0;
        }

        r = load_compile_apply(m, m->policy_path, NULL, NULL, NULL, NULL, &old);
        pst_compiled_free(old);
        if (r < 0) {
                r = fail_closed(m);
                if (r < 0)
                        return r;
        }
        notify_status(m, "READY=1\n");
        return 0;
}

/* ---- SaveRunning(): what posternctl diff compares with instead of a kernel dump ---- */

/*
 * The running ruleset is only worth something to a caller if the kernel
 * provably still holds it: the caller compares the generation returned here
 * (that of our own last commit, which the watch keeps) with the kernel's.
 * Without the watch nft_generation() reads the kernel's current generation,
 * which vouches for nothing; the iptables backend has no generation at all;
 * and a refused commit leaves the generation where it was while m->running
 * may already have moved on (a failed interface-address set update).
 */
static const char *why_not_running(const struct manager *m) {
        if (!m->running || !m->backend)
                return "no ruleset that posternd installed is running";
        if (pst_backend_kind(m->backend) != PST_BACKEND_NFTABLES)
                return "the running ruleset was installed by the iptables backend, which has no ruleset generation";
        if (!m->watch)
                return "posternd does not watch its table, so it cannot vouch that the kernel still holds its ruleset";
        if (m->running_unsure)
                return "putting the running ruleset back into the kernel failed, so it may hold something else";
        return NULL;
}

int manager_save_running(struct manager *m, char **ret_path, uint32_t *ret_gen, char **ret_msg) {
        _cleanup_free_ char *path = NULL;
        const char *why = why_not_running(m);
        uint32_t gen;
        int r;

        if (why) {
                *ret_msg = strdup(why);
                return -EBUSY;
        }
        r = pst_backend_generation(m->backend, &gen);
        if (r < 0)
                return r;
        if (asprintf(&path, "%s/running.snap", m->runtime_dir) < 0)
                return -ENOMEM;
        if (mkdir(m->runtime_dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        r = save_compiled(path, m->running, PST_BACKEND_NFTABLES); /* 0600: list entries and all */
        if (r < 0)
                return r;
        *ret_path = TAKE_PTR(path);
        *ret_gen = gen;
        return 0;
}
