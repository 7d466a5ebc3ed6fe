/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * posternctl apply's one method call on the system bus, without libsystemd.
 *
 * Apply is what a ppp hook and an administrator run most, and through
 * posternd it should cost little more than starting a process: mapping
 * libsystemd and its six libraries is ~0.9 ms of CPU, and sd-bus waits for
 * the authentication, then for Hello, then for the call, three round trips
 * through dbus-daemon.  Here the SASL EXTERNAL exchange, BEGIN, Hello and
 * the call go out in one write (dbus-daemon reads what follows BEGIN as
 * messages, in order), and one read loop waits for the call's reply.
 *
 * Only a "unix:path=" or "unix:abstract=" address ($DBUS_SYSTEM_BUS_ADDRESS,
 * else /run/dbus/system_bus_socket) is spoken; for anything else, and for
 * every failure before dbus-daemon accepted the authentication (so before
 * it read the call), CTL_DBUS_FALLBACK says: nothing was delivered, use
 * sd-bus (which then reports the failure in its own words).
 */

#include <stdbool.h>
#include <stdint.h>

#define CTL_DBUS_FALLBACK (-EPROTONOSUPPORT)

struct ctl_dbus_error {
        char *name, *message; /* an error reply's name and first string argument, or a transport failure's */
};

void ctl_dbus_error_clear(struct ctl_dbus_error *e);

/*
 * Apply(s path, u confirm_sec, s ssh_connection, b force) -> (t generation)
 * on org.postern1.  0 and *ret_generation on success; -EREMOTEIO and *e on
 * an error reply or a failure after the call was sent (e->name is then a
 * D-Bus error name as sd-bus would give it, e.g. Disconnected, NoReply);
 * CTL_DBUS_FALLBACK when nothing was delivered; another negative errno
 * before sending (out of memory, a string too long).
 */
int ctl_dbus_apply(const char *path, uint32_t confirm_sec, const char *ssh_connection, bool force,
                   uint64_t *ret_generation, struct ctl_dbus_error *e);
