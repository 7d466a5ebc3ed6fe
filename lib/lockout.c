/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lockout.h"
#include "nlreq.h"

#define SSH_CONNECTION_MAX 256 /* two IPv6 addresses with scopes and two ports fit many times */

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* One address field: IPv4, IPv6, "fe80::1%eth0"; IPv4-mapped IPv6 as IPv4
 * (the kernel's conntrack and nf_tables see an IPv4 packet then). */
static int parse_ip(char *s, uint8_t *ret_family, uint8_t a[16], char scope[IFNAMSIZ]) {
        char *pct = strchr(s, '%');

        memset(a, 0, 16);
        if (pct) {
                if (strlen(pct + 1) == 0 || strlen(pct + 1) >= IFNAMSIZ)
                        return -EINVAL;
                snprintf(scope, IFNAMSIZ, "%s", pct + 1);
                *pct = 0;
        }
        if (!pct && inet_pton(AF_INET, s, a) == 1) {
                *ret_family = AF_INET;
                return 0;
        }
        if (inet_pton(AF_INET6, s, a) != 1)
                return -EINVAL;
        if (memcmp(a, v4mapped, 12) == 0) {
                memmove(a, a + 12, 4);
                memset(a + 4, 0, 12);
                *ret_family = AF_INET;
        } else
                *ret_family = AF_INET6;
        return 0;
}

static int parse_port(const char *s, uint16_t *ret) {
        char *end;
        unsigned long v;

        if (!s[0] || s[0] < '0' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end || v < 1 || v > 65535)
                return -EINVAL;
        *ret = (uint16_t) v;
        return 0;
}

int pst_ssh_connection_parse(const char *s, struct pst_ssh_conn *ret, struct pst_diag *diag) {
        static const char *const what[] = { "client address", "client port", "server address", "server port" };
        char buf[SSH_CONNECTION_MAX], *field[5] = {}, *save = NULL;
        struct pst_ssh_conn c = {};
        char scope2[IFNAMSIZ] = "";
        uint8_t fam2 = 0;
        size_t n = 0;
        int r = 0;

        if (strlen(s) >= sizeof(buf))
                return pst_error(diag, -EINVAL, NULL, 0, "SSH_CONNECTION is %zu bytes long: expected "
                                 "\"CLIENT_IP CLIENT_PORT SERVER_IP SERVER_PORT\"", strlen(s));
        snprintf(buf, sizeof(buf), "%s", s);
        for (char *t = strtok_r(buf, " \t", &save); t && n < 5; t = strtok_r(NULL, " \t", &save))
                field[n++] = t;
        if (n != 4)
                return pst_error(diag, -EINVAL, NULL, 0, "SSH_CONNECTION \"%s\" has %s%zu fields: expected "
                                 "\"CLIENT_IP CLIENT_PORT SERVER_IP SERVER_PORT\"", s, n > 4 ? "more than " : "",
                                 n > 4 ? (size_t) 4 : n);
        for (size_t i = 0; r >= 0 && i < 4; i++) {
                if (i == 0)
                        r = parse_ip(field[0], &c.family, c.client, c.scope);
                else if (i == 2)
                        r = parse_ip(field[2], &fam2, c.server, scope2);
                else
                        r = parse_port(field[i], i == 1 ? &c.client_port : &c.server_port);
                if (r < 0)
                        return pst_error(diag, -EINVAL, NULL, 0,
                                         "SSH_CONNECTION \"%s\": the %s \"%s\" is not %s", s, what[i], field[i],
                                         i % 2 ? "a port number 1..65535" : "an IPv4 or IPv6 address");
        }
        if (c.family != fam2)
                return pst_error(diag, -EINVAL, NULL, 0,
                                 "SSH_CONNECTION \"%s\": the client and server addresses are of different families",
                                 s);
        if (!c.scope[0])
                memcpy(c.scope, scope2, IFNAMSIZ);
        *ret = c;
        return 0;
}

struct route_answer {
        int oif;
        unsigned type;
};

static int route_attr_cb(const struct nlattr *a, void *data) {
        struct route_answer *ans = data;

        if (mnl_attr_get_type(a) == RTA_OIF && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                ans->oif = (int) mnl_attr_get_u32(a);
        return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data) {
        struct route_answer *ans = data;

        if (nlh->nlmsg_type != RTM_NEWROUTE || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg)))
                return MNL_CB_OK;
        ans->type = ((const struct rtmsg *) mnl_nlmsg_get_payload(nlh))->rtm_type;
        mnl_attr_parse(nlh, sizeof(struct rtmsg), route_attr_cb, data);
        /* one answer to a non-dump GETROUTE: done (its ACK is left unread) */
        return MNL_CB_STOP;
}

int pst_route_ifname(uint8_t family, const uint8_t *dst, char ret[IFNAMSIZ]) {
        unsigned type;

        return pst_route_lookup(family, dst, ret, &type);
}

int pst_route_lookup(uint8_t family, const uint8_t *dst, char ret_ifname[IFNAMSIZ], unsigned *ret_type) {
        char buf[1024]; /* a header, an rtmsg and one address */
        struct route_answer ans = { .oif = 0 };
        struct nlmsghdr *nlh;
        struct rtmsg *rtm;
        char name[IF_NAMESIZE];
        int r;

        if (family != AF_INET && family != AF_INET6)
                return -EAFNOSUPPORT;
        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_GETROUTE;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
        rtm->rtm_family = family;
        rtm->rtm_dst_len = family == AF_INET ? 32 : 128;
        mnl_attr_put(nlh, RTA_DST, family == AF_INET ? 4 : 16, dst);
        r = pst_nl_request(NETLINK_ROUTE, nlh, route_cb, &ans);
        if (r < 0)
                return r;
        if (ans.oif <= 0)
                return -ENETUNREACH;
        if (!if_indextoname((unsigned) ans.oif, name))
                return -errno;
        snprintf(ret_ifname, IFNAMSIZ, "%s", name);
        *ret_type = ans.type;
        return 0;
}

void pst_ssh_conn_packet(const struct pst_ssh_conn *conn, const char *iifname, struct pst_packet *ret) {
        *ret = (struct pst_packet) { .family = conn->family, .l4proto = IPPROTO_TCP, .sport = conn->client_port,
                                     .dport = conn->server_port, .ct_state = PST_CT_NEW };
        memcpy(ret->saddr, conn->client, 16);
        memcpy(ret->daddr, conn->server, 16);
        snprintf(ret->iifname, IFNAMSIZ, "%s", iifname);
}

/* The interface holding addr in ifa, or -ENXIO. */
static int ifname_holding(const struct pst_ifaddrs *ifa, uint8_t family, const uint8_t *addr,
                          char ret[IFNAMSIZ]) {
        for (size_t i = 0; i < ifa->n; i++)
                if (ifa->v[i].addr.family == family && memcmp(ifa->v[i].addr.a, addr, pst_addr_len(family)) == 0) {
                        snprintf(ret, IFNAMSIZ, "%s", ifa->v[i].ifname);
                        return 0;
                }
        return -ENXIO;
}

/*
 * Where the connection arrives: sshd's scope, the route towards the client,
 * else the interface holding the server address.  1 when it ends here; 0
 * when the server address is none of this namespace's (ifa, or the
 * kernel's list): the connection ends on another host or in another
 * network namespace, and this namespace's ruleset never sees it.
 */
static int conn_arrives(const struct pst_ssh_conn *conn, const struct pst_ifaddrs *ifa, char ret[IFNAMSIZ]) {
        struct pst_ifaddrs own = {};
        char holder[IFNAMSIZ];
        int r;

        if (!ifa) {
                r = pst_ifaddrs_dump(&own);
                if (r < 0)
                        return r;
                ifa = &own;
        }
        r = ifname_holding(ifa, conn->family, conn->server, holder);
        pst_ifaddrs_clear(&own);
        if (r < 0)
                return 0;
        if (conn->scope[0])
                snprintf(ret, IFNAMSIZ, "%s", conn->scope);
        else if (pst_route_ifname(conn->family, conn->client, ret) < 0)
                memcpy(ret, holder, IFNAMSIZ);
        return 1;
}

/* "no rule in input accepts tcp/22 from 198.18.0.5" or "rule 2 of chain input (built in) drops it" */
static void why_dropped(const struct pst_ruleset *rs, const struct pst_eval_result *res,
                        const struct pst_packet *pkt, const char *client, char *buf, size_t n) {
        const struct pst_rule *r;
        char svc[32], rule[256];

        if (res->by_policy) {
                pst_packet_service(pkt, svc, sizeof(svc));
                snprintf(buf, n, "no rule in %s accepts %s from %s",
                         res->chain < rs->nchains ? rs->chains[res->chain].name : "input", svc, client);
                return;
        }
        pst_eval_describe(rs, res, rule, sizeof(rule));
        r = &rs->chains[res->chain].rules[res->rule];
        /* the one built-in drop a new connection can meet: the compiler's IPv6-off rule */
        if (res->origin.line == 0 && r->nmatch == 1 && r->match[0].op == PST_M_EQ &&
            r->match[0].fields[0] == PST_F_NFPROTO)
                snprintf(buf, n, "%s drops all IPv6 (the policy says options.ipv6 = false)", rule);
        else
                snprintf(buf, n, "%s drops it", rule);
}

/* "; today /etc/postern/postern.conf:12 (ssh) accepts it", or "" when live does not accept pkt */
static void accepted_today(const struct pst_compiled *live, const struct pst_packet *pkt, char *buf, size_t n) {
        struct pst_eval_result res;
        const char *svc, *group;
        struct pst_loc loc;
        char rule[256];

        buf[0] = 0;
        if (!live || !live->ruleset || pst_eval(live->ruleset, PST_HOOK_INPUT, pkt, &res) < 0 ||
            res.verdict != PST_V_ACCEPT || res.by_policy)
                return;
        if (pst_eval_explain(live->policy, live->ruleset, &res, pkt, &loc, &svc, &group) >= 0) {
                snprintf(buf, n, "; today %s:%u (%s%s%s) accepts it", loc.file, loc.line, svc,
                         group ? " in group " : "", group ?: "");
                return;
        }
        pst_eval_describe(live->ruleset, &res, rule, sizeof(rule));
        snprintf(buf, n, "; today %s accepts it", rule);
}

int pst_lockout_check(const struct pst_ruleset *new_rs, const struct pst_compiled *live,
                      const char *ssh_connection, const struct pst_ifaddrs *ifa, const char *hint,
                      struct pst_diag *diag) {
        char client[INET6_ADDRSTRLEN], server[INET6_ADDRSTRLEN], ifname[IFNAMSIZ], why[320], today[300] = "";
        struct pst_eval_result res;
        struct pst_ssh_conn conn;
        struct pst_packet pkt;
        int r;

        if (!ssh_connection || !ssh_connection[0])
                return 0;
        r = pst_ssh_connection_parse(ssh_connection, &conn, diag);
        if (r < 0)
                return r;
        inet_ntop(conn.family, conn.client, client, sizeof(client));
        inet_ntop(conn.family, conn.server, server, sizeof(server));
        r = conn_arrives(&conn, ifa, ifname);
        if (r < 0)
                return pst_error(diag, r, NULL, 0, "cannot read interface addresses for the SSH connection check: %m");
        if (r == 0)
                return 0;
        pst_ssh_conn_packet(&conn, ifname, &pkt);
        r = pst_eval(new_rs, PST_HOOK_INPUT, &pkt, &res);
        if (r < 0)
                return pst_error(diag, r, NULL, 0, "cannot evaluate the new ruleset for your SSH connection: %s",
                                 strerror(-r));
        if (res.verdict == PST_V_ACCEPT)
                return 0;
        why_dropped(new_rs, &res, &pkt, client, why, sizeof(why));
        accepted_today(live, &pkt, today, sizeof(today));
        return pst_error(diag, -EACCES, NULL, 0,
                         "your SSH connection %s port %u → %s port %u (via %s) would be dropped by the new policy: "
                         "%s%s%s%s",
                         client, conn.client_port, server, conn.server_port, ifname, why, today, hint ? "; " : "",
                         hint ? hint : "");
}
