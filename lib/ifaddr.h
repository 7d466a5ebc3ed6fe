/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Interface addresses: the list the compiler takes (interface name + host
 * address), the one parser of RTM_NEWADDR/RTM_DELADDR that posternd's
 * monitor and the one-shot dump share, and that dump.  No libsystemd here:
 * posternctl links this without it.
 */

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct nlmsghdr;

#define PST_IFADDRS_MAX 65536

struct pst_ifaddr {
        char ifname[IFNAMSIZ];
        struct pst_addr addr; /* a host address (full prefix length) */
        bool linklocal;       /* in 169.254.0.0/16 or fe80::/10: only "(IFNAME, link)" takes it */
};

struct pst_ifaddrs {
        size_t n, cap;
        struct pst_ifaddr *v;
};

/* Is addr link-local (169.254.0.0/16, fe80::/10)?  Decided by the address
 * itself, not by the scope it was configured with: what the address means
 * on the wire, the same for the daemon, the dump and --ifaddr. */
bool pst_addr_is_linklocal(const struct pst_addr *addr);
/* Sets the entry's linklocal from the address. */
int pst_ifaddrs_add(struct pst_ifaddrs *ifa, const char *ifname, const struct pst_addr *addr);
/* A copy of ifa in *ret (which it does not free first). */
int pst_ifaddrs_copy(const struct pst_ifaddrs *ifa, struct pst_ifaddrs *ret);
void pst_ifaddrs_clear(struct pst_ifaddrs *ifa);

/* One address as rtnetlink reports it. */
struct pst_ifaddr_msg {
        int ifindex;
        uint8_t family; /* AF_INET or AF_INET6 */
        uint8_t prefixlen;
        uint32_t flags;      /* IFA_FLAGS, else ifa_flags: IFA_F_TENTATIVE, IFA_F_DADFAILED, ... */
        uint8_t local[16];   /* IFA_LOCAL, else IFA_ADDRESS: what the host answers on */
        uint8_t address[16]; /* IFA_ADDRESS: the peer on point-to-point links (zero if absent); part of
                              * the kernel's key, so a DELADDR matches its NEWADDR only with it */
};

/*
 * Parse an RTM_NEWADDR/RTM_DELADDR message.  -EAFNOSUPPORT for a family
 * other than IPv4/IPv6 (nothing of ours), -EBADMSG when it is too short or
 * carries no address of the family's length.
 */
int pst_ifaddr_parse(const struct nlmsghdr *nlh, struct pst_ifaddr_msg *ret);

/* Does the host answer on it?  Not while IPv6 DAD runs (tentative, unless
 * optimistic) nor after it failed; deprecated addresses do count: they
 * still carry the connections made to them. */
bool pst_ifaddr_msg_usable(const struct pst_ifaddr_msg *msg);

/* The host address the firewall matches: local at the full prefix length. */
void pst_ifaddr_msg_host(const struct pst_ifaddr_msg *msg, struct pst_addr *ret);

/* Every usable IPv4 and IPv6 address (IFA_LOCAL where present: on a
 * point-to-point link IFA_ADDRESS is the peer) of every interface, by name. */
int pst_ifaddrs_dump(struct pst_ifaddrs *ret);
