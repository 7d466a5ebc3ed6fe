/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>

#include "compile.h"
#include "emergency.h"

/* ---- the policy block ---- */

static int from_item(struct pst_cfg *c, const config_setting_t *item, void *userdata) {
        struct pst_emergency *e = userdata;
        const char *v;
        bool hostbits = false;
        int r;

        if (pst_cfg_string(c, item, "emergency.ssh_from", PST_ADDR_STRLEN, &v) < 0)
                return -EINVAL;
        if (e->nfrom >= PST_EMERGENCY_FROM_MAX)
                return pst_cfg_error(c, item, "emergency.ssh_from: at most %d networks", PST_EMERGENCY_FROM_MAX);
        r = pst_addr_parse(v, &e->from[e->nfrom], &hostbits);
        if (r < 0)
                return pst_cfg_error(c, item, "emergency.ssh_from '%s' is not %s", v,
                                     hostbits ? "a network: host bits are set below the prefix length"
                                              : "an IPv4 or IPv6 address or network");
        e->nfrom++;
        return 0;
}

int pst_emergency_parse(struct pst_cfg *c, const config_setting_t *g, struct pst_emergency *e) {
        static const char *const keys[] = { "ssh", "ssh_from", NULL };
        const config_setting_t *s, *from;
        bool ssh_set = false;
        int r = 0;

        *e = (struct pst_emergency) { .loc = pst_cfg_loc(c, g) };
        if (pst_cfg_group(c, g, "emergency") < 0)
                return -EINVAL;
        if (pst_cfg_check_keys(c, g, "emergency", keys) < 0)
                r = -EINVAL;
        if ((s = config_setting_get_member(g, "ssh"))) {
                if (pst_cfg_bool(c, s, "emergency.ssh", &e->ssh) < 0)
                        r = -EINVAL;
                else
                        ssh_set = true;
        }
        if ((from = config_setting_get_member(g, "ssh_from"))) {
                if (pst_cfg_foreach_scalar(c, from, "emergency.ssh_from", false, from_item, e) < 0)
                        r = -EINVAL;
                else if (ssh_set && !e->ssh)
                        r = pst_cfg_error(c, from, "emergency.ssh_from is set but emergency.ssh is false");
                else
                        e->ssh = true;
        }
        return r;
}

int pst_emergency_load(const char *path, unsigned source_flags, struct pst_diag *diag, struct pst_emergency *ret) {
        struct pst_strpool files = {};
        struct pst_cfg c = { .files = &files, .diag = diag, .main_file = path, .source_flags = source_flags };
        const config_setting_t *g;
        config_t cfg;
        int r;

        config_init(&cfg);
        r = pst_cfg_read(&c, &cfg, path);
        if (r >= 0) {
                g = config_setting_get_member(config_root_setting(&cfg), "emergency");
                r = g ? pst_emergency_parse(&c, g, ret) : -ENOENT;
        }
        if (r >= 0)
                ret->loc.file = NULL; /* the pool goes away with this function */
        config_destroy(&cfg);
        pst_strpool_clear(&files);
        return r;
}

/* ---- the ruleset ---- */

/*
 * The emergency ruleset is what the compiler makes of a built-in policy with
 * no zones and at most one rule (SSH), so its prelude is, by construction,
 * the one of every compiled policy.
 */
int pst_emergency_ruleset(const struct pst_emergency *e, struct pst_ruleset **ret) {
        static const struct pst_service ssh = { .name = "ssh", .ntcp = 1, .tcp = { { 22, 22 } } };
        const struct pst_service *svc[] = { &ssh };
        struct pst_endpoint from[PST_EMERGENCY_FROM_MAX], to = { .kind = PST_EP_ANY };
        struct pst_prule rule = {
                .chain = PST_INPUT,
                .loc = { .file = "(emergency)" },
                .nsvc = 1,
                .svc = svc,
                .from = from,
                .nto = 1,
                .to = &to,
                .comment = "postern emergency: admin ssh",
        };
        struct pst_policy p = {
                .path = (char *) "(emergency)",
                .options = { .ipv6 = true, .icmp = PST_ICMP_ESSENTIAL, .forward_icmp = PST_ICMP_NONE },
                .nrules = e && e->ssh,
                .rules = &rule,
        };
        struct pst_diag d;
        int r;

        if (e && e->ssh) {
                for (size_t i = 0; i < e->nfrom; i++)
                        from[i] = (struct pst_endpoint) { .kind = PST_EP_ADDRS, .lit = e->from[i] };
                rule.nfrom = e->nfrom;
                if (rule.nfrom == 0)
                        from[rule.nfrom++] = (struct pst_endpoint) { .kind = PST_EP_ANY };
        }
        pst_diag_init(&d);
        r = pst_compile(&p, NULL, &d, ret);
        pst_diag_clear(&d);
        return r;
}
