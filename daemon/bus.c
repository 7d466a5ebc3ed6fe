/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <linux/capability.h>
#include <systemd/sd-bus.h>
#include <net/if.h>
#include <stdarg.h>
#include <stddef.h>

#include "addr.h"
#include "bus.h"
#include "drops.h"
#include "rpc.h"

#define BUS_RETRY_USEC (10 * 1000000ULL) /* reconnect after the bus went away */

/* ---- errors ---- */

/*
 * Which named error a failure is.  kind says where the manager stopped;
 * refusals of our own, before the manager ran, pass MANAGER_ERR_NONE and
 * are told apart by r.
 */
static const char *bus_error_name(enum manager_error kind, int r) {
        if (kind == MANAGER_ERR_LOCKOUT)
                return POSTERN_BUS_ERROR_LOCKOUT;
        if (r == -EPERM || r == -EACCES)
                return POSTERN_BUS_ERROR_PERMISSION_DENIED;
        switch (kind) {
        case MANAGER_ERR_POLICY:
                return POSTERN_BUS_ERROR_INVALID_POLICY;
        case MANAGER_ERR_KERNEL:
                return POSTERN_BUS_ERROR_KERNEL;
        case MANAGER_ERR_BUSY:
                return POSTERN_BUS_ERROR_BUSY;
        case MANAGER_ERR_LOCKOUT: /* above */
        case MANAGER_ERR_NONE:
                break;
        }
        if (r == -ENODEV)
                return POSTERN_BUS_ERROR_NO_SUCH_INTERFACE;
        if (r == -EINVAL)
                return SD_BUS_ERROR_INVALID_ARGS;
        return POSTERN_BUS_ERROR_KERNEL;
}

/* The one place where failures become named D-Bus errors; returns what a method handler returns. */
_printf_(4, 5) static int bus_error(sd_bus_error *error, enum manager_error kind, int r, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        r = sd_bus_error_setfv(error, bus_error_name(kind, r), format, ap);
        va_end(ap);
        return r;
}

/*
 * Methods change the firewall: root only (org.postern1.conf and the README
 * say the same).  On a bus daemon's bus sd_bus_query_sender_privilege()
 * cannot see the caller's capabilities: the bus does not convey them, and
 * reading them from /proc (SD_BUS_CREDS_AUGMENT) would be racy, which it
 * refuses.  So CAP_NET_ADMIN grants nothing there; what grants is the
 * caller's uid as the bus recorded it at connect time being ours, 0.  The
 * methods are SD_BUS_VTABLE_UNPRIVILEGED so that this check refuses, with
 * our error name, instead of sd-bus's own (CAP_SYS_ADMIN, AccessDenied).
 */
static int bus_verify_caller(sd_bus_message *msg, sd_bus_error *error) {
        const char *member = sd_bus_message_get_member(msg);
        int r;

        r = sd_bus_query_sender_privilege(msg, CAP_NET_ADMIN);
        if (r < 0)
                return bus_error(error, MANAGER_ERR_NONE, -EPERM, "cannot tell who called %s(): %s", member,
                                 strerror(-r));
        if (r == 0)
                return bus_error(error, MANAGER_ERR_NONE, -EPERM, "only root may call %s()", member);
        return 0;
}

/* ---- methods ---- */

static int method_reload(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        struct manager *m = userdata;
        enum manager_error kind = MANAGER_ERR_NONE;
        _cleanup_free_ char *text = NULL;
        int r;

        r = bus_verify_caller(msg, error);
        if (r < 0)
                return r;
        log_msg(LOG_INFO, "reload requested over D-Bus by %s", strna(sd_bus_message_get_sender(msg)));
        r = manager_reload(m, &kind, &text);
        if (r < 0)
                return bus_error(error, kind, r, "%s", text ? text : strerror(-r));
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_apply(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        struct manager *m = userdata;
        enum manager_error kind = MANAGER_ERR_NONE;
        _cleanup_free_ char *text = NULL;
        const char *path, *ssh;
        uint32_t confirm;
        int force, r;

        r = bus_verify_caller(msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "susb", &path, &confirm, &ssh, &force);
        if (r < 0)
                return r;
        if (*path && path[0] != '/')
                return bus_error(error, MANAGER_ERR_NONE, -EINVAL, "'%s' is not an absolute path", path);
        if (confirm > POSTERN_CONFIRM_MAX_SEC)
                return bus_error(error, MANAGER_ERR_NONE, -EINVAL, "confirm_seconds %" PRIu32 ": at most %u", confirm,
                                 POSTERN_CONFIRM_MAX_SEC);
        log_msg(LOG_INFO, "apply of %s requested over D-Bus by %s (confirm %" PRIu32 " s%s)", *path ? path : m->policy_path,
                strna(sd_bus_message_get_sender(msg)), confirm, force ? ", forced" : "");
        r = manager_apply(m, path, confirm, ssh, force, &kind, &text);
        if (r < 0)
                return bus_error(error, kind, r, "%s", text ? text : strerror(-r));
        return sd_bus_reply_method_return(msg, "t", m->generation);
}

static int method_confirm(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        int r;

        r = bus_verify_caller(msg, error);
        if (r < 0)
                return r;
        r = manager_confirm(userdata);
        if (r == -ENOENT)
                return bus_error(error, MANAGER_ERR_BUSY, r, "nothing to confirm: no apply with a confirmation is pending");
        if (r < 0)
                return bus_error(error, MANAGER_ERR_KERNEL, r, "%s", strerror(-r));
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_reapply(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        struct manager *m = userdata;
        char ifname[IFNAMSIZ], why[96];
        const char *arg;
        bool wild;
        int r;

        r = bus_verify_caller(msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "s", &arg);
        if (r < 0)
                return r;
        if (pst_ifname_parse(arg, ifname, &wild) < 0 || wild)
                return bus_error(error, MANAGER_ERR_NONE, -EINVAL, "'%s' is not an interface name", arg);
        snprintf(why, sizeof(why), "Reapply(%s)", ifname);
        r = manager_recheck(m, why);
        if (r < 0)
                return bus_error(error, MANAGER_ERR_KERNEL, r, "%s", m->last_error ? m->last_error : strerror(-r));
        /* after the re-read, so that the check and the update see the same kernel state */
        if (!manager_has_link(m, ifname))
                return bus_error(error, MANAGER_ERR_NONE, -ENODEV,
                                 "no interface %s (re-checked all interfaces anyway)", ifname);
        return sd_bus_reply_method_return(msg, NULL);
}

/* posternctl diff: the running ruleset, for its named sets' elements (manager_save_running()) */
static int method_save_running(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        uint32_t gen = 0;
        int r;

        r = bus_verify_caller(msg, error);
        if (r < 0)
                return r;
        r = manager_save_running(userdata, &path, &gen, &text);
        if (r == -EBUSY)
                return bus_error(error, MANAGER_ERR_BUSY, r, "%s", text ? text : strerror(-r));
        if (r < 0)
                return bus_error(error, MANAGER_ERR_KERNEL, r, "cannot save the running ruleset: %s", strerror(-r));
        return sd_bus_reply_method_return(msg, "su", path, gen);
}

/* RuleHits() -> a(sut): chain, position, last hit (hits.c) */
static int method_rule_hits(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const struct manager_hit *v;
        size_t n;
        int r;

        r = bus_verify_caller(msg, error);
        if (r < 0)
                return r;
        r = manager_hits_get(userdata, &v, &n);
        if (r < 0)
                return bus_error(error, MANAGER_ERR_KERNEL, r, "cannot read the rules' counters: %s", strerror(-r));
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(sut)");
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = sd_bus_message_append(reply, "(sut)", v[i].chain, v[i].index, v[i].last_usec);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

/* posternctl drops: what the default-drop policy dropped (drops.h) */
static int method_drops(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        struct manager *m = userdata;
        int r = bus_verify_caller(msg, error);

        return r < 0 ? r : drops_bus_method(msg, m->drops, error);
}

/* ---- properties ---- */

/*
 * Members of struct manager are read through offsetof(): sd-bus's own
 * getter (NULL below) for char * (NULL reads as "") and uint64_t, these for
 * the rest.  userdata points at the member.
 */

/* a char[] member: sd-bus's own "s" getter would take it for a char * */
static int property_get_char_array(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append_basic(reply, SD_BUS_TYPE_STRING, userdata);
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const enum manager_state *state = userdata;

        return sd_bus_message_append(reply, "s", manager_state_name(*state));
}

/* computed: userdata is the manager */
static int property_get_rules(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        struct manager *m = userdata;

        return sd_bus_message_append(reply, "t", (uint64_t) manager_nrules(m));
}

static int property_get_rollback_digest(sd_bus *bus, const char *path, const char *interface, const char *property,
                                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        struct manager *m = userdata;

        return sd_bus_message_append(reply, "s", m->previous ? m->previous->digest : "");
}

static int property_get_resyncs(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "t", manager_resyncs(userdata));
}

/* the rpc reader's counters, by property name */
static int property_get_rpc(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        struct manager *m = userdata;
        struct pst_rpc_reader_counters c;
        uint64_t sets;
        const struct {
                const char *name;
                const uint64_t *v;
        } props[] = {
                { POSTERN_BUS_PROP_RPC_SETS, &sets },       { POSTERN_BUS_PROP_RPC_PACKETS, &c.packets },
                { POSTERN_BUS_PROP_RPC_ADDED, &c.added },   { POSTERN_BUS_PROP_RPC_REFUSED, &c.refused },
                { POSTERN_BUS_PROP_RPC_SKIPPED, &c.skipped }, { POSTERN_BUS_PROP_RPC_UNPARSED, &c.unparsed },
                { POSTERN_BUS_PROP_RPC_LOST, &c.lost },     { POSTERN_BUS_PROP_RPC_LATENCY, &c.last_latency_us },
        };

        rpc_counters(m->rpc, &c, &sets);
        for (size_t i = 0; i < ELEMENTSOF(props); i++)
                if (streq(property, props[i].name))
                        return sd_bus_message_append(reply, "t", *props[i].v);
        return -ENOENT;
}

#define FIELD(member) offsetof(struct manager, member)
#define EMITS_CHANGE SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_STATE, "s", property_get_state, FIELD(state), EMITS_CHANGE),
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_POLICY_PATH, "s", NULL, FIELD(policy_path), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_POLICY_DIGEST, "s", property_get_char_array, FIELD(digest), EMITS_CHANGE),
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_GENERATION, "t", NULL, FIELD(generation), EMITS_CHANGE),
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_LAST_ERROR, "s", NULL, FIELD(last_error), EMITS_CHANGE),
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_APPLIED_AT, "t", NULL, FIELD(applied_at), EMITS_CHANGE),
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_RULES, "t", property_get_rules, 0, EMITS_CHANGE),
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_CONFIRM_DEADLINE, "t", NULL, FIELD(confirm_deadline), EMITS_CHANGE),
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_ROLLBACK_DIGEST, "s", property_get_rollback_digest, 0, EMITS_CHANGE),
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_ROLLBACKS, "t", NULL, FIELD(rollbacks), EMITS_CHANGE),
        /* counters: read on demand, no change signals */
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_LAST_EVENT, "s", property_get_char_array, FIELD(last_event), 0),
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_RECHECKS, "t", NULL, FIELD(rechecks), 0),
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_SET_UPDATES, "t", NULL, FIELD(set_updates), 0),
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_RESYNCS, "t", property_get_resyncs, 0, 0),
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_FOREIGN_DROPS, "s", NULL, FIELD(foreign), 0),
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_APPLY_USEC, "t", NULL, FIELD(apply_usec), 0),
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_RPC_SETS, "t", property_get_rpc, 0, 0),
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_RPC_PACKETS, "t", property_get_rpc, 0, 0),
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_RPC_ADDED, "t", property_get_rpc, 0, 0),
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_RPC_REFUSED, "t", property_get_rpc, 0, 0),
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_RPC_SKIPPED, "t", property_get_rpc, 0, 0),
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_RPC_UNPARSED, "t", property_get_rpc, 0, 0),
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_RPC_LOST, "t", property_get_rpc, 0, 0),
        SD_BUS_PROPERTY(POSTERN_BUS_PROP_RPC_LATENCY, "t", property_get_rpc, 0, 0),
        /* UNPRIVILEGED: bus_verify_caller() decides, see there */
        SD_BUS_METHOD_WITH_ARGS(POSTERN_BUS_METHOD_RELOAD, SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_reload,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS(POSTERN_BUS_METHOD_APPLY,
                                SD_BUS_ARGS("s", path, "u", confirm_seconds, "s", ssh_connection, "b", force),
                                SD_BUS_RESULT("t", generation), method_apply, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS(POSTERN_BUS_METHOD_CONFIRM, SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_confirm,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS(POSTERN_BUS_METHOD_REAPPLY, SD_BUS_ARGS("s", ifname), SD_BUS_NO_RESULT,
                                method_reapply, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS(POSTERN_BUS_METHOD_SAVE_RUNNING, SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("s", path, "u", generation), method_save_running,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS(POSTERN_BUS_METHOD_RULE_HITS, SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a(sut)", hits), method_rule_hits, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS(POSTERN_BUS_METHOD_DROPS, SD_BUS_ARGS("t", since_usec),
                                SD_BUS_RESULT("a(syqttttus)", rows, "t", total, "t", evicted, "t", lost),
                                method_drops, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS(POSTERN_BUS_SIGNAL_APPLIED, SD_BUS_ARGS("t", generation, "s", digest), 0),
        SD_BUS_SIGNAL_WITH_ARGS(POSTERN_BUS_SIGNAL_ROLLED_BACK, SD_BUS_ARGS("t", generation, "s", digest), 0),
        SD_BUS_VTABLE_END,
};

/* ---- hints ---- */

/* networkd: PropertiesChanged("org.freedesktop.network1.Link", {...}, [...]) on .../link/_3N */
static int on_networkd_link(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        struct manager *m = userdata;
        _cleanup_free_ char *ifindex = NULL;
        char what[160] = "";
        size_t len = 0;
        const char *iface;

        if (sd_bus_message_read(msg, "s", &iface) < 0 || !streq(iface, "org.freedesktop.network1.Link"))
                return 0;
        (void) sd_bus_path_decode(sd_bus_message_get_path(msg), "/org/freedesktop/network1/link", &ifindex);
        if (sd_bus_message_enter_container(msg, 'a', "{sv}") > 0) {
                for (int i = 0; i < 16 && sd_bus_message_enter_container(msg, 'e', "sv") > 0; i++) {
                        const char *key, *val = NULL;

                        if (sd_bus_message_read(msg, "s", &key) < 0)
                                break;
                        if (sd_bus_message_enter_container(msg, 'v', "s") > 0) {
                                (void) sd_bus_message_read(msg, "s", &val);
                                (void) sd_bus_message_exit_container(msg);
                        } else
                                (void) sd_bus_message_skip(msg, "v");
                        if (len < sizeof(what))
                                len += (size_t) snprintf(what + len, sizeof(what) - len, "%s%s=%s", len ? " " : "",
                                                         key, val ? val : "...");
                        (void) sd_bus_message_exit_container(msg);
                }
        }
        char why[200];

        log_struct(LOG_INFO, "HINT=networkd\nIFINDEX=%s\nMESSAGE=hint from systemd-networkd: link %s %s: re-check",
                   strna(ifindex), strna(ifindex), what);
        snprintf(why, sizeof(why), "networkd link %s: %s", strna(ifindex), what);
        manager_hint(m, why);
        return 0;
}

/* NetworkManager: Device.StateChanged(u new, u old, u reason), and the manager's StateChanged(u) */
static int on_nm_state(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        struct manager *m = userdata;
        const char *path = sd_bus_message_get_path(msg);
        uint32_t new_state = 0, old_state = 0, reason = 0;

        if (sd_bus_message_has_signature(msg, "uuu"))
                (void) sd_bus_message_read(msg, "uuu", &new_state, &old_state, &reason);
        else
                (void) sd_bus_message_read(msg, "u", &new_state);
        char why[200];

        log_struct(LOG_INFO, "HINT=NetworkManager\nMESSAGE=hint from NetworkManager: %s state %u -> %u (reason %u): re-check",
                   strna(path), old_state, new_state, reason);
        snprintf(why, sizeof(why), "NetworkManager %s: state %u", strna(path), new_state);
        manager_hint(m, why);
        return 0;
}

static int match_installed(sd_bus_message *reply, const char *who) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        if (e)
                log_msg(LOG_WARNING, "cannot watch %s signals: %s, ignoring", who, e->message);
        return 0;
}

static int on_networkd_match(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return match_installed(reply, "systemd-networkd");
}

static int on_nm_match(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return match_installed(reply, "NetworkManager");
}

/* ---- connection ---- */

struct bus_face {
        struct manager *m;
        sd_event *event;
        sd_bus *bus;            /* NULL while there is none */
        sd_event_source *retry; /* reconnect after the bus went away */
};

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata);

static int on_disconnected(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        struct bus_face *f = userdata;

        log_msg(LOG_WARNING, "lost the system bus; running on without it and reconnecting every %llu s",
                (unsigned long long) (BUS_RETRY_USEC / 1000000));
        f->bus = sd_bus_flush_close_unref(f->bus);
        if (!f->retry)
                (void) sd_event_add_time_relative(f->event, &f->retry, CLOCK_MONOTONIC, BUS_RETRY_USEC, 0, on_retry, f);
        else {
                (void) sd_event_source_set_time_relative(f->retry, BUS_RETRY_USEC);
                (void) sd_event_source_set_enabled(f->retry, SD_EVENT_ONESHOT);
        }
        return 0;
}

/* The hints, filtered on the services' well-known names (the bus resolves
 * them): anybody else's look-alike signals never reach us. */
static int add_hint_matches(sd_bus *bus, struct manager *m) {
        int r;

        r = sd_bus_add_match_async(bus, NULL,
                                   "type='signal',sender='org.freedesktop.network1',"
                                   "interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
                                   "path_namespace='/org/freedesktop/network1/link',"
                                   "arg0='org.freedesktop.network1.Link'",
                                   on_networkd_link, on_networkd_match, m);
        if (r >= 0)
                r = sd_bus_match_signal_async(bus, NULL, "org.freedesktop.NetworkManager", NULL,
                                              "org.freedesktop.NetworkManager.Device", "StateChanged", on_nm_state,
                                              on_nm_match, m);
        if (r >= 0)
                r = sd_bus_match_signal_async(bus, NULL, "org.freedesktop.NetworkManager",
                                              "/org/freedesktop/NetworkManager", "org.freedesktop.NetworkManager",
                                              "StateChanged", on_nm_state, on_nm_match, m);
        return r;
}

static int bus_connect(struct bus_face *f) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_bus_open_system_with_description(&bus, "posternd");
        if (r < 0)
                return r;
        r = sd_bus_attach_event(bus, f->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        /* 1. the object: properties are read from the manager itself (offsetof) */
        r = sd_bus_add_object_vtable(bus, NULL, POSTERN_BUS_PATH, POSTERN_BUS_INTERFACE, manager_vtable, f->m);
        if (r < 0)
                return r;
        r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus.Local", NULL, "org.freedesktop.DBus.Local",
                                "Disconnected", on_disconnected, f);
        if (r < 0)
                return r;
        /* 2. the hints */
        r = add_hint_matches(bus, f->m);
        if (r < 0)
                return r;
        f->bus = TAKE_PTR(bus);
        /* 3. the name, last: callers find a complete object */
        r = sd_bus_request_name(f->bus, POSTERN_BUS_NAME, 0);
        if (r < 0)
                log_msg(LOG_WARNING, "cannot own %s on the system bus: %s; running on without it", POSTERN_BUS_NAME,
                        strerror(-r));
        return 0;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        struct bus_face *f = userdata;

        if (bus_connect(f) >= 0) {
                log_msg(LOG_INFO, "connected to the system bus again");
                return 0;
        }
        (void) sd_event_source_set_time_relative(s, BUS_RETRY_USEC);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* Applied(t generation, s digest) + PropertiesChanged */
static void emit_applied(void *userdata) {
        struct bus_face *f = userdata;
        struct manager *m = f->m;

        if (!f->bus)
                return;
        (void) sd_bus_emit_signal(f->bus, POSTERN_BUS_PATH, POSTERN_BUS_INTERFACE, POSTERN_BUS_SIGNAL_APPLIED, "ts",
                                  m->generation, m->digest);
        (void) sd_bus_emit_properties_changed(f->bus, POSTERN_BUS_PATH, POSTERN_BUS_INTERFACE, POSTERN_BUS_PROP_STATE,
                                              POSTERN_BUS_PROP_POLICY_DIGEST, POSTERN_BUS_PROP_GENERATION,
                                              POSTERN_BUS_PROP_LAST_ERROR, POSTERN_BUS_PROP_APPLIED_AT,
                                              POSTERN_BUS_PROP_RULES, POSTERN_BUS_PROP_CONFIRM_DEADLINE,
                                              POSTERN_BUS_PROP_ROLLBACK_DIGEST, POSTERN_BUS_PROP_ROLLBACKS, NULL);
}

/* RolledBack(t generation, s digest); Applied came first */
static void emit_rolled_back(void *userdata) {
        struct bus_face *f = userdata;

        if (f->bus)
                (void) sd_bus_emit_signal(f->bus, POSTERN_BUS_PATH, POSTERN_BUS_INTERFACE,
                                          POSTERN_BUS_SIGNAL_ROLLED_BACK, "ts", f->m->generation, f->m->digest);
}

/* PropertiesChanged for what changes without an apply (a reload failed, a confirmation came) */
static void emit_state_changed(void *userdata) {
        struct bus_face *f = userdata;

        if (!f->bus)
                return;
        (void) sd_bus_emit_properties_changed(f->bus, POSTERN_BUS_PATH, POSTERN_BUS_INTERFACE, POSTERN_BUS_PROP_STATE,
                                              POSTERN_BUS_PROP_LAST_ERROR, POSTERN_BUS_PROP_CONFIRM_DEADLINE,
                                              POSTERN_BUS_PROP_ROLLBACK_DIGEST, NULL);
}

static const struct manager_observer bus_observer = {
        .applied = emit_applied,
        .state_changed = emit_state_changed,
        .rolled_back = emit_rolled_back,
};

int bus_face_new(struct manager *m, sd_event *event, struct bus_face **ret) {
        struct bus_face *f = calloc(1, sizeof(*f));
        int r;

        if (!f)
                return -ENOMEM;
        f->m = m;
        f->event = sd_event_ref(event);
        r = bus_connect(f);
        if (r < 0)
                log_msg(LOG_WARNING, "no system bus (%s): running without D-Bus; rtnetlink events still apply",
                        strerror(-r));
        manager_set_observer(m, &bus_observer, f);
        *ret = f;
        return 0;
}

struct bus_face *bus_face_free(struct bus_face *f) {
        if (!f)
                return NULL;
        manager_set_observer(f->m, NULL, NULL);
        sd_event_source_disable_unref(f->retry);
        sd_bus_flush_close_unref(f->bus);
        sd_event_unref(f->event);
        free(f);
        return NULL;
}
