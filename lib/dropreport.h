/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * posternctl drops' words for one row of the drop log (dropstats.h):
 *
 *   tcp/993 (imaps): 312 drops from zone wan, 41 sources, last 2 min ago
 *     — dovecot listens on *:993 — add: { allow = "imaps"; from = "wan"; }
 *
 * (one line).  A rule is suggested only where something listens: a port
 * nothing answers on is a scan, and opening it would change nothing but the
 * log.  The service is the catalog's one whose ports of that protocol are
 * exactly that port (as posternctl diff names them); the suggestion says
 * "NAME" when the service allows nothing else, "NAME/tcp" when it also has
 * other protocols (ldap's udp/389 stays closed), else the inline "tcp/PORT".
 * "from" is the zone; without one the source network when all drops came
 * from one, else "any" — spelled out, so that nobody opens a port to the
 * world by accident.
 */

#include <stddef.h>
#include <stdint.h>

#include "dropstats.h"
#include "service.h"

/* NULL when none; *ret_only: the service allows nothing but that port */
const char *pst_drop_service(const struct pst_catalog *cat, uint8_t l4proto, uint16_t port, bool *ret_only);
/* "tcp/993", "udp/53", "proto/esp", "proto/253" */
void pst_drop_what(uint8_t l4proto, uint16_t port, char *buf, size_t size);
/* { allow = "imaps"; from = "wan"; } or "" (no port to open: not tcp or udp) */
void pst_drop_suggest(const struct pst_drop_row *row, const struct pst_catalog *cat, char *buf, size_t size);
/* "12 s ago", "2 min ago", "3 h ago", "4 d ago" */
void pst_drop_ago(uint64_t then_usec, uint64_t now_usec, char *buf, size_t size);
/* The row's line, malloc'd.  listeners: pst_listeners_describe()'s words, "" for nothing,
 * NULL when unknown (not tcp or udp, or sock_diag failed). */
char *pst_drop_line(const struct pst_drop_row *row, const struct pst_catalog *cat, const char *listeners,
                    uint64_t now_usec);
/* "90", "90s", "15m", "2h", "7d" → µs; -EINVAL otherwise, -ERANGE beyond a year */
int pst_duration_parse(const char *s, uint64_t *ret_usec);
