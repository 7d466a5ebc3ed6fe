/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the host listens on: TCP sockets in LISTEN and unconnected UDP
 * sockets, IPv4 and IPv6, from NETLINK_SOCK_DIAG (inet_diag), with the
 * name of a process that holds each one where /proc tells (root sees all;
 * others only their own processes).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "util.h"

#define PST_LISTENERS_MAX 65536
#define PST_PROC_FDS_MAX 4000000 /* /proc/PID/fd entries looked at, in all */

struct pst_listener {
        uint8_t l4proto; /* IPPROTO_TCP, IPPROTO_UDP */
        uint16_t port;
        struct pst_addr addr; /* the local address; all zeros = any */
        bool v6only;          /* an IPv6 wildcard that does not take IPv4 too (unknown: false) */
        uint32_t inode;
        char comm[16]; /* "" when unknown */
};

struct pst_listeners {
        size_t n, cap;
        struct pst_listener *v;
};

/* Dump the sockets; -EPROTONOSUPPORT when the kernel has no inet_diag (for UDP, udp_diag). */
int pst_listeners_load(struct pst_listeners *l);
/* Fill comm from /proc (proc: "/proc", or another root for tests). */
int pst_listeners_name(struct pst_listeners *l, const char *proc);
void pst_listeners_clear(struct pst_listeners *l);
/*
 * "dovecot listens on *:993", "something listens on 198.18.0.1:53" (process
 * not known), joined by ", " for several; "" when nothing listens on the port.
 */
void pst_listeners_describe(const struct pst_listeners *l, uint8_t l4proto, uint16_t port, char *buf, size_t size);
