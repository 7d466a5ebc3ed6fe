/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Read the current interface addresses with one rtnetlink dump. */

#include "compile.h"

/* Every IPv4 and IPv6 address (IFA_LOCAL where present: on a point-to-point
 * link IFA_ADDRESS is the peer) of every interface, by name. */
int pst_ifaddrs_dump(struct pst_ifaddrs *ret);
