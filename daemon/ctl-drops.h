/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * posternctl drops [--since DURATION] [--json]: posternd's drop log joined
 * with what this host listens on (sock_diag) and the catalog
 * (lib/dropreport.h words it).  Rows where something listens come first:
 * those are what the policy may have forgotten.
 */

#include <stdbool.h>
#include <stdint.h>

#include "service.h"

/* since_usec: 0 = everything posternd has; cat may be NULL */
int ctl_drops(bool json, uint64_t since_usec, const struct pst_catalog *cat);
