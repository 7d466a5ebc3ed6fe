/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * posternctl — check, compile, apply, diff and show postern policies.
 *
 * Exit status (help() and the README say the same): 0 success (diff: no
 * difference), 1 the policy is refused — invalid, or it would cut the
 * caller's SSH connection (diff: the live table differs), 2 a system or
 * kernel error, 3 posternd is not running, 4 a usage error.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "config.h"
#include "backend.h"
#include "bus-api.h"
#include "ctl-bus.h"
#include "ctl-diff.h"
#include "ctl-stats.h"
#include "ctl-drops.h"
#include "dropreport.h"
#include "ifaddr.h"
#include "json.h"
#include "lockout.h"
#include "kernel-features.h"
#include "pipeline.h"
#include "presence.h"
#include "show.h"

enum {
        EXIT_POLICY = 1,
        EXIT_SYSTEM = 2,
        EXIT_USAGE = 4,
};


struct ctl {
        bool json;
        bool offline;
        const char *catalog;
        struct pst_ifaddrs ifaddrs; /* from --ifaddr */
        struct pst_catalog cat;
        struct pst_diag diag;
        bool have_backend;          /* --backend given: overrides the policy's options.backend */
        enum pst_backend_kind backend;
        bool applied_iptables;
        uint32_t confirm_sec;       /* apply --confirm=SECONDS */
        bool force;                 /* apply --force: even if it cuts the caller's SSH connection */
        bool version;               /* --version: shown once every option is read (--json may follow) */
        bool nft;                   /* diff --nft */
        uint64_t since_usec;        /* drops --since DURATION; 0: all */
};

static void help(void) {
        printf("Usage: posternctl [OPTIONS] VERB [ARGS]\n"
               "\n"
               "Check, compile and install postern firewall policies.\n"
               "\n"
               "Verbs:\n"
               "  check [FILE]      validate a policy and the catalog; print FILE:LINE errors\n"
               "  compile [FILE]    print the ruleset FILE would install, as nft syntax\n"
               "  apply [FILE]      install FILE atomically: through posternd when it runs (FILE\n"
               "                    then becomes its running ruleset until the next reload), else once\n"
               "  confirm           keep what 'apply --confirm' installed (else it rolls back)\n"
               "  diff [FILE]       compare the live table with what FILE would install\n"
               "                    (exit 0: same, 1: different): what becomes allowed (+) and\n"
               "                    blocked (-), and the tracked connections it would cut\n"
               "  show              print the live table, with counters\n"
               "  services          list the service catalog\n"
               "  status            show the daemon's state, policy digest, generation, last error\n"
               "  stats [FILE]      per-rule packet and byte counters, mapped to the policy's rules\n"
               "  metrics [FILE]    the same and posternd's figures, Prometheus text format\n"
               "  reload            ask posternd to reload its policy\n"
               "  reapply IFACE     ask posternd to re-check IFACE's addresses (ppp ip-up hooks)\n"
               "  drops             what the default policy dropped (options.log_drops), with what\n"
               "                    listens on those ports and the rule that would allow it\n"
               "\n"
               "Options:\n"
               "  --catalog FILE    service catalog (default: %s,\n"
               "                    or $POSTERN_CATALOG; plus services.d/)\n"
               "  --ifaddr IF=ADDR  take ADDR as an address of interface IF (repeatable)\n"
               "  --offline         do not read interface addresses from the kernel\n"
               "  --backend B       compile / apply: nftables, iptables or auto (nf_tables when the\n"
               "                    kernel has it, else iptables); default: the policy's options.backend\n"
               "  --confirm=SECONDS apply: roll back to the previous ruleset unless 'posternctl\n"
               "                    confirm' comes within SECONDS (needs posternd; at most 86400)\n"
               "  --force           apply: even if the new ruleset would not accept the SSH\n"
               "                    connection posternctl runs in ($SSH_CONNECTION)\n"
               "  --since DURATION  drops: only those last seen within DURATION (90s, 15m, 2h, 7d)\n"
               "  --nft             diff: a unified diff of the nft listings and +/- set elements\n"
               "                    instead of the policy's words\n"
               "  --json            machine-readable output\n"
               "  -h, --help        show this help\n"
               "  --version         show the version, the backends built and what the kernel offers\n"
               "\n"
               "FILE defaults to %s.\n"
               "\n"
               "Exit status: 0 success, 1 policy refused (invalid, or it would cut your SSH\n"
               "connection; diff: differences), 2 system or kernel error, 3 posternd is not running\n"
               "(status, reload, reapply, confirm, drops), 4 usage error.\n",
               POSTERN_CATALOG, POSTERN_POLICY);
}

static void print_diag(struct ctl *c, FILE *f) {
        if (c->json)
                ctl_print_failure(f, &c->diag, NULL);
        else
                pst_diag_print(&c->diag, stderr);
}

/* A usage error: text on stderr, or with --json the failure shape on stdout. */
_printf_(2, 3) static int usage_error(struct ctl *c, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                return EXIT_USAGE;
        if (c->json) {
                pst_error(&c->diag, -EINVAL, NULL, 0, "%s", msg);
                print_diag(c, stdout);
        } else
                fprintf(stderr, "%s\n", msg);
        return EXIT_USAGE;
}

/* Warnings go to stderr even on success. */
static void print_warnings(struct ctl *c) {
        if (!c->json && c->diag.n)
                pst_diag_print(&c->diag, stderr);
}

static int fail(struct ctl *c, int code) {
        print_diag(c, stdout);
        return code;
}

/* Read interface addresses (unless --offline), add --ifaddr's, then the
 * pipeline.  Returns an exit code. */
static int load_compile(struct ctl *c, const char *path, struct pst_compiled **ret) {
        struct pst_ifaddrs ifa = {};
        int r;

        if (!c->offline) {
                r = pst_ifaddrs_dump(&ifa);
                if (r < 0) {
                        pst_ifaddrs_clear(&ifa);
                        pst_error(&c->diag, r, NULL, 0, "cannot read interface addresses: %s", strerror(-r));
                        return EXIT_SYSTEM;
                }
        }
        for (size_t i = 0; i < c->ifaddrs.n; i++) {
                r = pst_ifaddrs_add(&ifa, c->ifaddrs.v[i].ifname, &c->ifaddrs.v[i].addr);
                if (r < 0) {
                        pst_ifaddrs_clear(&ifa);
                        return EXIT_SYSTEM;
                }
        }
        /* what options.rpc_mechanism = "auto" becomes: the kernel's offer, asked only for a
         * policy with an rpc rule (--offline: none, NFLOG) */
        r = pst_load_compile(&(struct pst_load_opts) { .policy = path, .catalog = c->catalog, .ifaddrs = &ifa,
                                                       .source_flags = pst_source_flags_from_env(),
                                                       .rpc_probe = !c->offline },
                             &c->diag, ret);
        pst_ifaddrs_clear(&ifa);
        return r < 0 ? EXIT_POLICY : 0;
}

static size_t count_elements(const struct pst_ruleset *rs) {
        size_t n = 0;

        for (size_t i = 0; i < rs->nsets; i++)
                n += rs->sets[i].n;
        return n;
}

static void print_summary(struct ctl *c, const char *verb, const struct pst_compiled *pc, uint64_t usec) {
        const struct pst_ruleset *rs = pc->ruleset;
        const char *digest = pc->digest;
        size_t named = 0;

        for (size_t i = 0; i < rs->nsets; i++)
                named += !(rs->sets[i].flags & PST_SET_ANON);
        if (c->json) {
                struct pst_json j;

                pst_json_init(&j, stdout);
                pst_json_begin_object(&j, NULL);
                pst_json_bool(&j, "ok", true);
                pst_json_string(&j, "policy", pc->policy->path);
                pst_json_string(&j, "digest", digest);
                pst_json_int(&j, "chains", (long long) rs->nchains);
                pst_json_int(&j, "rules", (long long) pst_ruleset_nrules(rs));
                pst_json_int(&j, "sets", (long long) named);
                pst_json_int(&j, "elements", (long long) count_elements(rs));
                pst_json_string(&j, "forward", pc->policy->options.forward_unmanaged ? "unmanaged" : "managed");
                if (usec)
                        pst_json_int(&j, "usec", (long long) usec);
                pst_json_begin_array(&j, "warnings");
                for (size_t i = 0; i < c->diag.n; i++)
                        pst_json_string(&j, NULL, c->diag.items[i].msg);
                pst_json_end_array(&j);
                pst_json_end_object(&j);
                return;
        }
        print_warnings(c);
        printf("%s: %s %s (digest %s): %zu chains, %zu rules, %zu sets, %zu elements", pc->policy->path, verb,
               verb[0] != 'a'           ? "ok"
               : !c->applied_iptables   ? "table inet postern"
               : pc->policy->nnat       ? "the iptables filter and nat tables"
                                        : "the iptables filter tables",
               digest, rs->nchains, pst_ruleset_nrules(rs), named, count_elements(rs));
        if (usec)
                printf(", %.3f ms", (double) usec / 1000.0);
        if (pc->policy->options.forward_unmanaged)
                printf("; forwarding unmanaged (no forward chain)");
        printf("\n");
}

static int cmd_check(struct ctl *c, char **args) {
        _cleanup_(pst_compiled_freep) struct pst_compiled *pc = NULL;
        int r;

        c->offline = true; /* check is about the policy, not this host */
        r = load_compile(c, args[0], &pc);
        if (r)
                return fail(c, r);
        print_summary(c, "policy", pc, 0);
        return 0;
}

/* The backend --backend or the policy asks for (AUTO left as it is). */
static enum pst_backend_kind wanted_backend(const struct ctl *c, const struct pst_policy *p) {
        return c->have_backend ? c->backend : p->options.backend;
}

/* A render failure: the build or the system (EXIT_SYSTEM), else the policy. */
static int render_failed(struct ctl *c, int r) {
        return fail(c, r == -EOPNOTSUPP || r == -ENOMEM || r == -EIO ? EXIT_SYSTEM : EXIT_POLICY);
}

/* compile: nft text, or with --backend iptables iptables-save text of both families */
static int cmd_compile(struct ctl *c, char **args) {
        _cleanup_(pst_compiled_freep) struct pst_compiled *pc = NULL;
        _cleanup_free_ char *text = NULL;
        enum pst_backend_kind kind;
        struct pst_json j;
        size_t len = 0;
        FILE *m;
        int r;

        r = load_compile(c, args[0], &pc);
        if (r)
                return fail(c, r);
        kind = wanted_backend(c, pc->policy);
        if (!c->json) {
                print_warnings(c);
                r = pst_backend_render(kind, pc->ruleset, stdout, &c->diag);
                return r < 0 ? render_failed(c, r) : 0;
        }
        m = open_memstream(&text, &len);
        if (!m)
                return EXIT_SYSTEM;
        r = pst_backend_render(kind, pc->ruleset, m, &c->diag);
        fclose(m);
        if (r < 0)
                return render_failed(c, r);
        pst_json_init(&j, stdout);
        pst_json_begin_object(&j, NULL);
        pst_json_bool(&j, "ok", true);
        pst_json_string(&j, kind == PST_BACKEND_IPTABLES ? "iptables" : "nft", text);
        pst_json_end_object(&j);
        return 0;
}

/* Install rs once, through the backend kind, without owning it (backend.h). */
static int apply_ruleset(struct ctl *c, enum pst_backend_kind kind, const struct pst_ruleset *rs) {
        _cleanup_(pst_backend_closep) struct pst_backend *b = NULL;
        int r;

        r = pst_backend_open(kind, &c->diag, &b);
        if (r < 0)
                return r;
        c->applied_iptables = pst_backend_kind(b) == PST_BACKEND_IPTABLES;
        return pst_backend_apply(b, rs, &c->diag);
}

#define ANCESTORS_MAX 32          /* how far up the process tree $SSH_CONNECTION is looked for */
#define ENVIRON_MAX (256 * 1024)  /* bytes of one ancestor's environment read */

/* NAME=value in /proc/PID/environ (the environment PID started with) into buf; false if absent. */
static bool environ_lookup(pid_t pid, const char *name, char *buf, size_t n) {
        _cleanup_free_ char *env = malloc(ENVIRON_MAX);
        _cleanup_close_ int fd = -EBADF;
        char path[64];
        size_t len = 0, nl = strlen(name);
        ssize_t k;

        snprintf(path, sizeof(path), "/proc/%d/environ", (int) pid);
        if (!env || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
                return false;
        while (len < ENVIRON_MAX - 1 && (k = read(fd, env + len, ENVIRON_MAX - 1 - len)) > 0)
                len += (size_t) k;
        env[len] = 0;
        for (char *e = env; e < env + len; e += strlen(e) + 1)
                if (strncmp(e, name, nl) == 0 && e[nl] == '=') {
                        snprintf(buf, n, "%s", e + nl + 1);
                        return true;
                }
        return false;
}

/* PID's parent, from /proc/PID/stat ("PID (COMM) STATE PPID ..."; COMM may hold anything); 0 if unknown. */
static pid_t parent_of(pid_t pid) {
        _cleanup_fclose_ FILE *f = NULL;
        char path[64], line[1024], *p;
        int ppid;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        f = fopen(path, "re");
        if (!f || !fgets(line, sizeof(line), f) || !(p = strrchr(line, ')')) || sscanf(p + 1, " %*c %d", &ppid) != 1)
                return 0;
        return (pid_t) ppid;
}

/*
 * The SSH connection we run over: $SSH_CONNECTION, or — unset, as sudo's
 * env_reset leaves it — the value in the environment the nearest ancestor
 * started with (sudo itself, the login shell sshd started).  NULL: not over SSH.
 */
static const char *ssh_connection(char *buf, size_t n) {
        const char *e = getenv("SSH_CONNECTION");
        pid_t pid = getppid();

        if (e)
                return e;
        for (int i = 0; i < ANCESTORS_MAX && pid > 1; i++, pid = parent_of(pid))
                if (environ_lookup(pid, "SSH_CONNECTION", buf, n))
                        return buf;
        return NULL;
}

/* apply with posternd running: it compiles and applies (and keeps the
 * confirmation timer); FILE must name the same file from its "/" */
static int apply_through_daemon(struct ctl *c, const char *path) {
        _cleanup_free_ char *abs = NULL;
        char buf[256];
        const char *ssh = ssh_connection(buf, sizeof(buf));
        int r;

        if (path) {
                abs = realpath(path, NULL);
                if (!abs) {
                        pst_error(&c->diag, -errno, path, 0, "%s", strerror(errno));
                        return fail(c, EXIT_POLICY);
                }
        }
        r = ctl_bus_apply(abs ? abs : "", c->confirm_sec, ssh ? ssh : "", c->force, c->json);
        if (r == CTL_EXIT_NO_DAEMON && !c->json)
                fprintf(stderr, "posternctl apply: but a posternd holds this network namespace (presence.h): it runs "
                        "without D-Bus (--no-bus?); change its policy and send it SIGHUP\n");
        return r;
}

static int cmd_apply(struct ctl *c, char **args) {
        _cleanup_(pst_compiled_freep) struct pst_compiled *pc = NULL;
        uint64_t t0 = now_usec();
        char ssh[256];
        int r;

        /* the daemon would put its own ruleset back at once: ask it (presence.h) */
        if (presence_check() > 0)
                return apply_through_daemon(c, args[0]);
        if (c->confirm_sec) {
                pst_error(&c->diag, -ENOTCONN, NULL, 0,
                          "--confirm needs posternd: its timer must outlive this terminal and your SSH session; "
                          "start postern.service, or apply without --confirm");
                return fail(c, EXIT_SYSTEM);
        }
        r = load_compile(c, args[0] ? args[0] : POSTERN_POLICY, &pc); /* apply has no default: see above */
        if (r)
                return fail(c, r);
        /* sshd tells us where we are logged in from: do not cut that off (lockout.h) */
        if (!c->force && pst_lockout_check(pc->ruleset, NULL, ssh_connection(ssh, sizeof(ssh)), NULL,
                                           "use --force to apply it anyway", &c->diag) < 0)
                return fail(c, EXIT_POLICY);
        r = apply_ruleset(c, wanted_backend(c, pc->policy), pc->ruleset);
        if (r < 0) {
                if (!pst_diag_has_errors(&c->diag))
                        pst_error(&c->diag, r, NULL, 0, "cannot apply: %s", strerror(-r));
                return fail(c, EXIT_SYSTEM);
        }
        print_summary(c, "applied", pc, now_usec() - t0);
        return 0;
}

static int cmd_confirm(struct ctl *c, char **args) {
        return ctl_bus_confirm(c->json);
}

/* The comparison itself lives in ctl-diff.c; here only the exit codes. */
static int cmd_diff(struct ctl *c, char **args) {
        _cleanup_(pst_compiled_freep) struct pst_compiled *pc = NULL;
        int r;

        r = load_compile(c, args[0], &pc);
        if (r)
                return fail(c, r);
        fflush(stdout);
        r = ctl_diff(pc->ruleset,
                     &(struct ctl_diff_opts) { .label = args[0], .json = c->json, .nft = c->nft,
                                               .policy = pc->policy, .catalog = pc->catalog },
                     &c->diag);
        if (r < 0)
                return fail(c, EXIT_SYSTEM);
        print_warnings(c);
        return r;
}

static int cmd_show(struct ctl *c, char **args) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = pst_show_table(PST_TABLE, c->json ? PST_SHOW_JSON : 0, &c->diag, &text);
        if (r < 0)
                return fail(c, EXIT_SYSTEM);
        fputs(text, stdout);
        return 0;
}

static void format_ports(FILE *f, const char *proto, const struct pst_portrange *v, size_t n, bool *first) {
        for (size_t i = 0; i < n; i++) {
                fprintf(f, "%s%s/%u", *first ? "" : " ", proto, v[i].first);
                if (v[i].last != v[i].first)
                        fprintf(f, "-%u", v[i].last);
                *first = false;
        }
}

static void format_u8s(FILE *f, const char *proto, const uint8_t *v, size_t n, bool v6, bool *first) {
        for (size_t i = 0; i < n; i++) {
                const char *name = streq(proto, "proto") ? pst_proto_name(v[i]) : pst_icmp_name(v[i], v6);

                if (name)
                        fprintf(f, "%s%s/%s", *first ? "" : " ", proto, name);
                else
                        fprintf(f, "%s%s/%u", *first ? "" : " ", proto, v[i]);
                *first = false;
        }
}

static char *service_summary(const struct pst_service *s) {
        char *text = NULL;
        size_t len = 0;
        bool first = true;
        FILE *f = open_memstream(&text, &len);

        if (!f)
                return NULL;
        format_ports(f, "tcp", s->tcp, s->ntcp, &first);
        format_ports(f, "udp", s->udp, s->nudp, &first);
        format_u8s(f, "proto", s->proto, s->nproto, false, &first);
        format_u8s(f, "icmp", s->icmp, s->nicmp, false, &first);
        format_u8s(f, "icmpv6", s->icmp6, s->nicmp6, true, &first);
        fclose(f);
        return text;
}

static int cmd_services(struct ctl *c, char **args) {
        struct pst_json j;

        if (pst_catalog_load_default(&c->cat, c->catalog, pst_source_flags_from_env(), &c->diag) < 0)
                return fail(c, EXIT_POLICY);
        if (c->json) {
                pst_json_init(&j, stdout);
                pst_json_begin_array(&j, NULL);
        } else
                printf("%-20s %-32s %s\n", "SERVICE", "ALLOWS", "DESCRIPTION");
        for (size_t i = 0; i < c->cat.n; i++) {
                const struct pst_service *s = c->cat.v[i];
                _cleanup_free_ char *sum = service_summary(s);

                if (!sum)
                        return EXIT_SYSTEM;
                if (c->json) {
                        pst_json_begin_object(&j, NULL);
                        pst_json_string(&j, "name", s->name);
                        pst_json_string(&j, "allows", sum);
                        pst_json_string(&j, "description", s->description);
                        pst_json_string(&j, "source", s->source);
                        pst_json_string(&j, "file", s->loc.file);
                        pst_json_int(&j, "line", s->loc.line);
                        pst_json_end_object(&j);
                } else
                        printf("%-20s %-32s %s\n", s->name, sum, s->description ? s->description : "");
        }
        if (c->json)
                pst_json_end_array(&j);
        return 0;
}

static int parse_ifaddr(struct ctl *c, const char *arg) {
        const char *eq = strchr(arg, '=');
        char ifname[IFNAMSIZ], name[IFNAMSIZ];
        struct pst_addr a;
        bool wild;

        if (!eq || (size_t) (eq - arg) >= IFNAMSIZ)
                return -usage_error(c, "posternctl: --ifaddr '%s': expected IFNAME=ADDRESS", arg);
        snprintf(name, sizeof(name), "%.*s", (int) (eq - arg), arg);
        if (pst_ifname_parse(name, ifname, &wild) < 0 || wild ||
            pst_addr_parse(eq + 1, &a, NULL) < 0 || a.prefixlen != pst_addr_len(a.family) * 8)
                return -usage_error(c, "posternctl: --ifaddr '%s': expected IFNAME=ADDRESS with one host address", arg);
        return pst_ifaddrs_add(&c->ifaddrs, ifname, &a);
}

/* The daemon's state, then what this kernel offers (probed here, not by
 * the daemon: the probe changes nothing, and a user without CAP_NET_ADMIN
 * is told it needs it). */
static int cmd_status(struct ctl *c, char **args) {
        struct pst_features kf;

        if (pst_features_probe(&kf) < 0)
                return ctl_bus_status(c->json, NULL);
        return ctl_bus_status(c->json, &kf);
}

/* What maps the kernel's rules back to policy rules: posternd's running
 * ruleset, else the policy FILE compiled here. */
static int stats_ruleset(struct ctl *c, const char *path, struct pst_ruleset **ret_run, struct pst_compiled **ret_pc) {
        if (ctl_running_ruleset(ret_run, NULL, NULL) >= 0)
                return 0;
        return load_compile(c, path, ret_pc);
}

static int stats_or_metrics(struct ctl *c, const char *path, bool metrics) {
        _cleanup_(pst_ruleset_freep) struct pst_ruleset *run = NULL;
        _cleanup_(pst_compiled_freep) struct pst_compiled *pc = NULL;
        const struct pst_ruleset *rs;
        int r = stats_ruleset(c, path, &run, &pc);

        if (r)
                return fail(c, r);
        rs = run ? run : pc->ruleset;
        return metrics ? ctl_metrics(rs, stdout) : ctl_stats(rs, c->json);
}

static int cmd_stats(struct ctl *c, char **args) {
        return stats_or_metrics(c, args[0], false);
}

static int cmd_metrics(struct ctl *c, char **args) {
        return stats_or_metrics(c, args[0], true);
}

static int cmd_reload(struct ctl *c, char **args) {
        return ctl_bus_reload(c->json);
}

static int cmd_reapply(struct ctl *c, char **args) {
        return ctl_bus_reapply(args[0], c->json);
}

static int cmd_drops(struct ctl *c, char **args) {
        bool cat = pst_catalog_load_default(&c->cat, c->catalog, pst_source_flags_from_env(), &c->diag) >= 0;

        if (!cat) /* the report goes on without service names */
                pst_diag_print(&c->diag, stderr);
        return ctl_drops(c->json, c->since_usec, cat ? &c->cat : NULL);
}

/* The verbs, as systemd's dispatch_verb() keeps them: one table. */
static const struct verb {
        const char *name;
        int min, max;      /* arguments; the rest of args[] up to max is NULL */
        bool policy;       /* args[0] is a policy FILE: POSTERN_POLICY when not given */
        const char *usage; /* what they are, for the error when the count is wrong */
        int (*run)(struct ctl *c, char **args);
} verbs[] = {
        { "check", 0, 1, true, "at most one policy FILE", cmd_check },
        { "compile", 0, 1, true, "at most one policy FILE", cmd_compile },
        { "apply", 0, 1, false, "at most one policy FILE", cmd_apply },
        { "confirm", 0, 0, false, "no arguments", cmd_confirm },
        { "diff", 0, 1, true, "at most one policy FILE", cmd_diff },
        { "show", 0, 0, false, "no arguments", cmd_show },
        { "services", 0, 0, false, "no arguments", cmd_services },
        { "status", 0, 0, false, "no arguments", cmd_status },
        { "stats", 0, 1, true, "at most one policy FILE", cmd_stats },
        { "metrics", 0, 1, true, "at most one policy FILE", cmd_metrics },
        { "reload", 0, 0, false, "no arguments", cmd_reload },
        { "reapply", 1, 1, false, "one interface name", cmd_reapply },
        { "drops", 0, 0, false, "no arguments", cmd_drops },
};

static int dispatch_verb(struct ctl *c, int argc, char **argv) {
        const char *name = argv[0];

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (!streq(name, verbs[i].name))
                        continue;
                char *args[2] = {};

                if (argc - 1 < verbs[i].min || argc - 1 > verbs[i].max)
                        return usage_error(c, "posternctl %s: expected %s", name, verbs[i].usage);
                if (c->confirm_sec && !streq(name, "apply"))
                        return usage_error(c, "posternctl %s: --confirm is for apply", name);
                for (int k = 0; k < argc - 1; k++)
                        args[k] = argv[k + 1];
                if (verbs[i].policy && !args[0])
                        args[0] = (char *) POSTERN_POLICY;
                return verbs[i].run(c, args);
        }
        return usage_error(c, "posternctl: unknown verb '%s'. Try 'posternctl --help'.", name);
}

/* --confirm=SECONDS: 1..POSTERN_CONFIRM_MAX_SEC */
static int parse_confirm(struct ctl *c, const char *arg) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(arg, &end, 10);
        if (errno || end == arg || *end || arg[0] == '-' || v == 0 || v > POSTERN_CONFIRM_MAX_SEC) {
                return -usage_error(c, "posternctl: --confirm=%s: expected a number of seconds, 1 to %u", arg,
                                    POSTERN_CONFIRM_MAX_SEC);
        }
        c->confirm_sec = (uint32_t) v;
        return 0;
}

/* drops --since DURATION */
static int parse_since(struct ctl *c, const char *arg) {
        if (pst_duration_parse(arg, &c->since_usec) < 0 || c->since_usec == 0)
                return -usage_error(c, "posternctl: --since '%s': expected a duration such as 90s, 15m, 2h or 7d "
                                    "(at most a year)", arg);
        return 0;
}

/* --version [--json]: version, backends built, and the kernel probed
 * (kernel-features.h; README "Supported kernels"). */
static int show_version(struct ctl *c) {
        static const char *const backends[] = { "nftables", HAVE_IPTC ? "iptables" : NULL };
        struct pst_features kf;
        struct pst_json j;
        int r;

        r = pst_features_probe(&kf);
        if (r < 0) {
                fprintf(stderr, "posternctl: uname: %s\n", strerror(-r));
                return EXIT_SYSTEM;
        }
        if (!c->json) {
                printf("posternctl %s (backends:", PACKAGE_VERSION);
                for (size_t i = 0; i < ELEMENTSOF(backends) && backends[i]; i++)
                        printf(" %s", backends[i]);
                printf(")\n");
                pst_features_print(&kf, stdout);
                return 0;
        }
        pst_json_init(&j, stdout);
        pst_json_begin_object(&j, NULL);
        pst_json_bool(&j, "ok", true);
        pst_json_string(&j, "version", PACKAGE_VERSION);
        pst_json_begin_array(&j, "backends");
        for (size_t i = 0; i < ELEMENTSOF(backends) && backends[i]; i++)
                pst_json_string(&j, NULL, backends[i]);
        pst_json_end_array(&j);
        pst_features_json(&kf, &j, "kernel");
        pst_json_end_object(&j);
        fputc('\n', stdout);
        return 0;
}

/* Options into c.  Returns 1 to go on, 0 (done: --help, --version) or an
 * exit code > 0 as a negative number. */
static int parse_argv(struct ctl *c, int argc, char **argv) {
        enum { OPT_CATALOG = 0x100, OPT_IFADDR, OPT_OFFLINE, OPT_JSON, OPT_VERSION, OPT_BACKEND, OPT_CONFIRM, OPT_FORCE,
               OPT_NFT, OPT_SINCE };
        static const struct option opts[] = {
                { "catalog", required_argument, NULL, OPT_CATALOG },
                { "ifaddr", required_argument, NULL, OPT_IFADDR },
                { "offline", no_argument, NULL, OPT_OFFLINE },
                { "json", no_argument, NULL, OPT_JSON },
                { "backend", required_argument, NULL, OPT_BACKEND },
                { "confirm", required_argument, NULL, OPT_CONFIRM },
                { "force", no_argument, NULL, OPT_FORCE },
                { "nft", no_argument, NULL, OPT_NFT },
                { "since", required_argument, NULL, OPT_SINCE },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {},
        };
        int o;

        /* --json first, wherever it is: errors in the other options follow it too */
        for (int i = 1; i < argc && !streq(argv[i], "--"); i++)
                c->json = c->json || streq(argv[i], "--json");
        opterr = 0; /* getopt's own messages would not be JSON */
        while ((o = getopt_long(argc, argv, "h", opts, NULL)) >= 0)
                switch (o) {
                case OPT_CATALOG:
                        c->catalog = optarg;
                        break;
                case OPT_IFADDR:
                        if (parse_ifaddr(c, optarg) < 0)
                                return -EXIT_USAGE;
                        break;
                case OPT_OFFLINE:
                        c->offline = true;
                        break;
                case OPT_JSON:
                        c->json = true;
                        break;
                case OPT_FORCE:
                        c->force = true;
                        break;
                case OPT_NFT:
                        c->nft = true;
                        break;
                case OPT_BACKEND:
                        if (pst_backend_from_string(optarg, &c->backend) < 0) {
                                return -usage_error(c, "posternctl: --backend '%s': expected nftables, iptables or "
                                                    "auto", optarg);
                        }
                        c->have_backend = true;
                        break;
                case OPT_SINCE:
                        if (parse_since(c, optarg) < 0)
                                return -EXIT_USAGE;
                        break;
                case OPT_CONFIRM:
                        if (parse_confirm(c, optarg) < 0)
                                return -EXIT_USAGE;
                        break;
                case 'h':
                        help();
                        return 0;
                case OPT_VERSION:
                        c->version = true;
                        break;
                default:
                        return -usage_error(c, "posternctl: unknown option or missing argument: '%s'. Try "
                                            "'posternctl --help'.", argv[optind - 1]);
                }
        if (c->version) {
                int r = show_version(c);

                return r ? -r : 0;
        }
        if (optind >= argc) {
                help();
                return -EXIT_USAGE;
        }
        return 1;
}

int main(int argc, char **argv) {
        struct ctl c = {};
        int r;

        pst_diag_init(&c.diag);
        r = parse_argv(&c, argc, argv);
        if (r > 0)
                r = dispatch_verb(&c, argc - optind, argv + optind);
        else
                r = -r;
        pst_catalog_clear(&c.cat);
        pst_ifaddrs_clear(&c.ifaddrs);
        pst_diag_clear(&c.diag);
        return r;
}
