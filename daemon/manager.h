/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * posternd's state and the decisions it takes: load, compile, apply; the
 * fail-closed boot; reload; interface-address set updates.
 *
 *   manager_new()    allocates, nothing else
 *   manager_setup()  sd-event, signals, rtnetlink (the backend opens at the first apply)
 *   manager_start()  applies (or falls back), then READY=1
 *
 * Every decision is logged once, here, with journal fields.
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "backend.h"
#include "log.h"
#include "pipeline.h"

struct netmon;
struct drops;
struct rpc;

enum manager_state {
        MANAGER_STARTING,
        MANAGER_APPLIED,   /* the policy's ruleset is installed */
        MANAGER_EMERGENCY, /* no valid policy at boot: the built-in fail-closed ruleset */
        MANAGER_DEGRADED,  /* no valid policy at boot: the table a previous run left is kept */
};

const char *manager_state_name(enum manager_state s);

/* Where a failed load/apply stopped: what D-Bus maps to its named errors. */
enum manager_error {
        MANAGER_ERR_NONE,
        MANAGER_ERR_POLICY, /* the policy or the catalog does not load or compile */
        MANAGER_ERR_KERNEL, /* the kernel refused the batch, or a system error */
        MANAGER_ERR_BUSY,   /* not now: a confirmation is pending, or nothing to confirm */
        MANAGER_ERR_LOCKOUT, /* the new ruleset would cut the caller's own SSH connection */
};

struct manager {
        sd_event *event;
        struct netmon *netmon;
        struct pst_backend *backend; /* what installed the running ruleset; kept open */
        sd_event_source *watch;      /* the backend's notifications: others changing our table */
        int presence_fd;             /* presence.h: the name that says a posternd runs here */
        struct pst_list_cache *list_cache; /* list-cache.h: what list files parsed to, for reloads */
        unsigned rpc_offer; /* pst_rpc_offer_probe() at the first compile (0: not yet or not probed) */
        bool rpc_probed;

        /* configuration */
        char *policy_path;
        char *catalog_path; /* NULL: installed catalog (+ services.d) or the build tree's */
        char *runtime_dir;  /* where the generation of our last commit is recorded (/run/postern) */
        char *state_dir;    /* where a pending confirmation survives a restart or reboot (/var/lib/postern) */
        unsigned source_flags;           /* source.h; PST_SOURCE_ANY_OWNER with POSTERN_UNSAFE_FILES=1 */
        bool emergency_cli;              /* --emergency-ssh given */
        enum pst_backend_kind backend_cli;    /* --backend; AUTO: the policy's options.backend decides */
        struct pst_emergency emergency;  /* from the command line */

        /* what is running */
        enum manager_state state;
        struct pst_compiled *running; /* NULL when degraded; its interface-address sets mirror the kernel's */
        uint64_t generation;         /* +1 on every successful full apply */
        char digest[17];             /* "" when no policy is applied */
        char *last_error;            /* NULL: none */
        uint64_t applied_at;         /* CLOCK_REALTIME µs of the last successful apply */
        uint64_t apply_usec;         /* how long it took (load, compile, apply), µs */
        bool running_unsure;         /* putting m->running back failed: the kernel may hold something else */

        /* event counters (D-Bus properties, for status and tests) */
        uint64_t rechecks;    /* re-checks triggered by D-Bus hints and Reapply() */
        uint64_t set_updates; /* interface-address set batches sent */
        char last_event[160];

        /* the addresses of every named link, as netmon last handed them over: what compiling uses */
        struct pst_ifaddrs ifaddrs;

        sd_event_source *sigterm, *sigint, *sighup;
        /* healing what others do to our table */
        struct pst_drift drift;            /* the last drift seen */
        sd_event_source *heal_defer, *heal_timer;
        /* what ran before the last reload, freed after the caller has its answer (release_old) */
        struct pst_compiled *retired;
        sd_event_source *release_defer;
        uint64_t heal_window_start;
        unsigned heals_in_window;
        uint64_t heals;
        bool generation_warned;
        int generation_fd;                 /* runtime_dir/generation, rewritten in place (record_generation) */
        /* other tables' base chains that can drop what ours accepts (drift.c) */
        char *foreign;                     /* one a line; NULL: none seen */
        sd_event_source *foreign_timer;
        uint64_t foreign_scanned;          /* CLOCK_MONOTONIC µs of the last scan */
        /* when each rule last matched (hits.c) */
        struct manager_hits *hits;
        sd_event_source *hits_timer;
        bool hits_failed;

        /* a pending apply --confirm: what goes back unless Confirm() comes first */
        struct pst_compiled *previous;          /* NULL: nothing pending */
        enum pst_backend_kind previous_backend; /* what installed it */
        uint64_t confirm_deadline;              /* CLOCK_REALTIME µs; 0: nothing pending */
        sd_event_source *confirm_timer;
        uint64_t rollbacks;

        struct drops *drops; /* drops.h: NULL until a ruleset logs drops */
        struct rpc *rpc;     /* rpc.h: NULL until a ruleset has rpc pinholes */

        const struct manager_observer *observer;
        void *observer_userdata;
};

/* Who hears of what the manager did (the D-Bus face); NULL: nobody. */
struct manager_observer {
        void (*applied)(void *userdata);       /* a ruleset was installed */
        void (*state_changed)(void *userdata); /* a reload failed, a confirmation came: State, LastError, ... */
        void (*rolled_back)(void *userdata);   /* no Confirm() in time: the previous ruleset is back */
};
void manager_set_observer(struct manager *m, const struct manager_observer *o, void *userdata);

int manager_new(struct manager **ret);
struct manager *manager_free(struct manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct manager *, manager_free);

int manager_setup(struct manager *m);
int manager_start(struct manager *m);

/*
 * Load, compile and apply the policy again (SIGHUP, Reload()).  On failure
 * the running ruleset stays exactly as it was, LastError says why and
 * *ret_err (if given) what kind of failure it was; ret_msg gets the first
 * error line (malloc'd) for a D-Bus error reply.
 */
int manager_reload(struct manager *m, enum manager_error *ret_err, char **ret_msg);

/*
 * Apply(): load, compile and apply path (NULL or "": the daemon's policy).
 * confirm_sec > 0 (bounded by the caller, bus.c: POSTERN_CONFIRM_MAX_SEC):
 * unless manager_confirm() comes within that many seconds,
 * the ruleset that ran before goes back (the timer and both rulesets are
 * kept in state_dir, so a restart or reboot in between rolls back too).
 * ssh_connection (SSH_CONNECTION of the caller, may be NULL): refused when
 * the new ruleset would not accept that connection, unless force.  On
 * failure nothing changed; *ret_err and *ret_msg as for manager_reload().
 */
int manager_apply(struct manager *m, const char *path, uint32_t confirm_sec, const char *ssh_connection, bool force,
                  enum manager_error *ret_err, char **ret_msg);

/* Confirm(): keep what the pending apply installed.  -ENOENT: nothing pending. */
int manager_confirm(struct manager *m);

/* A D-Bus hint or Reapply(): re-read links and addresses from the kernel
 * and apply what changed, now.  why is logged. */
int manager_recheck(struct manager *m, const char *why);

/* A D-Bus hint (networkd, NetworkManager): re-read links and addresses soon
 * (coalesced with whatever else arrives), not now.  why is logged. */
void manager_hint(struct manager *m, const char *why);

/* Does the kernel (as last read) have a link named ifname? */
bool manager_has_link(struct manager *m, const char *ifname);

/* Other tables' dropping base chains (drift.c): scan now, or soon (at
 * most every 250 ms); setup from manager_setup(). */
void manager_foreign_check(struct manager *m);
void manager_foreign_check_soon(struct manager *m);
int manager_foreign_setup(struct manager *m);

/* The last-hit time of each rule of our table (hits.c), sampled now:
 * chain, position in it, CLOCK_REALTIME µs (0: not since the apply). */
struct manager_hit {
        char chain[64];
        uint32_t index;
        uint64_t packets;
        uint64_t last_usec;
};
int manager_hits_setup(struct manager *m);
void manager_hits_free(struct manager *m);
int manager_hits_sample(struct manager *m);
int manager_hits_get(struct manager *m, const struct manager_hit **ret, size_t *ret_n);

/* rules of the running ruleset (0: none of ours) */
size_t manager_nrules(const struct manager *m);

/* rtnetlink full re-reads so far (a property, for status and tests) */
uint64_t manager_resyncs(struct manager *m);

/*
 * SaveRunning(): write the running ruleset to <runtime_dir>/running.snap
 * (snapshot.h, mode 0600) and say the kernel's ruleset generation after our
 * last commit, so that posternctl diff can take the running named sets'
 * elements from it instead of dumping them from the kernel (slow for big
 * interval sets) when the kernel is still at that generation.  -EBUSY (and
 * *ret_msg) when posternd cannot vouch for what the kernel holds: nothing of
 * ours running, the iptables backend, no watch on the table.
 */
int manager_save_running(struct manager *m, char **ret_path, uint32_t *ret_gen, char **ret_msg);
