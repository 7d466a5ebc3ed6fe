/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * posternctl's client side of org.postern1: status, reload, reapply.
 * Each returns posternctl's exit status: 0 success, 1 the daemon refused
 * (invalid policy, no such interface), 2 a system error or permission
 * denied, CTL_EXIT_NO_DAEMON when posternd is not running (what the ppp
 * hooks test before falling back to `posternctl apply`).
 */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "diag.h"
#include <stdint.h>

#include "dropstats.h"
#include "kernel-features.h"

#define CTL_EXIT_NO_DAEMON 3

/*
 * posternctl --json's one failure shape, whatever failed (the policy, the
 * kernel, the daemon, the bus, the command line):
 *   {"ok": false, "error": D-BUS-ERROR-NAME or null,
 *    "errors": [{"severity": "error"|"warning", "file": F or null, "line": N, "message": M}, ...]}
 */
void ctl_print_failure(FILE *f, const struct pst_diag *d, const char *error_name);

/* kf (NULL: none) is shown as the status's kernel section. */
int ctl_bus_status(bool json, const struct pst_features *kf);

int ctl_bus_reload(bool json);
int ctl_bus_reapply(const char *ifname, bool json);
/* Apply(path, confirm_sec, ssh_connection, force); path "" = the daemon's policy */
int ctl_bus_apply(const char *path, uint32_t confirm_sec, const char *ssh_connection, bool force, bool json);
int ctl_bus_confirm(bool json);

/*
 * SaveRunning(): posternd writes its running ruleset to *ret_path and says
 * the kernel's generation after its last commit (posternctl diff).  Quiet:
 * a negative errno on any failure (no daemon, refused, no libsystemd), and
 * the caller falls back to reading the kernel.
 */
int ctl_bus_save_running(char **ret_path, uint32_t *ret_gen);

/* posternd's figures for posternctl metrics; quiet: a negative errno when
 * there is no daemon to ask (or no libsystemd). */
/* the endpoint-mapper reply reader's counters (bus-api.h POSTERN_BUS_PROP_RPC_*) */
struct ctl_rpc {
        uint64_t sets, packets, added, refused, skipped, unparsed, lost, last_latency_us;
};

struct ctl_figures {
        uint64_t generation, applied_at, apply_usec, set_updates, rollbacks;
        struct ctl_rpc rpc;
        bool applied; /* State is "applied" */
};
int ctl_bus_figures(struct ctl_figures *ret);

/* RuleHits(): when each rule of the table last matched (quiet, as above). */
struct ctl_hit {
        char chain[64];
        uint32_t index;
        uint64_t last_usec; /* CLOCK_REALTIME; 0: not since the apply */
};
#define CTL_HITS_MAX 1000000
int ctl_bus_rule_hits(struct ctl_hit **ret, size_t *ret_n);

/* Drops(since_usec): posternd's drop log into *ret (rows appended); posternctl's exit status,
 * the failure reported */
struct ctl_drops {
        struct pst_drop_row *v;
        size_t n, cap;
        uint64_t total, evicted, lost;
};
static inline void ctl_drops_clear(struct ctl_drops *d) {
        free(d->v);
        *d = (struct ctl_drops) {};
}
int ctl_bus_drops(uint64_t since_usec, bool json, struct ctl_drops *ret);
/* The same, all rows, for posternctl metrics: a negative errno (nothing said) when posternd does not answer. */
int ctl_bus_drops_quiet(struct ctl_drops *ret);
