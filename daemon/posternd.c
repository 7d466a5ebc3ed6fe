/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * posternd — the postern firewall daemon.
 *
 * Applies the policy as table inet postern (a plain table it watches), keeps its
 * interface-address sets in step with rtnetlink, reloads on SIGHUP or
 * Reload() over D-Bus, and leaves the ruleset installed when it stops.
 * Needs CAP_NET_ADMIN and nothing else.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "backend.h"
#include "bus.h"
#include "kernel-features.h"
#include "manager.h"

static void help(void) {
        printf("Usage: posternd [OPTIONS]\n"
               "\n"
               "The postern firewall daemon (systemd service, Type=notify).\n"
               "\n"
               "  --policy FILE           policy to apply (default: %s)\n"
               "  --catalog FILE          service catalog (default: %s,\n"
               "                          or $POSTERN_CATALOG; plus services.d/)\n"
               "  --emergency-ssh[=CIDR]  let the fail-closed emergency ruleset allow SSH\n"
               "                          (from CIDR only, if given)\n"
               "  --no-bus                do not connect to the system bus\n"
               "  --backend B             nftables, iptables or auto (nf_tables when the kernel has it);\n"
               "                          default: the policy's options.backend\n"
               "  --runtime-dir DIR       where the generation of the last commit is kept\n"
               "                          (default: %s)\n"
               "  --state-dir DIR         where a pending 'posternctl apply --confirm' is kept, so\n"
               "                          that a restart or reboot rolls back (default: %s)\n"
               "  -h, --help              show this help\n"
               "  --version               show the version\n"
               "\n"
               "Signals: SIGHUP reloads the policy; SIGTERM/SIGINT stop the daemon and leave the\n"
               "ruleset installed.\n",
               POSTERN_POLICY, POSTERN_CATALOG, POSTERN_RUNTIME_DIR, POSTERN_STATE_DIR);
}

/* *p = a copy of v, the old value freed */
static int set_string(char **p, const char *v) {
        char *c = strdup(v);

        if (!c)
                return -ENOMEM;
        free(*p);
        *p = c;
        return 0;
}

/* --emergency-ssh[=CIDR] */
static int parse_emergency_ssh(struct manager *m, const char *arg) {
        bool hostbits = false;

        m->emergency_cli = true;
        m->emergency.ssh = true;
        if (!arg)
                return 0;
        if (m->emergency.nfrom >= PST_EMERGENCY_FROM_MAX ||
            pst_addr_parse(arg, &m->emergency.from[m->emergency.nfrom], &hostbits) < 0) {
                fprintf(stderr, "posternd: --emergency-ssh=%s: expected an address or network%s\n", arg,
                        hostbits ? " without host bits below the prefix" : "");
                return -EINVAL;
        }
        m->emergency.nfrom++;
        return 0;
}

static int parse_argv(struct manager *m, int argc, char **argv, bool *use_bus) {
        enum { OPT_POLICY = 0x100, OPT_CATALOG, OPT_EMERGENCY_SSH, OPT_NO_BUS, OPT_BACKEND, OPT_RUNTIME_DIR, OPT_STATE_DIR,
               OPT_VERSION };
        static const struct option opts[] = {
                { "policy", required_argument, NULL, OPT_POLICY },
                { "catalog", required_argument, NULL, OPT_CATALOG },
                { "emergency-ssh", optional_argument, NULL, OPT_EMERGENCY_SSH },
                { "no-bus", no_argument, NULL, OPT_NO_BUS },
                { "backend", required_argument, NULL, OPT_BACKEND },
                { "runtime-dir", required_argument, NULL, OPT_RUNTIME_DIR },
                { "state-dir", required_argument, NULL, OPT_STATE_DIR },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {},
        };
        int o, r = 0;

        while (r >= 0 && (o = getopt_long(argc, argv, "h", opts, NULL)) >= 0)
                switch (o) {
                case OPT_POLICY:
                        r = set_string(&m->policy_path, optarg);
                        break;
                case OPT_CATALOG:
                        r = set_string(&m->catalog_path, optarg);
                        break;
                case OPT_EMERGENCY_SSH:
                        r = parse_emergency_ssh(m, optarg);
                        break;
                case OPT_RUNTIME_DIR:
                        r = set_string(&m->runtime_dir, optarg);
                        break;
                case OPT_STATE_DIR:
                        r = set_string(&m->state_dir, optarg);
                        break;
                case OPT_NO_BUS:
                        *use_bus = false;
                        break;
                case OPT_BACKEND:
                        if (pst_backend_from_string(optarg, &m->backend_cli) < 0) {
                                fprintf(stderr, "posternd: --backend=%s: expected nftables, iptables or auto\n", optarg);
                                return -EINVAL;
                        }
                        break;
                case 'h':
                        help();
                        return 0;
                case OPT_VERSION:
                        printf("posternd %s\n", PACKAGE_VERSION);
                        return 0;
                default:
                        fprintf(stderr, "Try 'posternd --help'.\n");
                        return -EINVAL;
                }
        if (r < 0)
                return r;
        if (optind < argc) {
                fprintf(stderr, "posternd: unexpected argument '%s'. Try 'posternd --help'.\n", argv[optind]);
                return -EINVAL;
        }
        if (!m->policy_path)
                r = set_string(&m->policy_path, POSTERN_POLICY);
        if (r >= 0 && !m->runtime_dir)
                r = set_string(&m->runtime_dir, POSTERN_RUNTIME_DIR);
        if (r >= 0 && !m->state_dir)
                r = set_string(&m->state_dir, POSTERN_STATE_DIR);
        return r < 0 ? r : 1;
}

/* "NAME=1\n" per feature, "LEGACY_IP_TABLES=present\n" per module, and the
 * names of the features present / missing, for log_kernel(). */
static void kernel_fields(const struct pst_features *f, FILE *fields, FILE *have, FILE *lack) {
        for (unsigned i = 0; i < _PST_FEAT_MAX; i++) {
                const struct pst_feature_info *fi = pst_feature_info(i);
                bool has = pst_features_has(f, i);

                fputs("POSTERN_FEATURE_", fields);
                for (const char *c = fi->name; *c; c++)
                        fputc(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c, fields);
                fprintf(fields, "=%d\n", has);
                if (has)
                        fprintf(have, " %s", fi->name);
                else if (fi->used)
                        fprintf(lack, "%s %s (%s, Linux %s)", ftell(lack) > 0 ? "," : "", fi->name, fi->what,
                                fi->since);
                else
                        fprintf(lack, "%s %s", ftell(lack) > 0 ? "," : "", fi->name);
        }
        for (unsigned i = 0; i < _PST_LEGACY_MAX; i++)
                fprintf(fields, "POSTERN_LEGACY_%s=%s\n", i == PST_LEGACY_IP_TABLES ? "IP_TABLES" :
                        i == PST_LEGACY_IP6_TABLES ? "IP6_TABLES" : "IP_SET", pst_presence_name(f->legacy[i]));
}

/*
 * What the kernel offers, once, right after the first apply: one journal entry with a field
 * per feature (kernel-features.h).  Below the oldest supported kernel it is
 * an error naming what is missing; the daemon goes on all the same: a
 * policy that needs a missing feature is refused with its FILE:LINE, and the
 * fail-closed emergency ruleset needs nothing newer than Linux 3.14.
 */
static void log_kernel(void) {
        _cleanup_free_ char *fields = NULL, *have = NULL, *lack = NULL;
        size_t nf = 0, nh = 0, nl = 0;
        struct pst_features f;
        FILE *ff, *fh, *fl;
        int prio;

        if (pst_features_probe(&f) < 0)
                return;
        ff = open_memstream(&fields, &nf);
        fh = open_memstream(&have, &nh);
        fl = open_memstream(&lack, &nl);
        if (ff && fh && fl)
                kernel_fields(&f, ff, fh, fl);
        if (ff)
                fclose(ff);
        if (fh)
                fclose(fh);
        if (fl)
                fclose(fl);
        if (!fields || !have || !lack)
                return;
        if (f.probe_error) {
                log_struct(LOG_WARNING, "KERNEL_RELEASE=%s\n%sMESSAGE=Linux %s: nf_tables features not probed: %s",
                           f.release, fields, f.release, strerror(-f.probe_error));
                return;
        }
        prio = pst_features_supported(&f) ? LOG_INFO : LOG_ERR;
        log_struct(prio,
                   "KERNEL_RELEASE=%s\n%sDURATION_USEC=%" PRIu64 "\nMESSAGE=Linux %s%s%s: nf_tables has%s; lacks%s%s",
                   f.release, fields, f.usec, f.release, prio == LOG_ERR ? " is older than the oldest supported, " : "",
                   prio == LOG_ERR ? PST_KERNEL_OLDEST : "", have, *lack ? lack : " nothing",
                   prio == LOG_ERR ? "; a policy that needs what is missing is refused (the emergency ruleset "
                                     "then holds the host closed)" : "");
}

/* SIGCHLD: reap the probe child (the only child posternd has).  A signal
 * source, not sd_event_add_child(): that one wants pidfd_open(), which
 * valgrind (the flaps test) does not know. */
static int on_sigchld(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        pid_t *pid = userdata;

        if (*pid > 0 && waitpid(*pid, NULL, WNOHANG) == *pid) {
                *pid = 0;
                return sd_event_source_set_enabled(s, SD_EVENT_OFF);
        }
        return 0;
}

/*
 * log_kernel() in a child of its own, once the firewall is in place: the
 * probe may make the kernel load modules (nft_queue, nft_log ...: seconds
 * under qemu TCG, one modprobe at a time), and the event loop must not wait
 * for that (D-Bus, rtnetlink, heals).  The child holds none of our file
 * descriptors but stderr (the presence socket would keep "a posternd runs
 * here" alive), dies with us (a check-mode batch cut short changes
 * nothing), logs, and exits; the event loop reaps it.
 */
static void probe_in_child(sd_event *e, pid_t *pid_slot) {
        sigset_t ss;
        pid_t pid;
        int r;

        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0) {
                log_errno(LOG_WARNING, -errno, "cannot probe the kernel's features (%m), ignoring");
                return;
        }
        pid = fork();
        if (pid < 0) {
                log_errno(LOG_WARNING, -errno, "cannot probe the kernel's features (%m), ignoring");
                return;
        }
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() == 1)
                        _exit(0); /* the daemon is gone already */
                if (close_range(3, ~0U, 0) < 0)
                        for (int fd = 3; fd < 1024; fd++)
                                (void) close(fd);
                log_kernel();
                _exit(0);
        }
        *pid_slot = pid;
        r = sd_event_add_signal(e, NULL, SIGCHLD, on_sigchld, pid_slot);
        if (r < 0)
                log_errno(LOG_WARNING, r, "cannot watch the feature probe (%m), ignoring");
}

int main(int argc, char **argv) {
        _cleanup_(manager_freep) struct manager *m = NULL;
        _cleanup_(bus_face_freep) struct bus_face *bus = NULL; /* declared after m: goes before it */
        bool use_bus = true;
        pid_t probe_pid = 0; /* the feature probe's child, until reaped */
        int r;

        r = manager_new(&m);
        if (r < 0) {
                fprintf(stderr, "posternd: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        r = parse_argv(m, argc, argv, &use_bus);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        r = manager_setup(m);
        if (r < 0) {
                log_errno(LOG_ERR, r, "cannot set up: %m");
                sd_notifyf(false, "STATUS=failed to set up: %s\nERRNO=%d", strerror(-r), -r);
                return EXIT_FAILURE;
        }
        /* before the first apply, so that its Applied signal goes out */
        if (use_bus)
                r = bus_face_new(m, m->event, &bus);
        else
                log_msg(LOG_INFO, "running without D-Bus (--no-bus)");
        if (r < 0) {
                log_errno(LOG_ERR, r, "cannot set up D-Bus: %m");
                return EXIT_FAILURE;
        }
        r = manager_start(m);
        if (r < 0) {
                sd_notifyf(false, "STATUS=failed to start: %s\nERRNO=%d", strerror(-r), -r);
                return EXIT_FAILURE;
        }
        /* after the first apply: the probe must never delay the firewall */
        probe_in_child(m->event, &probe_pid);
        r = sd_event_loop(m->event);
        if (r < 0) {
                log_errno(LOG_ERR, r, "event loop failed: %m");
                return EXIT_FAILURE;
        }
        return r == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
