/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <libmnl/libmnl.h>

/*
 * One request on a private, short-lived netlink socket: req gets this
 * socket's sequence number, every answer goes to cb (which may be NULL), and
 * the function returns when the kernel says it is done (NLMSG_DONE, or the
 * ACK of NLM_F_ACK): 0, the kernel's negative errno, or a socket error.
 * Answers of other sequence numbers or ports are ignored (mnl_cb_run).
 */
int pst_nl_request(int protocol, struct nlmsghdr *req, mnl_cb_t cb, void *data);
