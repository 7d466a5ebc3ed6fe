/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * posternd's D-Bus face: org.postern1 on the system bus, object
 * /org/postern1, interface org.postern1.Manager, and the networkd /
 * NetworkManager signals we take as hints.  Without a system bus the daemon
 * logs once and runs on; every function here is a no-op then.
 */

#include "manager.h"

#define BUS_NAME "org.postern1"
#define BUS_PATH "/org/postern1"
#define BUS_INTERFACE "org.postern1.Manager"

#define BUS_ERROR_INVALID_POLICY "org.postern1.Error.InvalidPolicy"
#define BUS_ERROR_KERNEL "org.postern1.Error.KernelError"
#define BUS_ERROR_PERMISSION_DENIED "org.postern1.Error.PermissionDenied"
#define BUS_ERROR_NO_SUCH_INTERFACE "org.postern1.Error.NoSuchInterface"

/* Connect, register the object, add the hint matches, take the name (last). */
void bus_setup(struct manager *m);
void bus_done(struct manager *m);

/* Applied(t generation, s digest) + PropertiesChanged */
void bus_emit_applied(struct manager *m);
/* PropertiesChanged for State and LastError (a reload failed) */
void bus_emit_state_changed(struct manager *m);
