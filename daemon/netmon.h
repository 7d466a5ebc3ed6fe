/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * rtnetlink, the ground truth for links and addresses.  A leaf: it knows
 * nothing of the manager; it hands whoever created it a snapshot.
 *
 * One NETLINK_ROUTE socket subscribed to RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR
 * and RTNLGRP_IPV6_IFADDR, on sd-event, feeding an in-memory table
 * (ifindex → name, addresses per ifindex).  Whenever the address view
 * changed, the handler gets a snapshot: every address of every named link.
 * A burst is coalesced: each wakeup reads everything the socket holds, and
 * the first event that changes the address view enables a one-shot defer
 * source; the snapshot is built and handed over when it runs, on the next
 * event-loop iteration.  ENOBUFS (the kernel dropped events) and D-Bus
 * hints lead to a full dump instead.
 *
 * Why a defer source: it runs on the next loop iteration, after the queued
 * messages are read — a burst is "what the kernel had queued when we woke
 * up".  pppd's address setup (NEWADDR, DELADDR, NEWADDR from three ioctls
 * within microseconds) usually arrives whole; when a straggler does not, it
 * costs one more set update of ~0.1 ms, and the set meanwhile shows what
 * the kernel shows.  A 5 ms window was tried first: it made every address
 * change 5 ms late, against an event→commit target of under 1 ms.  A 0 µs
 * timer gave the same semantics as the defer source but needed a clock
 * read, a timerfd re-arm per burst and an accuracy of 1 µs (sd-event's
 * default of 250 ms swallowed the point).  A post source would run after
 * every dispatched source (each D-Bus message too) and need a dirty check;
 * the defer is enabled only by a change.
 */

#include <libmnl/libmnl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "ifaddr.h"
#include "util.h"

#define NETMON_LINKS_MAX 65536

struct netmon;

/*
 * The address view changed (or a full re-read was asked for): snapshot
 * holds every address of every named link, by name, and is valid during
 * the call only.  first_event_usec: CLOCK_MONOTONIC of the burst's first
 * event (0: none, the initial dump).  The return value is what
 * netmon_resync() and netmon_start() return; elsewhere it is ignored.
 */
typedef int (*netmon_handler_t)(struct netmon *nm, const struct pst_ifaddrs *snapshot, uint64_t first_event_usec,
                                void *userdata);

int netmon_new(sd_event *e, netmon_handler_t handler, void *userdata, struct netmon **ret);
void netmon_free(struct netmon *nm);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct netmon *, netmon_free);

/* Subscribe, attach to the event loop, read the initial state (one dump)
 * and hand it to the handler.  Returns the handler's result. */
int netmon_start(struct netmon *nm);

/* Full dump now (synchronously), replacing the table; the handler gets the
 * snapshot before this returns (also when nothing changed: the caller
 * compares with what is installed).  Returns the handler's result. */
int netmon_resync(struct netmon *nm);
/* A re-check soon: a full dump when the defer source runs. */
int netmon_request_resync(struct netmon *nm);

/* Queries on netmon's own table */
bool netmon_has_link(struct netmon *nm, const char *ifname);
uint64_t netmon_resyncs(struct netmon *nm); /* full re-reads after the initial dump */
size_t netmon_nlinks(struct netmon *nm);
size_t netmon_naddrs(struct netmon *nm);

/* ---- the seam, for the io handler, tests and fuzzers ---- */

/* Apply one datagram of rtnetlink messages (as the kernel sent them) to the
 * table; a change of the address view enables the defer source.  Messages
 * other than RTM_{NEW,DEL}{LINK,ADDR} and malformed ones are skipped.
 * After netmon_start(). */
void netmon_process(struct netmon *nm, const void *buf, size_t len);

/* Where events and dumps come from: the rtnetlink socket unless a test
 * sets its own with netmon_set_source() before netmon_start(). */
struct netmon_source {
        /* polled for EPOLLIN (-1: never); recv() is called while it is readable */
        int fd;
        /* One datagram into buf: its length; 0 for one to skip (not from the
         * kernel, truncated); -EAGAIN when nothing is queued; -ENOBUFS when
         * the kernel dropped events; another negative errno on failure. */
        ssize_t (*recv)(void *userdata, void *buf, size_t size);
        /* Every link, then every address, each message to cb: 0; -EINTR when
         * a change interrupted the dump (netmon retries); a negative errno. */
        int (*dump)(void *userdata, mnl_cb_t cb, void *cb_data);
        void *userdata;
};

void netmon_set_source(struct netmon *nm, const struct netmon_source *source);
