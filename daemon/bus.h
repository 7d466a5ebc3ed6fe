/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * posternd's D-Bus face: org.postern1 on the system bus (its names in
 * bus-api.h), and the networkd / NetworkManager signals we take as hints.
 * Without a system bus the daemon logs once and runs on; every function
 * here is a no-op then.
 */

#include "bus-api.h"
#include "manager.h"

/* Connect, register the object, add the hint matches, take the name (last). */
void bus_setup(struct manager *m);
void bus_done(struct manager *m);

/* Applied(t generation, s digest) + PropertiesChanged */
void bus_emit_applied(struct manager *m);
/* PropertiesChanged for State and LastError (a reload failed) */
void bus_emit_state_changed(struct manager *m);
