/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Anti-lockout: would a new ruleset cut the SSH connection the command
 * arrived over?  The caller passes the connection as sshd describes it
 * (the SSH_CONNECTION environment variable: "CLIENT_IP CLIENT_PORT
 * SERVER_IP SERVER_PORT"); the library reads no process state.  The
 * connection becomes the packet that opened it — tcp, ct state new, from
 * the client to the server's port, arriving on the interface a route
 * lookup towards the client names — and the evaluator (eval.h) says what
 * chain input would do with it.
 */

#include <net/if.h>
#include <stdint.h>

#include "diag.h"
#include "eval.h"
#include "ifaddr.h"
#include "ir.h"
#include "pipeline.h"

struct pst_ssh_conn {
        uint8_t family;              /* AF_INET or AF_INET6 (IPv4-mapped IPv6 becomes AF_INET) */
        uint8_t client[16], server[16];
        uint16_t client_port, server_port;
        char scope[IFNAMSIZ];        /* "fe80::1%eth0": the interface sshd named, else "" */
};

/*
 * Parse an SSH_CONNECTION value.  -EINVAL, with a message in diag naming
 * the value and what was expected, for anything but four fields: two
 * addresses of one family and two ports 1..65535.
 */
int pst_ssh_connection_parse(const char *s, struct pst_ssh_conn *ret, struct pst_diag *diag);

/*
 * The interface the kernel of the current network namespace would send a
 * packet to dst by (RTM_GETROUTE, the main routing decision): the one a
 * host's packets from dst arrive on when routing is symmetric.  A local
 * address gives "lo".  The kernel's negative errno (-ENETUNREACH, ...) when
 * it has no route.
 */
int pst_route_ifname(uint8_t family, const uint8_t *dst, char ret[IFNAMSIZ]);
/* The same, with the route's type (RTN_UNICAST, RTN_LOCAL, RTN_BROADCAST,
 * RTN_MULTICAST, ...): what decides whether a packet to dst is delivered
 * here (input) or forwarded. */
int pst_route_lookup(uint8_t family, const uint8_t *dst, char ret_ifname[IFNAMSIZ], unsigned *ret_type);

/* The packet that opened conn, arriving on iifname (tcp, ct state new). */
void pst_ssh_conn_packet(const struct pst_ssh_conn *conn, const char *iifname, struct pst_packet *ret);

/*
 * 0 when new_rs accepts the SSH connection ssh_connection describes (NULL
 * or "": not run over SSH, nothing to check), -EACCES when it would drop
 * it, with one error in diag:
 *
 *   your SSH connection 198.18.0.5 port 50122 → 198.18.0.1 port 22 (via
 *   eth0) would be dropped by the new policy: no rule in input accepts
 *   tcp/22 from 198.18.0.5[; today /etc/postern/postern.conf:12
 *   (ssh) accepts it][; HINT]
 *
 * A connection to an address this network namespace does not hold (ifa)
 * ends elsewhere — another host, another namespace — and is not this
 * ruleset's to cut: 0.
 *
 * live (may be NULL): what is installed now, to name the policy line and
 * service that accept the connection today (pst_eval_explain(); without a
 * policy, e.g. the emergency ruleset, the rule as pst_eval_describe() names
 * it).  ifa (may be NULL: then read from the
 * kernel): the host's addresses; when the route lookup towards the client
 * fails, the interface holding the server address is taken.  hint
 * (may be NULL): what the caller's user can do, e.g. "use --force to apply
 * it anyway".  -EINVAL (and a message) for a malformed ssh_connection;
 * another negative errno when the addresses cannot be read.
 */
int pst_lockout_check(const struct pst_ruleset *new_rs, const struct pst_compiled *live,
                      const char *ssh_connection, const struct pst_ifaddrs *ifa, const char *hint,
                      struct pst_diag *diag);
