/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The iptables backend, kernel side: a plan (iptc-plan.c) → ipsets +
 * tables filter (and nat, with NAT) of IPv4 and IPv6 through libiptc.  See
 * iptc.h for what we own and how the commits are ordered.
 *
 *   apply:  plan → take the handles (snapshots: filter of both families,
 *           nat where needed) → save our chains of each → create and fill
 *           the new ipsets → rebuild our chains in every handle → commit
 *           filter IPv4, filter IPv6, nat IPv4, nat IPv6 → destroy the
 *           ipsets only the old rules used.
 *           A later table refused: put the saved chains of the tables
 *           committed before it back, the last first (a fresh handle: the
 *           kernel refuses a replace from a handle whose entry count is
 *           stale, EAGAIN) and commit again; destroy the ipsets we created.
 */
#include <net/if.h> /* before any <linux/if.h> */
#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <libiptc/libiptc.h>
#include <libiptc/libip6tc.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netlink.h>

#include "iptc-internal.h"

extern char **environ;

#define COMMIT_TRIES 3 /* another process committed between our snapshot and our commit: EAGAIN, try again */

/* ---- one family's libiptc, behind one set of function pointers ---- */

struct fam_ops {
        const char *what; /* "IPv4" */
        size_t hdr;       /* sizeof(struct ipt_entry) / sizeof(struct ip6t_entry) */
        struct xtc_handle *(*init)(const char *);
        void (*free)(struct xtc_handle *);
        int (*commit)(struct xtc_handle *);
        const char *(*first_chain)(struct xtc_handle *);
        const char *(*next_chain)(struct xtc_handle *);
        const void *(*first_rule)(const char *, struct xtc_handle *);
        const void *(*next_rule)(const void *, struct xtc_handle *);
        const char *(*get_target)(const void *, struct xtc_handle *);
        int (*builtin)(const char *, struct xtc_handle *const);
        const char *(*get_policy)(const char *, struct xt_counters *, struct xtc_handle *);
        int (*set_policy)(const char *, const char *, struct xt_counters *, struct xtc_handle *);
        int (*flush)(const char *, struct xtc_handle *);
        int (*create)(const char *, struct xtc_handle *);
        int (*delete)(const char *, struct xtc_handle *);
        int (*append)(const char *, const void *, struct xtc_handle *);
        int (*insert)(const char *, const void *, unsigned, struct xtc_handle *);
        int (*delete_num)(const char *, unsigned, struct xtc_handle *);
        const char *(*strerror)(int);
};

/* wrappers: the entry types differ, the libraries' signatures with them */
static const void *v4_first_rule(const char *c, struct xtc_handle *h) {
        return iptc_first_rule(c, h);
}
static const void *v4_next_rule(const void *e, struct xtc_handle *h) {
        return iptc_next_rule(e, h);
}
static const char *v4_get_target(const void *e, struct xtc_handle *h) {
        return iptc_get_target(e, h);
}
static int v4_set_policy(const char *c, const char *p, struct xt_counters *n, struct xtc_handle *h) {
        return iptc_set_policy(c, p, n, h);
}
static int v4_flush(const char *c, struct xtc_handle *h) {
        return iptc_flush_entries(c, h);
}
static int v4_create(const char *c, struct xtc_handle *h) {
        return iptc_create_chain(c, h);
}
static int v4_delete(const char *c, struct xtc_handle *h) {
        return iptc_delete_chain(c, h);
}
static int v4_append(const char *c, const void *e, struct xtc_handle *h) {
        return iptc_append_entry(c, e, h);
}
static int v4_insert(const char *c, const void *e, unsigned n, struct xtc_handle *h) {
        return iptc_insert_entry(c, e, n, h);
}
static int v4_delete_num(const char *c, unsigned n, struct xtc_handle *h) {
        return iptc_delete_num_entry(c, n, h);
}
static const void *v6_first_rule(const char *c, struct xtc_handle *h) {
        return ip6tc_first_rule(c, h);
}
static const void *v6_next_rule(const void *e, struct xtc_handle *h) {
        return ip6tc_next_rule(e, h);
}
static const char *v6_get_target(const void *e, struct xtc_handle *h) {
        return ip6tc_get_target(e, h);
}
static int v6_set_policy(const char *c, const char *p, struct xt_counters *n, struct xtc_handle *h) {
        return ip6tc_set_policy(c, p, n, h);
}
static int v6_flush(const char *c, struct xtc_handle *h) {
        return ip6tc_flush_entries(c, h);
}
static int v6_create(const char *c, struct xtc_handle *h) {
        return ip6tc_create_chain(c, h);
}
static int v6_delete(const char *c, struct xtc_handle *h) {
        return ip6tc_delete_chain(c, h);
}
static int v6_append(const char *c, const void *e, struct xtc_handle *h) {
        return ip6tc_append_entry(c, e, h);
}

static int v6_insert(const char *c, const void *e, unsigned n, struct xtc_handle *h) {
        return ip6tc_insert_entry(c, e, n, h);
}
static int v6_delete_num(const char *c, unsigned n, struct xtc_handle *h) {
        return ip6tc_delete_num_entry(c, n, h);
}

static const struct fam_ops fam_ops[2] = {
        [XF_4] = { "IPv4", sizeof(struct ipt_entry), iptc_init, iptc_free, iptc_commit, iptc_first_chain,
                   iptc_next_chain, v4_first_rule, v4_next_rule, v4_get_target, iptc_builtin, iptc_get_policy,
                   v4_set_policy, v4_flush, v4_create, v4_delete, v4_append, v4_insert, v4_delete_num, iptc_strerror },
        [XF_6] = { "IPv6", sizeof(struct ip6t_entry), ip6tc_init, ip6tc_free, ip6tc_commit, ip6tc_first_chain,
                   ip6tc_next_chain, v6_first_rule, v6_next_rule, v6_get_target, ip6tc_builtin,
                   ip6tc_get_policy, v6_set_policy, v6_flush, v6_create, v6_delete, v6_append, v6_insert,
                   v6_delete_num, ip6tc_strerror },
};

static uint16_t entry_target_offset(int xf, const void *e) {
        return xf == XF_4 ? ((const struct ipt_entry *) e)->target_offset
                          : ((const struct ip6t_entry *) e)->target_offset;
}

static uint16_t entry_size(int xf, const void *e) {
        return xf == XF_4 ? ((const struct ipt_entry *) e)->next_offset : ((const struct ip6t_entry *) e)->next_offset;
}

/* ---- kernel modules: what iptables(8) and ipset(8) would load themselves ---- */

/*
 * A freshly booted kernel has ip_tables, ip6_tables and ip_set as modules
 * nobody loaded yet: getsockopt() on them says ENOPROTOOPT.  iptables(8)
 * then runs the kernel's own module helper (/proc/sys/kernel/modprobe) once
 * with -q and tries again (xtables_load_ko()); so do we.  The filter tables
 * (iptable_filter, ip6table_filter) and the ipset types the kernel loads
 * itself (request_module) once the core module is there.  What was tried is
 * kept per operation (struct kmods), never in a global.
 */
enum { KMOD_IP_TABLES, KMOD_IP6_TABLES, KMOD_IP_SET, _KMOD_MAX };

static const char *const kmod_name[_KMOD_MAX] = { "ip_tables", "ip6_tables", "ip_set" };

struct kmods {
        const char *helper;         /* NULL: /proc/sys/kernel/modprobe (tests name another) */
        bool tried[_KMOD_MAX];
        int result[_KMOD_MAX];
        char why[_KMOD_MAX][256];   /* what the helper said when it failed */
};

static int kmod_helper(const struct kmods *k, char ret[PATH_MAX]) {
        _cleanup_fclose_ FILE *f = NULL;

        if (k->helper) {
                snprintf(ret, PATH_MAX, "%s", k->helper);
                return 0;
        }
        f = fopen("/proc/sys/kernel/modprobe", "re");
        if (!f || !fgets(ret, PATH_MAX, f))
                return -ENOENT;
        ret[strcspn(ret, "\n")] = 0;
        return ret[0] == '/' ? 0 : -ENOENT;
}

/* Run path with argv on the given stdin, stdout and stderr and wait for it;
 * *ret_status as waitpid() gives it.  A negative errno when it cannot run. */
static int spawn_wait(const char *path, char **argv, int in, int out, int err, int *ret_status) {
        posix_spawn_file_actions_t fa;
        pid_t pid;
        int r;

        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in, 0);
        posix_spawn_file_actions_adddup2(&fa, out, 1);
        posix_spawn_file_actions_adddup2(&fa, err, 2);
        r = posix_spawn(&pid, path, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0)
                return -r;
        while (waitpid(pid, ret_status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return 0;
}

/* Run `HELPER -q NAME`; on failure *why says what it printed or how it ended. */
static int kmod_run(const char *helper, const char *name, char *why, size_t whylen) {
        _cleanup_close_ int err = -1, devnull = -1;
        char *argv[] = { (char *) helper, (char *) "-q", (char *) name, NULL };
        char buf[256] = "";
        int status, r;

        err = memfd_create("postern-modprobe", MFD_CLOEXEC);
        devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (err < 0 || devnull < 0)
                return -errno;
        r = spawn_wait(helper, argv, devnull, devnull, err, &status);
        if (r < 0) {
                snprintf(why, whylen, "cannot run %.128s: %s", helper, strerror(-r));
                return r;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (pread(err, buf, sizeof(buf) - 1, 0) > 0)
                buf[strcspn(buf, "\n")] = 0;
        if (buf[0])
                snprintf(why, whylen, "%s", buf);
        else if (WIFEXITED(status))
                snprintf(why, whylen, "%.128s exited with status %d", helper, WEXITSTATUS(status));
        else
                snprintf(why, whylen, "%.128s was killed by signal %d", helper, WTERMSIG(status));
        return -ENOPROTOOPT;
}

/* Load module m once per operation; later calls return the first result. */
static int kmod_load(struct kmods *k, int m) {
        char helper[PATH_MAX];
        int r;

        if (!k)
                return -ENOPROTOOPT;
        if (k->tried[m])
                return k->result[m];
        k->tried[m] = true;
        r = kmod_helper(k, helper);
        if (r < 0)
                snprintf(k->why[m], sizeof(k->why[m]),
                         "the kernel names no module helper (/proc/sys/kernel/modprobe)");
        else
                r = kmod_run(helper, kmod_name[m], k->why[m], sizeof(k->why[m]));
        k->result[m] = r;
        return r;
}

/* ---- the libiptc handles ---- */

struct handle {
        int xf;
        bool nat;          /* table nat, else filter */
        bool nat_builtins; /* nat, putting a snapshot back: PREROUTING and POSTROUTING whole */
        struct xtc_handle *h;
        struct kmods *km; /* for a re-open */
        bool keep_forward; /* options.forward = "unmanaged": FORWARD is another tool's */
};

static bool is_nat_builtin(const char *name) {
        return streq(name, "PREROUTING") || streq(name, "POSTROUTING");
}

/* Ours in this handle: filter: INPUT, postern-*, and FORWARD unless it is
 * kept; nat: postern-* only (PREROUTING and POSTROUTING are everyone's,
 * Docker's DNAT and MASQUERADE live there: ours is one jump in each). */
static bool handle_chain_ours(const struct handle *h, const char *name) {
        if (h->nat)
                return iptc_chain_prefixed(name) || (h->nat_builtins && is_nat_builtin(name));
        return iptc_chain_ours(name) && !(h->keep_forward && streq(name, "FORWARD"));
}

static const char *handle_table(const struct handle *h) {
        return h->nat ? "nat" : "filter";
}

/* A ruleset without a forward base chain leaves FORWARD, policy and rules, alone. */
static bool rs_keeps_forward(const struct pst_ruleset *rs) {
        for (size_t i = 0; i < rs->nchains; i++)
                if (rs->chains[i].hook == PST_HOOK_FORWARD)
                        return false;
        return true;
}

static void handle_done(struct handle *h) {
        if (h->h)
                fam_ops[h->xf].free(h->h);
        h->h = NULL;
}

/* both families' handles */
static void handles_done(struct handle (*h)[2]) {
        handle_done(&(*h)[XF_4]);
        handle_done(&(*h)[XF_6]);
}

/* filter IPv4, filter IPv6, nat IPv4, nat IPv6: the commit order */
enum { ST_FILTER4, ST_FILTER6, ST_NAT4, ST_NAT6, _ST_MAX };

static void steps_done(struct handle (*h)[_ST_MAX]) {
        for (int k = 0; k < _ST_MAX; k++)
                handle_done(&(*h)[k]);
}

/* Take a snapshot of one family's filter table; load ip_tables / ip6_tables
 * first if the kernel has not (ENOPROTOOPT: "iptables who?"). */
static int handle_open(struct handle *h, int xf, struct kmods *km, struct pst_diag *diag) {
        const struct fam_ops *ops = &fam_ops[xf];
        int m = xf == XF_4 ? KMOD_IP_TABLES : KMOD_IP6_TABLES, err;

        h->xf = xf;
        h->km = km;
        h->h = ops->init(handle_table(h));
        err = h->h ? 0 : errno ? errno : EIO;
        if (err == ENOPROTOOPT && kmod_load(km, m) == 0) {
                h->h = ops->init(handle_table(h));
                err = h->h ? 0 : errno ? errno : EIO;
        }
        if (err == 0)
                return 0;
        if (err == ENOPROTOOPT && km && km->result[m] < 0)
                return pst_error(diag, -err, NULL, 0,
                                 "iptables backend: the kernel has no %s (legacy %s); `modprobe %s` failed: %s "
                                 "(a kernel without legacy iptables: use the nftables backend)",
                                 kmod_name[m], xf == XF_4 ? "iptables" : "ip6tables", kmod_name[m], km->why[m]);
        return pst_error(diag, -err, NULL, 0,
                         "iptables backend: cannot read the %s %s table: %s (legacy iptables%s in this kernel?)",
                         ops->what, handle_table(h), ops->strerror(err), h->nat ? " with iptable_nat / ip6table_nat" : "");
}

/* ---- what our chains hold: saved before a commit, to put back ---- */

struct saved_chain {
        char name[32];
        char policy[32]; /* builtin chains; "" for ours */
        struct xt_counters counters;
        size_t len;      /* bytes of entries */
        uint8_t *blob;   /* entries, back to back; standard targets carry their verdict's name */
};

struct saved {
        int xf;
        bool nat;          /* table nat: postern-* and PREROUTING / POSTROUTING whole */
        bool taken;
        bool keep_forward; /* the handle's: FORWARD is not in the snapshot */
        size_t n, cap;
        struct saved_chain *v;
};

static void saved_clear(struct saved *s) {
        for (size_t i = 0; i < s->n; i++)
                free(s->v[i].blob);
        free(s->v);
        *s = (struct saved) {};
}

static int saved_take(struct saved *s, const struct handle *h) {
        const struct fam_ops *ops = &fam_ops[h->xf];
        int r;

        saved_clear(s);
        s->xf = h->xf;
        s->nat = h->nat;
        s->taken = true;
        s->keep_forward = h->keep_forward;
        for (const char *c = ops->first_chain(h->h); c; c = ops->next_chain(h->h)) {
                struct saved_chain *sc;

                if (!handle_chain_ours(h, c) && !(h->nat && is_nat_builtin(c)))
                        continue;
                r = GROW(s->v, s->cap, s->n + 1, PST_CHAINS_MAX + 2);
                if (r < 0)
                        return r;
                sc = &s->v[s->n++];
                *sc = (struct saved_chain) {};
                snprintf(sc->name, sizeof(sc->name), "%s", c);
                if (ops->builtin(c, h->h)) {
                        const char *pol = ops->get_policy(c, &sc->counters, h->h);

                        snprintf(sc->policy, sizeof(sc->policy), "%s", pol ? pol : "ACCEPT");
                }
                for (const void *e = ops->first_rule(c, h->h); e; e = ops->next_rule(e, h->h)) {
                        uint16_t size = entry_size(h->xf, e), toff = entry_target_offset(h->xf, e);
                        struct xt_entry_target *t;
                        uint8_t *nb = realloc(sc->blob, sc->len + size);

                        if (!nb)
                                return -ENOMEM;
                        sc->blob = nb;
                        memcpy(sc->blob + sc->len, e, size);
                        /* libiptc hands out standard targets nameless, with
                         * the kernel's verdict; appending wants the name */
                        t = (struct xt_entry_target *) (sc->blob + sc->len + toff);
                        if (t->u.user.name[0] == 0)
                                snprintf(t->u.user.name, sizeof(t->u.user.name), "%s",
                                         ops->get_target(e, h->h));
                        sc->len += size;
                }
        }
        return 0;
}

/* ---- ipset: index lookups over the kernel's getsockopt interface ---- */

static int ipset_socket(void) {
        int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);

        return fd < 0 ? -errno : fd;
}

static int ipset_kernel_ok(int fd) {
        struct ip_set_req_version v = { .op = IP_SET_OP_VERSION };
        socklen_t len = sizeof(v);

        if (getsockopt(fd, SOL_IP, SO_IP_SET, &v, &len) < 0)
                return -errno;
        return v.version >= IPSET_PROTOCOL_MIN ? 0 : -EPROTONOSUPPORT;
}

static int ipset_index(int fd, const char *name, uint16_t *ret) {
        struct ip_set_req_get_set req = { .op = IP_SET_OP_GET_BYNAME, .version = IPSET_PROTOCOL };
        socklen_t len = sizeof(req);

        snprintf(req.set.name, sizeof(req.set.name), "%s", name);
        if (getsockopt(fd, SOL_IP, SO_IP_SET, &req, &len) < 0)
                return -errno;
        if (req.set.index == IPSET_INVALID_ID)
                return -ENOENT;
        *ret = req.set.index;
        return 0;
}

static int ipset_name(int fd, uint16_t index, char ret_name[IPSET_MAXNAMELEN]) {
        struct ip_set_req_get_set req = { .op = IP_SET_OP_GET_BYINDEX, .version = IPSET_PROTOCOL };
        socklen_t len = sizeof(req);

        req.set.index = index;
        if (getsockopt(fd, SOL_IP, SO_IP_SET, &req, &len) < 0)
                return -errno;
        if (!req.set.name[0])
                return -ENOENT;
        snprintf(ret_name, IPSET_MAXNAMELEN, "%s", req.set.name);
        return 0;
}

static const char *ipset_tool(const struct pst_iptc_opts *o, char buf[PATH_MAX]) {
        static const char *const fixed[] = { "/usr/sbin/ipset", "/sbin/ipset" };
        const char *path;

        if (o && o->ipset_path)
                return access(o->ipset_path, X_OK) == 0 ? o->ipset_path : NULL;
        for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
                if (access(fixed[i], X_OK) == 0)
                        return fixed[i];
        path = getenv("PATH");
        while (path && *path) {
                size_t l = strcspn(path, ":");

                if (l && l + sizeof("/ipset") < PATH_MAX) {
                        snprintf(buf, PATH_MAX, "%.*s/ipset", (int) l, path);
                        if (access(buf, X_OK) == 0)
                                return buf;
                }
                path += l + (path[l] == ':');
        }
        return NULL;
}

/*
 * Can ipset be used: the tool is there, the kernel has ip_set (loaded here
 * if need be, as ipset(8) itself would have the kernel do), and this
 * process may open the NETLINK_NETFILTER socket the tool talks through (a
 * service manager or container may refuse it: then the tool fails at its
 * first "create", after the plan chose sets).  Unusable for a reason the
 * administrator would not guess: why says it ("" otherwise).
 */
static int ipset_usable(const struct pst_iptc_opts *o, struct kmods *km, char *why, size_t whylen) {
        _cleanup_close_ int fd = -1, nl = -1;
        char buf[PATH_MAX];
        int r;

        why[0] = 0;
        if (o && o->ipset == PST_IPTC_IPSET_NEVER)
                return -EOPNOTSUPP;
        if (!ipset_tool(o, buf))
                return -ENOENT;
        fd = ipset_socket();
        if (fd < 0)
                return fd;
        r = ipset_kernel_ok(fd);
        if (r == -ENOPROTOOPT && kmod_load(km, KMOD_IP_SET) == 0)
                r = ipset_kernel_ok(fd);
        if (r == -ENOPROTOOPT && km->tried[KMOD_IP_SET]) {
                snprintf(why, whylen, "the kernel has no ip_set; `modprobe ip_set` failed: %s", km->why[KMOD_IP_SET]);
                return r;
        }
        if (r < 0)
                return r;
        nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
        if (nl < 0) {
                r = -errno;
                snprintf(why, whylen, "ipset(8) needs a NETLINK_NETFILTER socket and this process may not open one (%s)",
                         strerror(-r));
                return r;
        }
        return 0;
}

int pst_iptc_ipset_available(const struct pst_iptc_opts *o) {
        struct kmods km = { .helper = o ? o->modprobe_path : NULL };
        char why[512];

        return ipset_usable(o, &km, why, sizeof(why));
}

/*
 * `ipset restore` < script.  Returns 0, or -EIO with *ret_line the failing
 * line of the script (0 if unknown) and *ret_msg ipset's message.
 */
static int ipset_run(const struct pst_iptc_opts *o, const char *script, size_t len, unsigned *ret_line,
                     char **ret_msg) {
        _cleanup_close_ int in = -1, err = -1, devnull = -1;
        char buf[PATH_MAX], *argv[3];
        const char *tool = ipset_tool(o, buf);
        int status, r;
        off_t size;

        *ret_line = 0;
        *ret_msg = NULL;
        if (!tool)
                return -ENOENT;
        in = memfd_create("postern-ipset", MFD_CLOEXEC);
        err = memfd_create("postern-ipset-err", MFD_CLOEXEC);
        devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (in < 0 || err < 0 || devnull < 0)
                return -errno;
        for (size_t done = 0; done < len;) {
                ssize_t n = write(in, script + done, len - done);

                if (n < 0)
                        return -errno;
                done += (size_t) n;
        }
        if (lseek(in, 0, SEEK_SET) < 0)
                return -errno;
        argv[0] = (char *) "ipset";
        argv[1] = (char *) "restore";
        argv[2] = NULL;
        r = spawn_wait(tool, argv, in, devnull, err, &status);
        if (r < 0)
                return r;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        size = lseek(err, 0, SEEK_END);
        if (size > 0) {
                char *msg = calloc(1, (size_t) MIN(size, 4096) + 1), *p;

                if (msg && pread(err, msg, (size_t) MIN(size, 4096), 0) > 0) {
                        msg[strcspn(msg, "\n")] = 0;
                        p = strstr(msg, "Error in line ");
                        if (p)
                                *ret_line = (unsigned) strtoul(p + strlen("Error in line "), NULL, 10);
                        *ret_msg = msg;
                } else
                        free(msg);
        }
        return -EIO;
}

/* ---- the ipsets of a plan ---- */

struct setjob {
        struct iptc_plan *p;
        const struct pst_iptc_opts *o;
        struct pst_diag *diag;
        struct kmods km;
        int fd;
        size_t ncreated;
        char (*created)[IPSET_MAXNAMELEN]; /* new names: destroyed again if the apply fails */
};

static void setjob_done(struct setjob *j) {
        free(j->created);
        if (j->fd >= 0)
                close(j->fd);
}

static void tmp_name(size_t i, char ret_name[IPSET_MAXNAMELEN]) {
        snprintf(ret_name, IPSET_MAXNAMELEN, "%snew-%u", PST_IPTC_PREFIX, (unsigned) (i & 0xffffff));
}

/* What the kernel lacks when ipset(8) says msg, in words an administrator
 * can act on ("" when msg says it all). */
static const char *set_error_hint(const struct xset *s, const char *msg) {
        if (!msg)
                return "";
        if (strstr(msg, "set type not supported")) /* the kernel could not load the type */
                return s->type == XS_NET ? " (the kernel has no ip_set_hash_net module, or cannot load it)"
                                         : " (the kernel has no ip_set_hash_ipportnet module, or cannot load it)";
        if (strstr(msg, "Cannot open session to kernel"))
                return " (ipset(8) could not open its NETLINK_NETFILTER socket, or the kernel has no ip_set)";
        return "";
}

static int set_error(struct setjob *j, const struct xset *s, int err, const char *msg) {
        const struct pst_ruleset *rs = j->p->rs;
        const struct pst_set *ir = &rs->sets[s->irset];

        return pst_error(j->diag, err, pst_origin_file(rs, ir->origin), ir->origin.line,
                         "iptables backend: cannot create ipset %s for %s%s%s: %s%s", s->name,
                         ir->name[0] ? "set '" : "an address set", ir->name, ir->name[0] ? "'" : "",
                         msg ? msg : strerror(-err), set_error_hint(s, msg));
}

/*
 * Create every set of the plan that does not exist yet (filled under a
 * temporary name, then renamed: a set with its final name is always
 * complete) and refill the interface-address sets that do (swap).  Then
 * resolve every set's kernel index for the set matches.
 */
static int sets_create(struct setjob *j) {
        struct iptc_plan *p = j->p;
        _cleanup_free_ char *script = NULL;
        _cleanup_free_ size_t *line_set = NULL; /* script line → set, for ipset's error */
        size_t len = 0, done = 0, lines = 0, caplines = 0;
        FILE *f;
        int r = 0;

        if (p->nsets == 0)
                return 0;
        f = open_memstream(&script, &len);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; r >= 0 && i < p->nsets; i++) {
                const struct xset *s = &p->sets[i];
                char tmp[IPSET_MAXNAMELEN];
                uint16_t idx;
                bool exists = ipset_index(j->fd, s->name, &idx) == 0, known = false;

                if (exists && !s->dynamic)
                        continue; /* named after its contents: already what we want */
                tmp_name(i, tmp);
                if (ipset_index(j->fd, tmp, &idx) == 0)
                        fprintf(f, "destroy %s\n", tmp); /* left over by a crash */
                iptc_set_text(p, s, tmp, false, f);
                if (exists)
                        fprintf(f, "swap %s %s\ndestroy %s\n", tmp, s->name, tmp);
                else {
                        fprintf(f, "rename %s %s\n", tmp, s->name);
                        for (size_t k = 0; k < j->ncreated; k++)
                                known |= streq(j->created[k], s->name);
                        if (!known && j->ncreated < p->nsets)
                                strcpy(j->created[j->ncreated++], s->name);
                }
                if (fflush(f) != 0)
                        r = -ENOMEM;
                /* the lines of set i, to name it if ipset refuses one */
                for (; r >= 0 && done < len; done++)
                        if (script[done] == '\n') {
                                r = GROW(line_set, caplines, lines + 1, (size_t) 1 << 30);
                                if (r >= 0)
                                        line_set[lines++] = i;
                        }
        }
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0)
                return r;
        if (len) {
                unsigned line;
                _cleanup_free_ char *msg = NULL;

                r = ipset_run(j->o, script, len, &line, &msg);
                if (r < 0) {
                        size_t si = line > 0 && line <= lines ? line_set[line - 1] : 0;

                        if (r == -ENOENT && !msg)
                                msg = strdup("the ipset tool is not installed");
                        return set_error(j, &p->sets[si], r, msg);
                }
        }
        for (size_t i = 0; i < p->nsets; i++) {
                r = ipset_index(j->fd, p->sets[i].name, &p->sets[i].index);
                if (r < 0)
                        return set_error(j, &p->sets[i], r, "not found after creating it");
        }
        return 0;
}

/* Destroy sets by name; those still referenced stay (a warning). */
static void sets_destroy(struct setjob *j, char (*names)[IPSET_MAXNAMELEN], size_t n) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *msg = NULL;
                char line[IPSET_MAXNAMELEN + 16];
                unsigned l;
                uint16_t idx;

                if (ipset_index(j->fd, names[i], &idx) < 0)
                        continue;
                snprintf(line, sizeof(line), "destroy %s\n", names[i]);
                if (ipset_run(j->o, line, strlen(line), &l, &msg) < 0)
                        pst_warning(j->diag, NULL, 0, "iptables backend: cannot destroy ipset %s: %s, ignoring",
                                    names[i], msg ? msg : "ipset failed");
        }
}

/* The names of "postern-*" sets the rules of our chains in h use. */
static int collect_set_refs(int fd, const struct handle *h, char (**names)[IPSET_MAXNAMELEN], size_t *n,
                            size_t *cap) {
        const struct fam_ops *ops = &fam_ops[h->xf];

        if (fd < 0)
                return 0;
        for (const char *c = ops->first_chain(h->h); c; c = ops->next_chain(h->h)) {
                if (!handle_chain_ours(h, c))
                        continue;
                for (const void *e = ops->first_rule(c, h->h); e; e = ops->next_rule(e, h->h)) {
                        const uint8_t *b = e;
                        uint16_t toff = entry_target_offset(h->xf, e);

                        for (size_t off = ops->hdr; off < toff;) {
                                const struct xt_entry_match *m = (const struct xt_entry_match *) (b + off);
                                char name[IPSET_MAXNAMELEN];
                                uint16_t idx;
                                bool dup = false;

                                if (m->u.match_size < sizeof(*m))
                                        break;
                                off += m->u.match_size;
                                if (!streq(m->u.user.name, "set"))
                                        continue;
                                /* every revision of xt_set starts with the set's index */
                                memcpy(&idx, m->data, sizeof(idx));
                                if (ipset_name(fd, idx, name) < 0 ||
                                    strncmp(name, PST_IPTC_PREFIX, strlen(PST_IPTC_PREFIX)) != 0)
                                        continue;
                                for (size_t i = 0; i < *n; i++)
                                        dup |= streq((*names)[i], name);
                                if (dup)
                                        continue;
                                if (GROW(*names, *cap, *n + 1, PST_SETS_MAX) < 0)
                                        return -ENOMEM;
                                strcpy((*names)[(*n)++], name);
                        }
                }
        }
        return 0;
}

/* ---- our chains in a handle ---- */

/*
 * Make our part of h hold exactly these chains, empty: flush INPUT, FORWARD
 * and every postern-* chain, delete the postern-* chains not wanted, create
 * the missing ones, set the builtin chains' policies.
 */
static int chains_reset(const struct handle *h, const char *const *names, const char *const *policies,
                        const struct xt_counters *counters, size_t n, struct pst_diag *diag) {
        const struct fam_ops *ops = &fam_ops[h->xf];
        _cleanup_free_ char(*have)[32] = NULL;
        size_t nhave = 0, cap = 0;
        int r;

        for (const char *c = ops->first_chain(h->h); c; c = ops->next_chain(h->h)) {
                if (!handle_chain_ours(h, c))
                        continue;
                r = GROW(have, cap, nhave + 1, PST_CHAINS_MAX + 64);
                if (r < 0)
                        return r;
                snprintf(have[nhave++], 32, "%s", c);
        }
        for (size_t i = 0; i < nhave; i++)
                if (!ops->flush(have[i], h->h))
                        goto fail_errno;
        for (size_t i = 0; i < nhave; i++) {
                bool wanted = false;

                for (size_t k = 0; k < n; k++)
                        wanted |= streq(names[k], have[i]);
                if (wanted || ops->builtin(have[i], h->h))
                        continue;
                if (!ops->delete(have[i], h->h)) {
                        int err = errno;

                        if (h->keep_forward && err == EMLINK)
                                return pst_error(diag, -err, NULL, 0,
                                                 "iptables backend: cannot remove the %s chain %s: FORWARD still "
                                                 "jumps to it, and with forward = \"unmanaged\" FORWARD is not "
                                                 "postern's to change; flush FORWARD (and set its policy), then "
                                                 "let the tool that owns forwarding write it again", ops->what,
                                                 have[i]);
                        return pst_error(diag, -err, NULL, 0,
                                         "iptables backend: cannot remove the %s chain %s: %s (a chain outside "
                                         "postern's still jumps to it?)",
                                         ops->what, have[i], ops->strerror(err));
                }
        }
        for (size_t k = 0; k < n; k++) {
                bool exists = false;

                for (size_t i = 0; i < nhave; i++)
                        exists |= streq(names[k], have[i]);
                if (policies[k]) {
                        struct xt_counters zero = {};

                        if (!ops->set_policy(names[k], policies[k], counters ? (struct xt_counters *) &counters[k]
                                                                              : &zero,
                                             h->h))
                                goto fail_errno;
                } else if (!exists && !ops->create(names[k], h->h))
                        goto fail_errno;
        }
        return 0;

fail_errno:
        r = errno;
        return pst_error(diag, -r, NULL, 0, "iptables backend: %s %s table: %s", ops->what, handle_table(h),
                         ops->strerror(r));
}

/* Remove every jump from PREROUTING / POSTROUTING to a postern-* chain:
 * ours, put back (first) by nat_hook() for the chains still wanted. */
static int nat_unhook(const struct handle *h, struct pst_diag *diag) {
        const struct fam_ops *ops = &fam_ops[h->xf];
        static const char *const builtins[] = { "PREROUTING", "POSTROUTING" };

        for (size_t b = 0; b < ELEMENTSOF(builtins); b++) {
                unsigned num = 0;

                for (const void *e = ops->first_rule(builtins[b], h->h); e;) {
                        const char *t = ops->get_target(e, h->h);

                        if (t && iptc_chain_prefixed(t)) {
                                if (!ops->delete_num(builtins[b], num, h->h))
                                        return pst_error(diag, -errno, NULL, 0, "iptables backend: %s nat table: "
                                                         "%s", ops->what, ops->strerror(errno));
                                /* the rule list changed under the cursor: start again */
                                e = ops->first_rule(builtins[b], h->h);
                                num = 0;
                                continue;
                        }
                        e = ops->next_rule(e, h->h);
                        num++;
                }
        }
        return 0;
}

/* The jump to nat chain c, first in its builtin chain: our port forwards
 * and masquerade come before other tools' NAT rules (the first NAT rule a
 * connection meets decides its mapping). */
static int nat_hook(const struct iptc_plan *p, const struct handle *h, uint32_t c, struct pst_diag *diag) {
        static const struct pst_rule none = {};
        const struct fam_ops *ops = &fam_ops[h->xf];
        struct xrule x = { .chain = c, .ir = &none, .proto = -1, .icmp_type = -1, .verdict = { PST_V_JUMP, c } };
        uint8_t buf[IPTC_ENTRY_MAX] __attribute__((aligned(8)));

        iptc_rule_entry(p, h->xf, &x, buf);
        if (!ops->insert(iptc_nat_builtin(p->rs, c), buf, 0, h->h))
                return pst_error(diag, -errno, NULL, 0, "iptables backend: %s nat table: cannot jump to %s: %s",
                                 ops->what, p->chains[c], ops->strerror(errno));
        return 0;
}

/*
 * Our part of h (table filter, or nat) as the plan has it.  nat holds the
 * nat chains only where this family has NAT rules; elsewhere (a ruleset
 * without NAT, an IPv4-only port forward's IPv6) it ends without ours.
 */
static int build_from_plan(const struct iptc_plan *p, const struct handle *h, struct pst_diag *diag) {
        const struct fam_ops *ops = &fam_ops[h->xf];
        const struct pst_ruleset *rs = p->rs;
        const struct xfamily *fam = &p->fam[h->xf];
        _cleanup_free_ const char **names = NULL, **pols = NULL;
        uint8_t buf[IPTC_ENTRY_MAX] __attribute__((aligned(8)));
        size_t n = 0;
        int r;

        names = calloc(MAX(rs->nchains, 1), sizeof(*names));
        pols = calloc(MAX(rs->nchains, 1), sizeof(*pols));
        if (!names || !pols)
                return -ENOMEM;
        for (size_t i = 0; i < rs->nchains; i++) {
                if (iptc_chain_nat(p, (uint32_t) i) != h->nat || (h->nat && !p->has_nat[h->xf]))
                        continue;
                names[n] = p->chains[i];
                if (rs->chains[i].hook != PST_HOOK_NONE && !h->nat)
                        pols[n] = rs->chains[i].policy == PST_V_ACCEPT ? "ACCEPT" : "DROP";
                n++;
        }
        r = h->nat ? nat_unhook(h, diag) : 0;
        if (r >= 0)
                r = chains_reset(h, names, pols, NULL, n, diag);
        if (r < 0)
                return r;
        for (size_t i = 0; i < fam->n; i++) {
                const struct xrule *x = &fam->rules[i];

                if (iptc_chain_nat(p, x->chain) != h->nat)
                        continue;
                iptc_rule_entry(p, h->xf, x, buf);
                if (!ops->append(p->chains[x->chain], buf, h->h)) {
                        int err = errno;

                        return pst_error(diag, -err, pst_origin_file(rs, x->ir->origin), x->ir->origin.line,
                                         "iptables backend: %s rule refused by libiptc: %s", ops->what,
                                         ops->strerror(err));
                }
        }
        /* POSTROUTING's jump inserted first, PREROUTING's after: each is first in its chain */
        for (size_t i = rs->nchains; h->nat && p->has_nat[h->xf] && i-- > 0;)
                if (rs->chains[i].hook != PST_HOOK_NONE && iptc_chain_nat(p, (uint32_t) i) &&
                    (r = nat_hook(p, h, (uint32_t) i, diag)) < 0)
                        return r;
        return 0;
}

static int build_from_saved(const struct saved *s, const struct handle *h, struct pst_diag *diag) {
        const struct fam_ops *ops = &fam_ops[h->xf];
        _cleanup_free_ const char **names = NULL, **pols = NULL;
        _cleanup_free_ struct xt_counters *counters = NULL;
        int r;

        names = calloc(MAX(s->n, 1), sizeof(*names));
        pols = calloc(MAX(s->n, 1), sizeof(*pols));
        counters = calloc(MAX(s->n, 1), sizeof(*counters));
        if (!names || !pols || !counters)
                return -ENOMEM;
        for (size_t i = 0; i < s->n; i++) {
                names[i] = s->v[i].name;
                pols[i] = s->v[i].policy[0] ? s->v[i].policy : NULL;
                counters[i] = s->v[i].counters;
        }
        r = chains_reset(h, names, pols, counters, s->n, diag);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s->n; i++)
                for (size_t off = 0; off < s->v[i].len; off += entry_size(h->xf, s->v[i].blob + off))
                        if (!ops->append(s->v[i].name, s->v[i].blob + off, h->h)) {
                                r = errno;
                                return pst_error(diag, -r, NULL, 0, "iptables backend: cannot restore a %s rule "
                                                 "of %s: %s", ops->what, s->v[i].name, ops->strerror(r));
                        }
        return 0;
}

static int commit(const struct handle *h) {
        if (fam_ops[h->xf].commit(h->h))
                return 0;
        return errno ? -errno : -EIO;
}

/* Put the saved chains back into the kernel (after the other family failed). */
static int restore_saved(const struct saved *s, struct kmods *km, struct pst_diag *diag) {
        int r = -EAGAIN;

        for (int t = 0; t < COMMIT_TRIES && r == -EAGAIN; t++) {
                _cleanup_(handle_done) struct handle h = { .keep_forward = s->keep_forward, .nat = s->nat,
                                                           .nat_builtins = s->nat };

                r = handle_open(&h, s->xf, km, diag);
                if (r >= 0)
                        r = build_from_saved(s, &h, diag);
                if (r >= 0)
                        r = commit(&h);
        }
        return r;
}

/* ---- apply ---- */

/* Also loads ip_tables / ip6_tables when the kernel has them as modules
 * (what `auto` would need on a kernel without nf_tables). */
int pst_iptc_available(void) {
        _cleanup_(handles_done) struct handle h[2] = {};
        struct kmods km = {};
        struct pst_diag d;
        int r;

        pst_diag_init(&d);
        r = handle_open(&h[XF_4], XF_4, &km, &d);
        if (r >= 0)
                r = handle_open(&h[XF_6], XF_6, &km, &d);
        pst_diag_clear(&d);
        return r;
}

/* Commit a table after the first one went in: on EAGAIN (someone changed
 * it since our snapshot) take a new snapshot and build it again. */
static int commit_later(const struct iptc_plan *p, struct handle *h, struct pst_diag *diag) {
        int r = 0;

        for (int t = 0; r >= 0 && t < COMMIT_TRIES; t++) {
                r = commit(h);
                if (r != -EAGAIN)
                        break;
                handle_done(h);
                r = handle_open(h, h->xf, h->km, diag);
                if (r >= 0)
                        r = build_from_plan(p, h, diag);
                if (r >= 0)
                        r = -EAGAIN;
        }
        return r;
}

/* The test hooks: a negative return fails the step as if the kernel had refused it. */
static int before_commit(const struct pst_iptc_opts *o, int step) {
        if (step == ST_FILTER6 && o->before_v6_commit)
                return o->before_v6_commit(o->userdata);
        if (step >= ST_NAT4 && o->before_nat_commit)
                return o->before_nat_commit(o->userdata, step == ST_NAT4 ? 4 : 6);
        return 0;
}

/* IPv6 was refused (r): put IPv4 back as it was and say what happened. */
static int v6_refused(const struct saved *saved4, struct kmods *km, int r, struct pst_diag *diag) {
        int k = restore_saved(saved4, km, diag);

        if (k < 0)
                return pst_error(diag, r, NULL, 0,
                                 "iptables backend: the kernel refused the IPv6 filter table: %s; AND restoring "
                                 "the previous IPv4 rules failed too (%s): IPv4 has the new rules, IPv6 the old",
                                 ip6tc_strerror(-r), iptc_strerror(-k));
        return pst_error(diag, r, NULL, 0,
                         "iptables backend: the kernel refused the IPv6 filter table: %s; the IPv4 "
                         "table was restored to its previous rules, nothing was changed",
                         ip6tc_strerror(-r));
}

/* A nat table was refused (r) after the filter tables (and IPv4 nat) went
 * in: put those back, the last committed first. */
static int nat_refused(const struct saved *saved, int step, struct kmods *km, int r, struct pst_diag *diag) {
        const char *what = step == ST_NAT4 ? "IPv4" : "IPv6";
        int k = 0;

        for (int s = step - 1; s >= ST_FILTER4; s--)
                if (saved[s].taken) {
                        int q = restore_saved(&saved[s], km, diag);

                        k = k < 0 ? k : q;
                }
        if (k < 0)
                return pst_error(diag, r, NULL, 0,
                                 "iptables backend: the kernel refused the %s nat table: %s; AND restoring the "
                                 "previous rules failed too (%s): the filter tables may have the new rules",
                                 what, strerror(-r), strerror(-k));
        return pst_error(diag, r, NULL, 0,
                         "iptables backend: the kernel refused the %s nat table: %s (does the kernel have "
                         "iptable_nat / ip6table_nat?); the tables committed before it were restored to their "
                         "previous rules, nothing was changed", what, strerror(-r));
}

/* After both commits: destroy the sets only the old rules used. */
static void sets_drop_unused(struct setjob *j, char (*oldrefs)[IPSET_MAXNAMELEN], size_t noldrefs) {
        for (size_t i = 0; i < noldrefs; i++) {
                bool keep = false;

                for (size_t k = 0; k < j->p->nsets; k++)
                        keep |= streq(j->p->sets[k].name, oldrefs[i]);
                if (!keep)
                        sets_destroy(j, &oldrefs[i], 1);
        }
}

/* Does the kernel have table nat of family xf in this namespace already?
 * (Listed in /proc/net/ip{,6}_tables_names once created.) */
static bool nat_table_loaded(int xf) {
        _cleanup_fclose_ FILE *f = fopen(xf == XF_4 ? "/proc/net/ip_tables_names" : "/proc/net/ip6_tables_names", "re");
        char line[64];
        bool found = false;

        while (f && fgets(line, sizeof(line), f))
                found |= streq(line, "nat\n");
        return found;
}

static bool handle_has_ours(const struct handle *h) {
        const struct fam_ops *ops = &fam_ops[h->xf];

        for (const char *c = ops->first_chain(h->h); c; c = ops->next_chain(h->h))
                if (handle_chain_ours(h, c))
                        return true;
        return false;
}

/*
 * Table nat of family xf, when the plan writes it or it holds chains of
 * ours to remove; else h stays closed (that step is skipped).  A ruleset
 * without NAT never makes the kernel create the table: that would hook
 * nat into this namespace's conntrack for nothing.
 */
static int nat_open(const struct iptc_plan *p, struct handle *h, struct kmods *km, struct pst_diag *diag) {
        int r;

        if (!p->has_nat[h->xf] && !nat_table_loaded(h->xf))
                return 0;
        r = handle_open(h, h->xf, km, diag);
        if (r < 0)
                return r;
        if (!p->has_nat[h->xf] && !handle_has_ours(h))
                handle_done(h);
        return 0;
}

static void saved_clear_all(struct saved (*s)[_ST_MAX]) {
        for (int k = 0; k < _ST_MAX; k++)
                saved_clear(&(*s)[k]);
}

/* The transaction as one story, in the order iptc.h promises. */
static int apply_once(struct iptc_plan *p, const struct pst_iptc_opts *o, struct setjob *j, struct pst_diag *diag,
                      bool *ret_retry) {
        bool keep = rs_keeps_forward(p->rs);
        _cleanup_(steps_done) struct handle h[_ST_MAX] = {
                [ST_FILTER4] = { .xf = XF_4, .keep_forward = keep }, [ST_FILTER6] = { .xf = XF_6, .keep_forward = keep },
                [ST_NAT4] = { .xf = XF_4, .nat = true },             [ST_NAT6] = { .xf = XF_6, .nat = true },
        };
        _cleanup_(saved_clear_all) struct saved saved[_ST_MAX] = {};
        _cleanup_free_ char(*oldrefs)[IPSET_MAXNAMELEN] = NULL;
        size_t noldrefs = 0, capold = 0;
        int r;

        *ret_retry = false;
        r = handle_open(&h[ST_FILTER4], XF_4, &j->km, diag);
        if (r >= 0)
                r = handle_open(&h[ST_FILTER6], XF_6, &j->km, diag);
        for (int k = ST_NAT4; r >= 0 && k <= ST_NAT6; k++)
                r = nat_open(p, &h[k], &j->km, diag);
        /* every snapshot before anything is built: what a later refusal puts back */
        for (int k = ST_FILTER4; r >= 0 && k < _ST_MAX; k++)
                if (h[k].h && (r = saved_take(&saved[k], &h[k])) >= 0)
                        r = collect_set_refs(j->fd, &h[k], &oldrefs, &noldrefs, &capold);
        if (r >= 0 && !o->check_only)
                r = sets_create(j);
        /* every table built before any is committed: what libiptc
         * refuses is found while nothing has changed yet */
        for (int k = ST_FILTER4; r >= 0 && k < _ST_MAX; k++)
                if (h[k].h)
                        r = build_from_plan(p, &h[k], diag);
        if (r < 0 || o->check_only)
                return r;

        r = commit(&h[ST_FILTER4]);
        if (r == -EAGAIN) {
                *ret_retry = true;
                return r;
        }
        if (r < 0)
                return pst_error(diag, r, NULL, 0, "iptables backend: the kernel refused the IPv4 filter table: %s; "
                                 "nothing was changed", iptc_strerror(-r));
        for (int k = ST_FILTER6; k < _ST_MAX; k++) {
                if (!h[k].h)
                        continue;
                r = before_commit(o, k);
                if (r >= 0)
                        r = commit_later(p, &h[k], diag);
                if (r < 0)
                        return k == ST_FILTER6 ? v6_refused(&saved[ST_FILTER4], &j->km, r, diag)
                                               : nat_refused(saved, k, &j->km, r, diag);
        }
        sets_drop_unused(j, oldrefs, noldrefs);
        j->ncreated = 0; /* in use now */
        return 0;
}

int pst_iptc_apply(const struct pst_ruleset *rs, const struct pst_iptc_opts *o, struct pst_diag *diag) {
        static const struct pst_iptc_opts defaults = {};
        _cleanup_(iptc_plan_freep) struct iptc_plan *p = NULL;
        _cleanup_(setjob_done) struct setjob j = { .fd = -1, .diag = diag };
        bool use_ipset, retry = false;
        char why[512];
        int r;

        if (!o)
                o = &defaults;
        j.km.helper = o->modprobe_path;
        use_ipset = ipset_usable(o, &j.km, why, sizeof(why)) == 0;
        if (!use_ipset && rs->nsets > 0 && why[0])
                pst_warning(diag, NULL, 0, "iptables backend: no ipset: %s; address sets are written as rules (at "
                            "most %u elements each)", why, PST_IPTC_NOIPSET_MAX);
        r = iptc_plan_build(rs, use_ipset, why[0] ? why : NULL, diag, &p);
        if (r < 0)
                return r;
        j.p = p;
        j.o = o;
        /* also without ipset for these rules: the old ones may have used sets */
        j.fd = ipset_socket();
        if (j.fd >= 0 && ipset_kernel_ok(j.fd) < 0) {
                close(j.fd);
                j.fd = -1;
        }
        if (use_ipset && j.fd < 0)
                return pst_error(diag, -EIO, NULL, 0, "iptables backend: ipset socket: %m");
        j.created = calloc(MAX(p->nsets, 1), sizeof(*j.created));
        if (!j.created)
                return -ENOMEM;
        for (int t = 0; t < COMMIT_TRIES; t++) {
                r = apply_once(p, o, &j, diag, &retry);
                if (!retry)
                        break;
        }
        if (retry)
                r = pst_error(diag, -EAGAIN, NULL, 0, "iptables backend: the IPv4 filter table kept changing "
                              "under us; nothing was changed");
        if (r < 0 && j.ncreated)
                sets_destroy(&j, j.created, j.ncreated);
        return r;
}

int pst_iptc_update_set(const struct pst_ruleset *rs, const struct pst_iptc_opts *o, uint32_t set,
                        struct pst_diag *diag) {
        static const struct pst_iptc_opts defaults = {};
        _cleanup_(iptc_plan_freep) struct iptc_plan *p = NULL;
        _cleanup_(setjob_done) struct setjob j = { .fd = -1, .diag = diag };
        uint16_t idx;
        char why[512];
        int r, is;

        if (!o)
                o = &defaults;
        if (set >= rs->nsets || !(rs->sets[set].flags & PST_SET_DYNAMIC))
                return pst_error(diag, -EINVAL, NULL, 0, "iptables backend: set %u is not an interface-address set",
                                 set);
        j.km.helper = o->modprobe_path;
        if (ipset_usable(o, &j.km, why, sizeof(why)) < 0)
                return pst_iptc_apply(rs, o, diag); /* the addresses are in the rules: replace them */
        r = iptc_plan_one_set(rs, set, diag, &p, &is);
        if (r < 0)
                return r;
        j.p = p;
        j.o = o;
        j.created = calloc(1, sizeof(*j.created));
        if (!j.created)
                return -ENOMEM;
        j.fd = ipset_socket();
        if (j.fd < 0)
                return pst_error(diag, j.fd, NULL, 0, "iptables backend: ipset socket: %s", strerror(-j.fd));
        if (ipset_index(j.fd, p->sets[is].name, &idx) < 0)
                return pst_iptc_apply(rs, o, diag); /* not applied through ipset before: the whole ruleset */
        return sets_create(&j); /* the set exists: a swap */
}
