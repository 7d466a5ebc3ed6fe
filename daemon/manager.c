/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "backend.h"
#include "bus.h"
#include "config.h"
#include "log.h"
#include "manager.h"
#include "netmon.h"
#if HAVE_IPTC
#include "iptc.h"
#endif

#define TABLE_FLAGS (NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST)

/* --backend, else the policy's options.backend (p may be NULL: no valid
 * policy), "auto" resolved against the running kernel. */
static int pick_backend(struct manager *m, const struct pst_policy *p, enum pst_backend *ret) {
        enum pst_backend want = m->backend_cli != PST_BACKEND_AUTO ? m->backend_cli
                                : p                                ? p->options.backend
                                                                   : PST_BACKEND_AUTO;

        return pst_backend_resolve(want, ret);
}

/* The whole ruleset, atomically, through the backend b. */
static int backend_apply(struct manager *m, enum pst_backend b, const struct pst_ruleset *rs, struct pst_diag *diag) {
#if HAVE_IPTC
        if (b == PST_BACKEND_IPTABLES)
                return pst_iptc_apply(rs, &(struct pst_iptc_opts) {}, diag);
#endif
        return pst_nft_apply(m->nft, rs, &(struct pst_apply_opts) { .table_flags = TABLE_FLAGS }, diag);
}

/* One interface-address set of the running ruleset. */
static int backend_update_set(struct manager *m, uint32_t set, struct pst_diag *diag) {
#if HAVE_IPTC
        if (m->backend == PST_BACKEND_IPTABLES)
                return pst_iptc_update_set(m->ruleset, &(struct pst_iptc_opts) {}, set, diag);
#endif
        return pst_nft_update_set(m->nft, m->ruleset, set, diag);
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

static void catalog_free(struct pst_catalog *cat) {
        if (!cat)
                return;
        pst_catalog_clear(cat);
        free(cat);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_catalog *, catalog_free);

int manager_new(struct manager **ret) {
        struct manager *m = calloc(1, sizeof(*m));

        if (!m)
                return -ENOMEM;
        m->use_bus = true;
        m->state = MANAGER_STARTING;
        *ret = m;
        return 0;
}

struct manager *manager_free(struct manager *m) {
        if (!m)
                return NULL;
        bus_done(m);
        netmon_free(m->netmon);
        pst_ifaddrs_clear(&m->ifaddrs);
        sd_event_source_disable_unref(m->sigterm);
        sd_event_source_disable_unref(m->sigint);
        sd_event_source_disable_unref(m->sighup);
        sd_event_unref(m->event);
        /* closing the socket releases ownership; PERSIST keeps the table */
        pst_nft_close(m->nft);
        pst_ruleset_free(m->ruleset);
        pst_policy_free(m->policy);
        catalog_free(m->catalog);
        free(m->policy_path);
        free(m->catalog_path);
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
        size_t rules = m->ruleset ? pst_ruleset_nrules(m->ruleset) : 0;

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
        default:
                sd_notifyf(false, "%sSTATUS=starting", prefix);
        }
}

/*
 * The pipeline, top to bottom: catalog → policy → compile (with the
 * addresses netmon knows) → one batch.  On any failure nothing running is
 * touched and *ret_err says where it stopped.
 */
static int load_compile_apply(struct manager *m, enum manager_error *ret_err, char **ret_msg) {
        _cleanup_(catalog_freep) struct pst_catalog *cat = calloc(1, sizeof(*cat));
        _cleanup_(pst_policy_freep) struct pst_policy *p = NULL;
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = NULL;
        struct pst_diag diag;
        uint64_t t0 = now_usec();
        enum manager_error kind = MANAGER_ERR_POLICY;
        enum pst_backend backend = PST_BACKEND_NFTABLES;
        int r;

        pst_diag_init(&diag);
        if (!cat) {
                r = -ENOMEM;
                goto fail;
        }
        r = pst_catalog_load_default(cat, m->catalog_path, &diag);
        if (r >= 0)
                r = pst_policy_load(m->policy_path, cat, &diag, &p);
        if (r >= 0)
                r = pst_compile(p, &m->ifaddrs, &diag, &rs);
        if (r >= 0) {
                kind = MANAGER_ERR_KERNEL;
                r = pick_backend(m, p, &backend);
                if (r < 0)
                        pst_error(&diag, r, NULL, 0, "no usable backend for %s: %s", pst_backend_name(p->options.backend),
                                  strerror(-r));
                else
                        r = backend_apply(m, backend, rs, &diag);
        }
        if (r < 0)
                goto fail;

        log_diag(&diag, LOG_WARNING); /* warnings only */
        pst_ruleset_free(m->ruleset);
        m->ruleset = TAKE_PTR(rs);
        pst_policy_free(m->policy);
        m->policy = TAKE_PTR(p);
        catalog_free(m->catalog);
        m->catalog = TAKE_PTR(cat);
        m->backend = backend;
        m->generation++;
        pst_policy_digest_hex(m->policy, m->digest);
        m->applied_at = realtime_usec();
        m->state = MANAGER_APPLIED;
        set_last_error(m, NULL);
        log_struct(LOG_INFO,
                   "GENERATION=%" PRIu64 "\nDIGEST=%s\nPOLICY_FILE=%s\nDURATION_USEC=%" PRIu64
                   "\nMESSAGE=applied %s: generation %" PRIu64 ", digest %s, %zu chains, %zu rules (%" PRIu64 " us)",
                   m->generation, m->digest, m->policy_path, now_usec() - t0, m->policy_path, m->generation,
                   m->digest, m->ruleset->nchains, pst_ruleset_nrules(m->ruleset), now_usec() - t0);
        bus_emit_applied(m);
        pst_diag_clear(&diag);
        return 0;

fail:
        if (!pst_diag_has_errors(&diag))
                pst_error(&diag, r, m->policy_path, 0, "%s", strerror(-r));
        log_diag(&diag, LOG_ERR);
        {
                _cleanup_free_ char *sum = pst_diag_summary(&diag);

                set_last_error(m, sum);
                if (ret_msg)
                        *ret_msg = sum ? strdup(sum) : NULL;
        }
        if (ret_err)
                *ret_err = kind;
        pst_diag_clear(&diag);
        return r;
}

int manager_reload(struct manager *m, enum manager_error *ret_err, char **ret_msg) {
        int r;

        sd_notifyf(false, "RELOADING=1\nSTATUS=reloading %s\nMONOTONIC_USEC=%" PRIu64, m->policy_path, now_usec());
        r = load_compile_apply(m, ret_err, ret_msg);
        if (r < 0) {
                if (m->state == MANAGER_APPLIED)
                        log_struct(LOG_ERR, "GENERATION=%" PRIu64 "\nDIGEST=%s\nMESSAGE=reload of %s failed: keeping generation %" PRIu64 " (digest %s) as it is",
                                   m->generation, m->digest, m->policy_path, m->generation, m->digest);
                else
                        log_struct(LOG_ERR, "MESSAGE=reload of %s failed: staying in state %s", m->policy_path,
                                   manager_state_name(m->state));
                bus_emit_state_changed(m);
        }
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
        if (pst_emergency_load(m->policy_path, &diag, &pol) < 0 || !pol.ssh) {
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

static int fail_closed(struct manager *m) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *rs = NULL;
        struct pst_emergency e;
        struct pst_diag diag;
        bool exists = false;
        uint32_t flags = 0;
        char ssh[PST_EMERGENCY_FROM_MAX * (PST_ADDR_STRLEN + 2) + 32] = "";
        int r;

        r = pick_backend(m, NULL, &m->backend);
        if (r < 0) {
                log_errno(LOG_ALERT, r, "no usable firewall backend: %m");
                return r;
        }
        /* iptables: its INPUT/FORWARD always exist, there is nothing to keep: fail closed */
        r = m->backend == PST_BACKEND_NFTABLES ? pst_nft_table_query(PST_TABLE, &exists, &flags) : 0;
        if (r < 0)
                log_errno(LOG_ERR, r, "cannot tell whether table inet %s exists (%m): assuming it does not", PST_TABLE);
        pst_diag_init(&diag);
        if (exists) {
                /* a previous run's ruleset is better than a generic one: keep it, and own it so that
                 * nobody else's "nft flush ruleset" can take it away while we run */
                r = pst_nft_claim_table(m->nft, PST_TABLE, TABLE_FLAGS, &diag);
                if (r < 0)
                        log_errno(LOG_WARNING, r, "cannot take ownership of table inet %s (%m), keeping it as it is", PST_TABLE);
                pst_diag_clear(&diag);
                m->state = MANAGER_DEGRADED;
                log_struct(LOG_CRIT, "POSTERN_STATE=degraded\nMESSAGE=no valid policy in %s: DEGRADED, keeping table inet %s "
                           "from a previous run unchanged; fix the policy and reload",
                           m->policy_path, PST_TABLE);
                return 0;
        }

        emergency_options(m, &e);
        r = pst_emergency_ruleset(&e, &rs);
        if (r >= 0)
                r = backend_apply(m, m->backend, rs, &diag);
        if (r < 0) {
                log_diag(&diag, LOG_ALERT);
                pst_diag_clear(&diag);
                log_errno(LOG_ALERT, r, "cannot apply the emergency ruleset: %m");
                return r;
        }
        pst_diag_clear(&diag);
        pst_ruleset_free(m->ruleset);
        m->ruleset = TAKE_PTR(rs);
        m->generation++;
        m->digest[0] = 0;
        m->applied_at = realtime_usec();
        m->state = MANAGER_EMERGENCY;
        if (!e.ssh)
                snprintf(ssh, sizeof(ssh), "no SSH");
        else if (e.nfrom == 0)
                snprintf(ssh, sizeof(ssh), "SSH from anywhere");
        else {
                size_t len = (size_t) snprintf(ssh, sizeof(ssh), "SSH from");
                char buf[PST_ADDR_STRLEN];

                for (size_t i = 0; i < e.nfrom && len < sizeof(ssh); i++)
                        len += (size_t) snprintf(ssh + len, sizeof(ssh) - len, " %s", pst_addr_format(&e.from[i], buf));
        }
        log_struct(LOG_ALERT,
                   "POSTERN_STATE=emergency\nGENERATION=%" PRIu64 "\nMESSAGE=no valid policy in %s: applied the built-in "
                   "EMERGENCY ruleset (loopback, established, essential ICMP/ICMPv6, %s); fix the policy and reload",
                   m->generation, m->policy_path, ssh);
        bus_emit_applied(m);
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
        struct pst_diag diag;
        int r;

        pst_diag_init(&diag);
        r = backend_apply(m, m->backend, m->ruleset, &diag);
        if (r < 0) {
                _cleanup_free_ char *sum = NULL;

                log_diag(&diag, LOG_ERR);
                sum = pst_diag_summary(&diag);
                set_last_error(m, sum);
                log_errno(LOG_ERR, r, "re-applying the whole table after %s failed: %m", why);
                bus_emit_state_changed(m);
        } else
                log_struct(LOG_WARNING, "GENERATION=%" PRIu64 "\nMESSAGE=re-applied the whole table (%s)", m->generation,
                           why);
        pst_diag_clear(&diag);
        return r;
}

/* Returns 0, or a negative errno when the kernel refused what we sent. */
static int update_ifaddr_sets(struct manager *m, const struct pst_ifaddrs *ifa, uint64_t t0) {
        uint32_t changed[CHANGED_SETS_MAX];
        int n, r = 0;

        if (!m->ruleset)
                return 0; /* degraded, or still starting: the table is not ours to edit */
        n = pst_ruleset_update_ifaddrs(m->ruleset, ifa, changed, CHANGED_SETS_MAX);
        if (n < 0) {
                log_errno(LOG_ERR, n, "cannot refill the interface-address sets: %m");
                return n;
        }
        if (n == 0)
                return 0; /* nothing the policy depends on: no kernel write */
        if (n > CHANGED_SETS_MAX)
                return reapply_table(m, "many interface-address sets changed");

        for (int i = 0; i < n; i++) {
                const struct pst_set *s = &m->ruleset->sets[changed[i]];
                char addrs[512];
                struct pst_diag diag;
                int k;

                pst_diag_init(&diag);
                k = backend_update_set(m, changed[i], &diag);
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
        return r;
}

/* netmon's handler: keep the snapshot (the next compile uses it), then
 * update the sets that depend on it.  Returns 0, or a negative errno when
 * the kernel refused what we sent (netmon_resync() passes it on). */
static int manager_ifaddrs_changed(struct netmon *nm, const struct pst_ifaddrs *snapshot, uint64_t first_event_usec,
                                   void *userdata) {
        struct manager *m = userdata;
        struct pst_ifaddrs ifa;
        int r;

        r = pst_ifaddrs_copy(snapshot, &ifa);
        if (r < 0)
                return log_errno(LOG_ERR, r, "cannot keep the interface addresses: %m");
        pst_ifaddrs_clear(&m->ifaddrs);
        m->ifaddrs = ifa;
        return update_ifaddr_sets(m, &m->ifaddrs, first_event_usec);
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

uint64_t manager_resyncs(struct manager *m) {
        return netmon_resyncs(m->netmon);
}

/* ---- signals and life cycle ---- */

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct manager *m = userdata;

        sd_notify(false, "STOPPING=1\nSTATUS=stopping; the ruleset stays installed");
        log_struct(LOG_INFO, "GENERATION=%" PRIu64 "\nMESSAGE=stopping on %s; table inet %s stays installed", m->generation,
                   strsignal((int) si->ssi_signo), PST_TABLE);
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

        r = pst_nft_open(&m->nft);
        if (r < 0)
                return r;
        r = netmon_new(m->event, manager_ifaddrs_changed, m, &m->netmon);
        if (r < 0)
                return r;
        /* the initial dump arrives through manager_ifaddrs_changed(): kept, no ruleset yet to update */
        r = netmon_start(m->netmon);
        if (r < 0)
                return r;
        if (m->use_bus)
                bus_setup(m); /* logs and carries on without a bus */
        else
                log_msg(LOG_INFO, "running without D-Bus (--no-bus)");
        return 0;
}

int manager_start(struct manager *m) {
        int r;

        r = load_compile_apply(m, NULL, NULL);
        if (r < 0) {
                r = fail_closed(m);
                if (r < 0)
                        return r;
        }
        notify_status(m, "READY=1\n");
        return 0;
}
