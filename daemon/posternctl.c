/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * posternctl — check, compile, apply, diff and show postern policies.
 *
 * Exit status: 0 success (diff: no difference), 1 the policy is invalid
 * (diff: the live table differs), 2 a system or kernel error.
 */
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "config.h"
#include "backend.h"
#include "ctl-bus.h"
#include "ctl-diff.h"
#include "ifaddr.h"
#include "json.h"
#include "lockout.h"
#include "pipeline.h"
#include "presence.h"
#include "show.h"

enum {
        EXIT_POLICY = 1,
        EXIT_SYSTEM = 2,
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
        bool nft;                   /* diff --nft */
        bool force;                 /* --force: apply even if it cuts our own SSH connection */
};

static void help(void) {
        printf("Usage: posternctl [OPTIONS] VERB [ARGS]\n"
               "\n"
               "Check, compile and install postern firewall policies.\n"
               "\n"
               "Verbs:\n"
               "  check FILE        validate a policy and the catalog; print FILE:LINE errors\n"
               "  compile FILE      print the ruleset FILE would install, as nft syntax\n"
               "  apply FILE        install FILE once, atomically (without the daemon)\n"
               "  diff FILE         compare the live table with what FILE would install\n"
               "                    (exit 0: same, 1: different): what becomes allowed (+) and\n"
               "                    blocked (-), and the tracked connections it would cut\n"
               "  show              print the live table, with counters\n"
               "  services          list the service catalog\n"
               "  status            show the daemon's state, policy digest, generation, last error\n"
               "  reload            ask posternd to reload its policy\n"
               "  reapply IFACE     ask posternd to re-check IFACE's addresses (ppp ip-up hooks)\n"
               "\n"
               "Options:\n"
               "  --catalog FILE    service catalog (default: %s,\n"
               "                    or $POSTERN_CATALOG; plus services.d/)\n"
               "  --ifaddr IF=ADDR  take ADDR as an address of interface IF (repeatable)\n"
               "  --offline         do not read interface addresses from the kernel\n"
               "  --backend B       compile / apply: nftables, iptables or auto (nf_tables when the\n"
               "                    kernel has it, else iptables); default: the policy's options.backend\n"
               "  --force           apply: even if the new policy would drop the SSH connection\n"
               "                    posternctl runs over ($SSH_CONNECTION)\n"
               "  --nft             diff: a unified diff of the nft listings and +/- set elements\n"
               "                    instead of the policy's words\n"
               "  --json            machine-readable output\n"
               "  -h, --help        show this help\n"
               "  --version         show the version\n"
               "\n"
               "Exit status: 0 success, 1 invalid policy (diff: differences; apply: it would cut your SSH\n"
               "connection), 2 system or kernel error,\n"
               "3 posternd is not running (status, reload, reapply).\n",
               POSTERN_CATALOG);
}

static void print_diag(struct ctl *c, FILE *f) {
        if (!c->json) {
                pst_diag_print(&c->diag, stderr);
                return;
        }
        {
                struct pst_json j;

                pst_json_init(&j, f);
                pst_json_begin_object(&j, NULL);
                pst_json_bool(&j, "ok", false);
                pst_json_begin_array(&j, "errors");
                for (size_t i = 0; i < c->diag.n; i++) {
                        const struct pst_diag_item *it = &c->diag.items[i];

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
        r = pst_load_compile(&(struct pst_load_opts) { .policy = path, .catalog = c->catalog, .ifaddrs = &ifa,
                                                       .source_flags = pst_source_flags_from_env() },
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
               verb[0] != 'a' ? "ok" : c->applied_iptables ? "the iptables filter tables" : "table inet postern", digest, rs->nchains, pst_ruleset_nrules(rs), named,
               count_elements(rs));
        if (usec)
                printf(", %.3f ms", (double) usec / 1000.0);
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

static int cmd_apply(struct ctl *c, char **args) {
        _cleanup_(pst_compiled_freep) struct pst_compiled *pc = NULL;
        uint64_t t0 = now_usec();
        int r;

        r = load_compile(c, args[0], &pc);
        if (r)
                return fail(c, r);
        /* the daemon would put its own ruleset back at once (presence.h) */
        if (presence_check() > 0) {
                pst_error(&c->diag, -EBUSY, NULL, 0,
                          "posternd is running in this network namespace and keeps its own policy installed; "
                          "change its policy and run 'posternctl reload', or stop postern.service first");
                return fail(c, EXIT_SYSTEM);
        }
        /* sshd tells us where we are logged in from: do not cut that off (lockout.h) */
        if (!c->force && pst_lockout_check(pc->ruleset, NULL, getenv("SSH_CONNECTION"), NULL,
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
                                               .policy = pc->policy, .catalog = &pc->catalog },
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

        if (!eq || (size_t) (eq - arg) >= IFNAMSIZ) {
                fprintf(stderr, "posternctl: --ifaddr '%s': expected IFNAME=ADDRESS\n", arg);
                return -EINVAL;
        }
        snprintf(name, sizeof(name), "%.*s", (int) (eq - arg), arg);
        if (pst_ifname_parse(name, ifname, &wild) < 0 || wild ||
            pst_addr_parse(eq + 1, &a, NULL) < 0 || a.prefixlen != pst_addr_len(a.family) * 8) {
                fprintf(stderr, "posternctl: --ifaddr '%s': expected IFNAME=ADDRESS with one host address\n", arg);
                return -EINVAL;
        }
        return pst_ifaddrs_add(&c->ifaddrs, ifname, &a);
}

static int cmd_status(struct ctl *c, char **args) {
        return ctl_bus_status(c->json);
}

static int cmd_reload(struct ctl *c, char **args) {
        return ctl_bus_reload(c->json);
}

static int cmd_reapply(struct ctl *c, char **args) {
        return ctl_bus_reapply(args[0], c->json);
}

/* The verbs, as systemd's dispatch_verb() keeps them: one table. */
static const struct verb {
        const char *name;
        int nargs;         /* exactly this many arguments */
        const char *usage; /* what they are, for the error when the count is wrong */
        int (*run)(struct ctl *c, char **args);
} verbs[] = {
        { "check", 1, "one policy FILE", cmd_check },
        { "compile", 1, "one policy FILE", cmd_compile },
        { "apply", 1, "one policy FILE", cmd_apply },
        { "diff", 1, "one policy FILE", cmd_diff },
        { "show", 0, "no arguments", cmd_show },
        { "services", 0, "no arguments", cmd_services },
        { "status", 0, "no arguments", cmd_status },
        { "reload", 0, "no arguments", cmd_reload },
        { "reapply", 1, "one interface name", cmd_reapply },
};

static int dispatch_verb(struct ctl *c, int argc, char **argv) {
        const char *name = argv[0];

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (!streq(name, verbs[i].name))
                        continue;
                if (argc - 1 != verbs[i].nargs) {
                        fprintf(stderr, "posternctl %s: expected %s\n", name, verbs[i].usage);
                        return EXIT_SYSTEM;
                }
                return verbs[i].run(c, argv + 1);
        }
        fprintf(stderr, "posternctl: unknown verb '%s'. Try 'posternctl --help'.\n", name);
        return EXIT_SYSTEM;
}

/* Options into c.  Returns 1 to go on, 0 (done: --help, --version) or an
 * exit code > 0 as a negative number. */
static int parse_argv(struct ctl *c, int argc, char **argv) {
        enum { OPT_CATALOG = 0x100, OPT_IFADDR, OPT_OFFLINE, OPT_JSON, OPT_VERSION, OPT_BACKEND, OPT_FORCE, OPT_NFT };
        static const struct option opts[] = {
                { "catalog", required_argument, NULL, OPT_CATALOG },
                { "ifaddr", required_argument, NULL, OPT_IFADDR },
                { "offline", no_argument, NULL, OPT_OFFLINE },
                { "json", no_argument, NULL, OPT_JSON },
                { "backend", required_argument, NULL, OPT_BACKEND },
                { "force", no_argument, NULL, OPT_FORCE },
                { "nft", no_argument, NULL, OPT_NFT },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {},
        };
        int o;

        while ((o = getopt_long(argc, argv, "h", opts, NULL)) >= 0)
                switch (o) {
                case OPT_CATALOG:
                        c->catalog = optarg;
                        break;
                case OPT_IFADDR:
                        if (parse_ifaddr(c, optarg) < 0)
                                return -EXIT_SYSTEM;
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
                                fprintf(stderr, "posternctl: --backend '%s': expected nftables, iptables or auto\n",
                                        optarg);
                                return -EXIT_SYSTEM;
                        }
                        c->have_backend = true;
                        break;
                case 'h':
                        help();
                        return 0;
                case OPT_VERSION:
                        printf("posternctl %s\n", PACKAGE_VERSION);
                        return 0;
                default:
                        fprintf(stderr, "Try 'posternctl --help'.\n");
                        return -EXIT_SYSTEM;
                }
        if (optind >= argc) {
                help();
                return -EXIT_SYSTEM;
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
