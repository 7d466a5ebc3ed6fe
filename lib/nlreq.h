/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <libmnl/libmnl.h>

/*
 * One request on a private, short-lived netlink socket: req gets this
 * socket's sequence number, every answer goes to cb (which may be NULL), and
 * the function returns when the kernel says it is done (NLMSG_DONE, or the
 * ACK of NLM_F_ACK): 0, the kernel's negative errno, or a socket error
 * (-E2BIG: no end after 100,000 reads).
 * Answers of other sequence numbers or ports are ignored (mnl_cb_run).
 */
int pst_nl_request(int protocol, struct nlmsghdr *req, mnl_cb_t cb, void *data);

/*
 * The same on a socket the caller keeps (several dumps in a row): req keeps
 * the sequence number the caller gave it; answers are read into buf (size
 * bytes) at most reads_max times (-E2BIG after that).
 */
int pst_nl_run(struct mnl_socket *nl, struct nlmsghdr *req, void *buf, size_t size, size_t reads_max, mnl_cb_t cb,
               void *data);
