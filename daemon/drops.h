/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * posternd's drop log (options.log_drops): reads NFLOG group
 * PST_NFLOG_GROUP_DROPS while the running ruleset logs to it, attributes
 * each packet to its source zone, aggregates (lib/dropstats.h) and writes
 * rate-limited, structured journal lines; Drops() on D-Bus reports it.
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "dropstats.h"
#include "pipeline.h"

#define DROPS_JOURNAL_PER_MIN 10 /* journal lines about drops, at most */

struct drops;

/* policy: the running one (NULL: none); nothing is bound unless its ruleset logs to our group */
int drops_sync(struct drops **d, sd_event *event, const struct pst_compiled *running);
struct drops *drops_free(struct drops *d);

/* Drops(t since_usec) -> (a(syqttttus) rows, t total, t evicted, t lost) */
int drops_bus_method(sd_bus_message *msg, struct drops *d, sd_bus_error *error);

/* for tests: one packet as the socket would hand it over */
struct pst_nflog_pkt;
void drops_feed(struct drops *d, const struct pst_nflog_pkt *pkt, uint64_t now_usec);
