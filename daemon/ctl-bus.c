/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include "bus-api.h"
#include "ctl-bus.h"
#include "ctl-dbus.h"
#include "dlopen.h"
#include "json.h"
#include "util.h"

/*
 * libsystemd is opened on first use (lib/dlopen.h says why): only status,
 * reload and reapply need it, and posternctl apply should not pay for it.
 * The sd_bus_* names below resolve to these pointers.
 */
static struct {
        int (*open_system)(sd_bus **ret);
        sd_bus *(*flush_close_unref)(sd_bus *bus);
        int (*call_method)(sd_bus *bus, const char *destination, const char *path, const char *interface,
                           const char *member, sd_bus_error *ret_error, sd_bus_message **reply, const char *types,
                           ...);
        void (*error_free)(sd_bus_error *e);
        int (*error_has_names)(const sd_bus_error *e, ...);
        sd_bus_message *(*message_unref)(sd_bus_message *m);
        int (*enter_container)(sd_bus_message *m, char type, const char *contents);
        int (*exit_container)(sd_bus_message *m);
        int (*peek_type)(sd_bus_message *m, char *type, const char **contents);
        int (*read)(sd_bus_message *m, const char *types, ...);
        int (*skip)(sd_bus_message *m, const char *types);
} sd;
static void *sd_handle;

#undef sd_bus_error_has_names
#define sd_bus_error_has_names(e, ...) sd.error_has_names(e, __VA_ARGS__, NULL)
#define sd_bus_open_system sd.open_system
#define sd_bus_call_method sd.call_method
#define sd_bus_message_enter_container sd.enter_container
#define sd_bus_message_exit_container sd.exit_container
#define sd_bus_message_peek_type sd.peek_type
#define sd_bus_message_read sd.read
#define sd_bus_message_skip sd.skip

static void bus_closep(sd_bus **b) {
        if (*b)
                sd.flush_close_unref(*b);
}

static void bus_error_freep(sd_bus_error *e) {
        if (sd.error_free)
                sd.error_free(e);
}

static void bus_message_unrefp(sd_bus_message **m) {
        if (*m)
                sd.message_unref(*m);
}

static int libsystemd_open(void) {
        static const struct pst_dlsym syms[] = {
                PST_DLSYM(sd_bus_open_system, sd.open_system),
                PST_DLSYM(sd_bus_flush_close_unref, sd.flush_close_unref),
                PST_DLSYM(sd_bus_call_method, sd.call_method),
                PST_DLSYM(sd_bus_error_free, sd.error_free),
                PST_DLSYM(sd_bus_error_has_names_sentinel, sd.error_has_names),
                PST_DLSYM(sd_bus_message_unref, sd.message_unref),
                PST_DLSYM(sd_bus_message_enter_container, sd.enter_container),
                PST_DLSYM(sd_bus_message_exit_container, sd.exit_container),
                PST_DLSYM(sd_bus_message_peek_type, sd.peek_type),
                PST_DLSYM(sd_bus_message_read, sd.read),
                PST_DLSYM(sd_bus_message_skip, sd.skip),
        };
        const char *why = NULL;
        int r = pst_dlopen(&sd_handle, "libsystemd.so.0", syms, ELEMENTSOF(syms), &why);

        if (r < 0)
                fprintf(stderr, "posternctl: cannot load libsystemd: %s\n", why ? why : "unknown error");
        return r;
}

enum { EXIT_REFUSED = 1, EXIT_SYSTEM = 2 };

static bool no_daemon_error(const sd_bus_error *e) {
        return sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER,
                                      SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_DISCONNECTED);
}

void ctl_print_failure(FILE *f, const struct pst_diag *d, const char *error_name) {
        struct pst_json j;

        pst_json_init(&j, f);
        pst_json_begin_object(&j, NULL);
        pst_json_bool(&j, "ok", false);
        pst_json_string(&j, "error", error_name);
        pst_json_begin_array(&j, "errors");
        for (size_t i = 0; i < d->n; i++) {
                const struct pst_diag_item *it = &d->items[i];

                pst_json_begin_object(&j, NULL);
                pst_json_string(&j, "severity", it->severity == PST_ERROR ? "error" : "warning");
                pst_json_string(&j, "file", it->file);
                pst_json_int(&j, "line", it->line);
                pst_json_string(&j, "message", it->msg);
                pst_json_end_object(&j);
        }
        pst_json_end_array(&j);
        pst_json_end_object(&j);
}

/* One failure, as text on stderr ("posternctl WHAT: MSG") or as the JSON
 * shape above on stdout; a "FILE:LINE: message" from the daemon keeps its
 * file and line apart in JSON. */
static void report(const char *what, const char *error_name, const char *msg, bool json) {
        struct pst_diag d;
        unsigned line = 0;
        int n = 0;

        if (!json) {
                fprintf(stderr, "posternctl %s: %s\n", what, msg);
                return;
        }
        pst_diag_init(&d);
        if (msg[0] == '/' && sscanf(msg, "%*[^:]:%u: %n", &line, &n) == 1 && n > 0) {
                _cleanup_free_ char *file = strndup(msg, strcspn(msg, ":"));

                pst_error(&d, -EINVAL, file, line, "%s", msg + n);
        } else
                pst_error(&d, -EINVAL, NULL, 0, "%s", msg);
        ctl_print_failure(stdout, &d, error_name);
        pst_diag_clear(&d);
}

static int connect_bus(sd_bus **ret, const char *what, bool json) {
        _cleanup_free_ char *msg = NULL;
        int r;

        if (libsystemd_open() < 0)
                return EXIT_SYSTEM;
        r = sd_bus_open_system(ret);
        if (r < 0) {
                if (asprintf(&msg, "posternd is not running (cannot reach the system bus: %s)", strerror(-r)) < 0)
                        msg = NULL;
                report(what, NULL, msg ? msg : "posternd is not running", json);
                return CTL_EXIT_NO_DAEMON;
        }
        return 0;
}

/* The system bus for the quiet callers (diff's fast path, metrics, stats):
 * a negative errno, nothing said, when there is none or no libsystemd. */
static int open_bus_quiet(sd_bus **ret) {
        return libsystemd_open() < 0 ? -ENOPKG : sd_bus_open_system(ret);
}

/* One place that turns a failed call into a message and an exit status. */
static int call_failed(const char *what, const sd_bus_error *e, int r, bool json) {
        int code = EXIT_SYSTEM;
        const char *msg = e && e->message ? e->message : strerror(r < 0 ? -r : EIO);

        if (e && no_daemon_error(e)) {
                code = CTL_EXIT_NO_DAEMON;
                msg = "posternd is not running (" POSTERN_BUS_NAME " is not on the system bus)";
        } else if (e && sd_bus_error_has_names(e, POSTERN_BUS_ERROR_INVALID_POLICY, POSTERN_BUS_ERROR_NO_SUCH_INTERFACE,
                                               SD_BUS_ERROR_INVALID_ARGS, POSTERN_BUS_ERROR_BUSY,
                                               POSTERN_BUS_ERROR_LOCKOUT))
                code = EXIT_REFUSED;
        else if (e && sd_bus_error_has_names(e, POSTERN_BUS_ERROR_PERMISSION_DENIED, SD_BUS_ERROR_ACCESS_DENIED))
                msg = e->message ? e->message : "permission denied";
        report(what, e && e->name ? e->name : NULL, msg, json);
        return code;
}

static int simple_call(const char *what, const char *method, const char *ifname, bool json) {
        _cleanup_(bus_closep) sd_bus *bus = NULL;
        _cleanup_(bus_error_freep) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = connect_bus(&bus, what, json);
        if (r)
                return r;
        if (ifname)
                r = sd_bus_call_method(bus, POSTERN_BUS_NAME, POSTERN_BUS_PATH, POSTERN_BUS_INTERFACE, method, &e,
                                       &reply, "s", ifname);
        else
                r = sd_bus_call_method(bus, POSTERN_BUS_NAME, POSTERN_BUS_PATH, POSTERN_BUS_INTERFACE, method, &e,
                                       &reply, "");
        if (r < 0)
                return call_failed(what, &e, r, json);
        if (json) {
                struct pst_json j;

                pst_json_init(&j, stdout);
                pst_json_begin_object(&j, NULL);
                pst_json_bool(&j, "ok", true);
                pst_json_end_object(&j);
        }
        return 0;
}

int ctl_bus_reload(bool json) {
        return simple_call("reload", POSTERN_BUS_METHOD_RELOAD, NULL, json);
}

int ctl_bus_reapply(const char *ifname, bool json) {
        return simple_call("reapply", POSTERN_BUS_METHOD_REAPPLY, ifname, json);
}

int ctl_bus_confirm(bool json) {
        return simple_call("confirm", POSTERN_BUS_METHOD_CONFIRM, NULL, json);
}

static int print_applied(const char *path, uint64_t generation, uint32_t confirm_sec, bool json) {
        if (json) {
                struct pst_json j;

                pst_json_init(&j, stdout);
                pst_json_begin_object(&j, NULL);
                pst_json_bool(&j, "ok", true);
                pst_json_string(&j, "policy", *path ? path : NULL);
                pst_json_int(&j, "generation", (long long) generation);
                pst_json_int(&j, "confirm_seconds", confirm_sec);
                pst_json_end_object(&j);
                return 0;
        }
        printf("%s: applied through posternd: generation %" PRIu64 "\n", *path ? path : "the daemon's policy",
               generation);
        if (confirm_sec)
                printf("run 'posternctl confirm' within %" PRIu32 " s to keep it; without it the previous ruleset "
                       "comes back\n", confirm_sec);
        return 0;
}

int ctl_bus_save_running(char **ret_path, uint32_t *ret_gen) {
        _cleanup_(bus_closep) sd_bus *bus = NULL;
        _cleanup_(bus_error_freep) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        int r;

        r = open_bus_quiet(&bus);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, POSTERN_BUS_NAME, POSTERN_BUS_PATH, POSTERN_BUS_INTERFACE,
                               POSTERN_BUS_METHOD_SAVE_RUNNING, &e, &reply, "");
        if (r >= 0)
                r = sd_bus_message_read(reply, "su", &path, ret_gen);
        if (r < 0 && sd_bus_error_has_names(&e, POSTERN_BUS_ERROR_BUSY))
                return -EBUSY; /* it cannot vouch for what the kernel holds (iptables, degraded) */
        if (r < 0)
                return r;
        if (path[0] != '/')
                return -EPROTO;
        *ret_path = strdup(path);
        return *ret_path ? 0 : -ENOMEM;
}

/* The call without libsystemd first (ctl-dbus.h says why); sd-bus only when
 * that could not deliver it, and to word a refusal. */
int ctl_bus_apply(const char *path, uint32_t confirm_sec, const char *ssh_connection, bool force, bool json) {
        _cleanup_(bus_closep) sd_bus *bus = NULL;
        _cleanup_(bus_error_freep) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(bus_message_unrefp) sd_bus_message *reply = NULL;
        struct ctl_dbus_error de = {};
        uint64_t generation = 0;
        int r;

        r = ctl_dbus_apply(path, confirm_sec, ssh_connection, force, &generation, &de);
        if (r == 0)
                return print_applied(path, generation, confirm_sec, json);
        if (r == -EREMOTEIO) {
                r = libsystemd_open() < 0 ? EXIT_SYSTEM
                                          : call_failed("apply", &SD_BUS_ERROR_MAKE_CONST(de.name, de.message), -EIO, json);
                ctl_dbus_error_clear(&de);
                return r;
        }
        if (r != CTL_DBUS_FALLBACK) {
                report("apply", NULL, strerror(-r), json);
                return EXIT_SYSTEM;
        }
        r = connect_bus(&bus, "apply", json);
        if (r)
                return r;
        r = sd_bus_call_method(bus, POSTERN_BUS_NAME, POSTERN_BUS_PATH, POSTERN_BUS_INTERFACE, POSTERN_BUS_METHOD_APPLY,
                               &e, &reply, "susb", path, confirm_sec, ssh_connection, (int) force);
        if (r >= 0)
                r = sd_bus_message_read(reply, "t", &generation);
        if (r < 0)
                return call_failed("apply", &e, r, json);
        return print_applied(path, generation, confirm_sec, json);
}

struct status {
        char *state, *policy, *digest, *last_error, *last_event, *rollback_digest, *foreign_drops;
        uint64_t generation, applied_at, rules, rechecks, set_updates, resyncs, confirm_deadline, rollbacks;
        uint64_t apply_usec;
        struct ctl_rpc rpc;
};

static void status_clear(struct status *s) {
        free(s->state);
        free(s->policy);
        free(s->digest);
        free(s->last_error);
        free(s->last_event);
        free(s->rollback_digest);
        free(s->foreign_drops);
}

static int read_props(sd_bus_message *reply, struct status *st) {
        static const struct {
                const char *name;
                size_t off;
        } strs[] = {
                { POSTERN_BUS_PROP_STATE, offsetof(struct status, state) },
                { POSTERN_BUS_PROP_POLICY_PATH, offsetof(struct status, policy) },
                { POSTERN_BUS_PROP_POLICY_DIGEST, offsetof(struct status, digest) },
                { POSTERN_BUS_PROP_LAST_ERROR, offsetof(struct status, last_error) },
                { POSTERN_BUS_PROP_LAST_EVENT, offsetof(struct status, last_event) },
                { POSTERN_BUS_PROP_ROLLBACK_DIGEST, offsetof(struct status, rollback_digest) },
                { POSTERN_BUS_PROP_FOREIGN_DROPS, offsetof(struct status, foreign_drops) },
        }, u64s[] = {
                { POSTERN_BUS_PROP_GENERATION, offsetof(struct status, generation) },
                { POSTERN_BUS_PROP_APPLIED_AT, offsetof(struct status, applied_at) },
                { POSTERN_BUS_PROP_RULES, offsetof(struct status, rules) },
                { POSTERN_BUS_PROP_RECHECKS, offsetof(struct status, rechecks) },
                { POSTERN_BUS_PROP_SET_UPDATES, offsetof(struct status, set_updates) },
                { POSTERN_BUS_PROP_RESYNCS, offsetof(struct status, resyncs) },
                { POSTERN_BUS_PROP_CONFIRM_DEADLINE, offsetof(struct status, confirm_deadline) },
                { POSTERN_BUS_PROP_ROLLBACKS, offsetof(struct status, rollbacks) },
                { POSTERN_BUS_PROP_APPLY_USEC, offsetof(struct status, apply_usec) },
                { POSTERN_BUS_PROP_RPC_SETS, offsetof(struct status, rpc.sets) },
                { POSTERN_BUS_PROP_RPC_PACKETS, offsetof(struct status, rpc.packets) },
                { POSTERN_BUS_PROP_RPC_ADDED, offsetof(struct status, rpc.added) },
                { POSTERN_BUS_PROP_RPC_REFUSED, offsetof(struct status, rpc.refused) },
                { POSTERN_BUS_PROP_RPC_SKIPPED, offsetof(struct status, rpc.skipped) },
                { POSTERN_BUS_PROP_RPC_UNPARSED, offsetof(struct status, rpc.unparsed) },
                { POSTERN_BUS_PROP_RPC_LOST, offsetof(struct status, rpc.lost) },
                { POSTERN_BUS_PROP_RPC_LATENCY, offsetof(struct status, rpc.last_latency_us) },
        };
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        for (int i = 0; i < 256 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0; i++) {
                const char *key, *contents;
                bool done = false;
                char type;

                r = sd_bus_message_read(reply, "s", &key);
                if (r < 0)
                        return r;
                r = sd_bus_message_peek_type(reply, &type, &contents);
                if (r < 0)
                        return r;
                for (size_t k = 0; !done && streq(contents, "s") && k < ELEMENTSOF(strs); k++)
                        if (streq(key, strs[k].name)) {
                                const char *v;
                                char **dst = (char **) ((char *) st + strs[k].off);

                                r = sd_bus_message_read(reply, "v", "s", &v);
                                if (r < 0)
                                        return r;
                                free(*dst);
                                *dst = strdup(v);
                                done = true;
                        }
                for (size_t k = 0; !done && streq(contents, "t") && k < ELEMENTSOF(u64s); k++)
                        if (streq(key, u64s[k].name)) {
                                r = sd_bus_message_read(reply, "v", "t", (uint64_t *) ((char *) st + u64s[k].off));
                                if (r < 0)
                                        return r;
                                done = true;
                        }
                if (!done) {
                        r = sd_bus_message_skip(reply, "v");
                        if (r < 0)
                                return r;
                }
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(reply);
}

static const char *empty_dash(const char *s) {
        return s && *s ? s : "-";
}

static void format_time(uint64_t usec, char *buf, size_t size) {
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;

        if (usec && localtime_r(&t, &tm))
                strftime(buf, size, "%Y-%m-%d %H:%M:%S %Z", &tm);
}

static void print_pending(const struct status *st) {
        struct timespec now;
        char when[64] = "-";

        if (!st->confirm_deadline) {
                printf("     Confirm: -\n");
                return;
        }
        clock_gettime(CLOCK_REALTIME, &now);
        format_time(st->confirm_deadline, when, sizeof(when));
        printf("     Confirm: PENDING: unless 'posternctl confirm', digest %s comes back at %s (in %lld s)\n",
               empty_dash(st->rollback_digest), when,
               (long long) (st->confirm_deadline / 1000000) - (long long) now.tv_sec);
}

/* "foreign_drops": one string per chain (drift.c), [] when none */
static void print_foreign_json(struct pst_json *j, const char *text) {
        pst_json_begin_array(j, "foreign_drops");
        for (const char *p = text; p && *p;) {
                const char *nl = strchrnul(p, '\n');
                _cleanup_free_ char *line = strndup(p, (size_t) (nl - p));

                if (line)
                        pst_json_string(j, NULL, line);
                p = *nl ? nl + 1 : nl;
        }
        pst_json_end_array(j);
}

/* Each line a warning: another table's base chain can drop what ours accepts. */
static void print_foreign(const char *text) {
        for (const char *p = text; p && *p;) {
                const char *nl = strchrnul(p, '\n');

                printf("     Warning: %.*s — can drop what postern accepts\n", (int) (nl - p), p);
                p = *nl ? nl + 1 : nl;
        }
}

static void print_status_json(const struct status *st, const struct pst_features *kf) {
        struct pst_json j;

        pst_json_init(&j, stdout);
        pst_json_begin_object(&j, NULL);
        pst_json_bool(&j, "ok", true);
        pst_json_string(&j, "state", st->state);
        pst_json_string(&j, "policy", st->policy);
        pst_json_string(&j, "digest", st->digest);
        pst_json_int(&j, "generation", (long long) st->generation);
        pst_json_int(&j, "applied_at_usec", (long long) st->applied_at);
        pst_json_int(&j, "rules", (long long) st->rules);
        pst_json_int(&j, "confirm_deadline_usec", (long long) st->confirm_deadline);
        pst_json_string(&j, "rollback_digest", st->rollback_digest && *st->rollback_digest ? st->rollback_digest : NULL);
        pst_json_string(&j, "last_error", st->last_error && *st->last_error ? st->last_error : NULL);
        pst_json_string(&j, "last_event", st->last_event && *st->last_event ? st->last_event : NULL);
        pst_json_int(&j, "rechecks", (long long) st->rechecks);
        pst_json_int(&j, "set_updates", (long long) st->set_updates);
        pst_json_int(&j, "resyncs", (long long) st->resyncs);
        pst_json_int(&j, "rollbacks", (long long) st->rollbacks);
        print_foreign_json(&j, st->foreign_drops);
        pst_json_begin_object(&j, "rpc");
        pst_json_int(&j, "sets", (long long) st->rpc.sets);
        pst_json_int(&j, "packets", (long long) st->rpc.packets);
        pst_json_int(&j, "added", (long long) st->rpc.added);
        pst_json_int(&j, "refused", (long long) st->rpc.refused);
        pst_json_int(&j, "skipped", (long long) st->rpc.skipped);
        pst_json_int(&j, "unparsed", (long long) st->rpc.unparsed);
        pst_json_int(&j, "lost", (long long) st->rpc.lost);
        pst_json_int(&j, "last_latency_usec", (long long) st->rpc.last_latency_us);
        pst_json_end_object(&j);
        if (kf)
                pst_features_json(kf, &j, "kernel");
        pst_json_end_object(&j);
}

int ctl_bus_status(bool json, const struct pst_features *kf) {
        _cleanup_(bus_closep) sd_bus *bus = NULL;
        _cleanup_(bus_error_freep) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(bus_message_unrefp) sd_bus_message *reply = NULL;
        struct status st = {};
        char when[64] = "-";
        int r;

        r = connect_bus(&bus, "status", json);
        if (r)
                return r;
        r = sd_bus_call_method(bus, POSTERN_BUS_NAME, POSTERN_BUS_PATH, "org.freedesktop.DBus.Properties", "GetAll", &e,
                               &reply, "s", POSTERN_BUS_INTERFACE);
        if (r < 0)
                return call_failed("status", &e, r, json);
        r = read_props(reply, &st);
        if (r < 0) {
                status_clear(&st);
                fprintf(stderr, "posternctl status: unexpected reply from posternd: %s\n", strerror(-r));
                return EXIT_SYSTEM;
        }
        format_time(st.applied_at, when, sizeof(when));
        if (json)
                print_status_json(&st, kf);
        else {
                printf("       State: %s\n", empty_dash(st.state));
                printf("      Policy: %s\n", empty_dash(st.policy));
                printf("      Digest: %s\n", empty_dash(st.digest));
                printf("  Generation: %" PRIu64 " (%" PRIu64 " rules), applied %s\n", st.generation, st.rules, when);
                print_pending(&st);
                printf("  Last error: %s\n", empty_dash(st.last_error));
                printf("  Last event: %s\n", empty_dash(st.last_event));
                printf("      Events: %" PRIu64 " re-checks, %" PRIu64 " address-set updates, %" PRIu64 " full re-reads, "
                       "%" PRIu64 " rollbacks\n", st.rechecks, st.set_updates, st.resyncs, st.rollbacks);
                if (st.rpc.sets || st.rpc.packets)
                        printf("RPC pinholes: %" PRIu64 " sets; %" PRIu64 " replies read, %" PRIu64 " pinholes added, "
                               "%" PRIu64 " refused (set full), %" PRIu64 " skipped (interface), %" PRIu64
                               " unreadable, %" PRIu64 " lost; last reply to pinhole %" PRIu64 " us\n",
                               st.rpc.sets, st.rpc.packets, st.rpc.added, st.rpc.refused, st.rpc.skipped,
                               st.rpc.unparsed, st.rpc.lost, st.rpc.last_latency_us);
                print_foreign(st.foreign_drops);
                if (kf)
                        pst_features_print(kf, stdout);
        }
        status_clear(&st);
        return 0;
}

int ctl_bus_figures(struct ctl_figures *ret) {
        _cleanup_(bus_closep) sd_bus *bus = NULL;
        _cleanup_(bus_error_freep) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(bus_message_unrefp) sd_bus_message *reply = NULL;
        struct status st = {};
        int r;

        r = open_bus_quiet(&bus);
        if (r >= 0)
                r = sd_bus_call_method(bus, POSTERN_BUS_NAME, POSTERN_BUS_PATH, "org.freedesktop.DBus.Properties",
                                       "GetAll", &e, &reply, "s", POSTERN_BUS_INTERFACE);
        if (r >= 0)
                r = read_props(reply, &st);
        if (r >= 0)
                *ret = (struct ctl_figures) { .generation = st.generation, .applied_at = st.applied_at,
                                              .apply_usec = st.apply_usec, .set_updates = st.set_updates,
                                              .rollbacks = st.rollbacks, .rpc = st.rpc, .applied = streq(st.state ? st.state : "",
                                                                                            "applied") };
        status_clear(&st);
        return r;
}

int ctl_bus_rule_hits(struct ctl_hit **ret, size_t *ret_n) {
        _cleanup_(bus_closep) sd_bus *bus = NULL;
        _cleanup_(bus_error_freep) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ struct ctl_hit *v = NULL;
        size_t n = 0, cap = 0;
        int r;

        r = open_bus_quiet(&bus);
        if (r >= 0)
                r = sd_bus_call_method(bus, POSTERN_BUS_NAME, POSTERN_BUS_PATH, POSTERN_BUS_INTERFACE,
                                       POSTERN_BUS_METHOD_RULE_HITS, &e, &reply, "");
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(sut)");
        while (r >= 0) {
                const char *chain;
                uint32_t index;
                uint64_t last;

                r = sd_bus_message_read(reply, "(sut)", &chain, &index, &last);
                if (r <= 0)
                        break;
                if (GROW(v, cap, n + 1, CTL_HITS_MAX) < 0)
                        return -E2BIG;
                v[n] = (struct ctl_hit) { .index = index, .last_usec = last };
                snprintf(v[n].chain, sizeof(v[n].chain), "%s", chain);
                n++;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

/* Drops(t since_usec): the rows as posternd aggregated them (drops.h) */
static int read_drop_rows(sd_bus_message *reply, struct ctl_drops *d) {
        int r = sd_bus_message_enter_container(reply, 'a', "(syqttttus)");

        while (r > 0) {
                struct pst_drop_row row = {};
                const char *zone, *top;

                r = sd_bus_message_read(reply, "(syqttttus)", &zone, &row.l4proto, &row.dport, &row.count,
                                        &row.sources, &row.first_usec, &row.last_usec, &row.nprefixes, &top);
                if (r <= 0)
                        break;
                snprintf(row.zone, sizeof(row.zone), "%s", zone);
                if (pst_addr_parse(top, &row.top, NULL) < 0)
                        row.top = (struct pst_addr) {};
                if (GROW(d->v, d->cap, d->n + 1, PST_DROPS_ENTRIES_MAX) < 0)
                        return -ENOMEM;
                d->v[d->n++] = row;
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(reply);
        if (r >= 0)
                r = sd_bus_message_read(reply, "ttt", &d->total, &d->evicted, &d->lost);
        return r;
}

static int call_drops(sd_bus *bus, uint64_t since_usec, sd_bus_error *e, struct ctl_drops *ret) {
        _cleanup_(bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(bus, POSTERN_BUS_NAME, POSTERN_BUS_PATH, POSTERN_BUS_INTERFACE, POSTERN_BUS_METHOD_DROPS,
                               e, &reply, "t", since_usec);
        return r < 0 ? r : read_drop_rows(reply, ret);
}

int ctl_bus_drops(uint64_t since_usec, bool json, struct ctl_drops *ret) {
        _cleanup_(bus_closep) sd_bus *bus = NULL;
        _cleanup_(bus_error_freep) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        r = connect_bus(&bus, "drops", json);
        if (r)
                return r;
        r = call_drops(bus, since_usec, &e, ret);
        return r < 0 ? call_failed("drops", &e, r, json) : 0;
}

int ctl_bus_drops_quiet(struct ctl_drops *ret) {
        _cleanup_(bus_closep) sd_bus *bus = NULL;
        _cleanup_(bus_error_freep) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        r = open_bus_quiet(&bus);
        return r < 0 ? r : call_drops(bus, 0, &e, ret);
}
