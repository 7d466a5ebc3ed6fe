/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Is a posternd running in this network namespace?  The daemon binds an
 * abstract AF_UNIX datagram socket, "@org.postern1.posternd"; abstract
 * names belong to the network namespace, as the firewall does, and vanish
 * with the process that holds them, however it ends.  A second daemon
 * cannot bind it (the two would undo each other's changes forever), and a
 * one-shot `posternctl apply` asks before it changes a table the daemon
 * would put back: one connect(), no D-Bus.
 */

/* The daemon: hold the name.  Returns the socket, -EADDRINUSE when another
 * posternd has it, or another negative errno. */
int presence_claim(void);

/* 1 when a posternd holds the name in this network namespace, else 0. */
int presence_check(void);
