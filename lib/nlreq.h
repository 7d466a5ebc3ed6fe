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

/*
 * Every message of one read (n bytes at buf) that is not a netlink control
 * message to cb, in order, whatever cb or the kernel said about the ones
 * before: a socket that carries packets (NFLOG, NFQUEUE) and now and then
 * the kernel's error answer to a request sent without an ACK (a queue bind,
 * a verdict) must not lose the packets after that error, as mnl_cb_run(),
 * which stops at the first error, would.  Returns how many error messages
 * (NLMSG_ERROR with an errno) there were.
 */
size_t pst_nl_each(const void *buf, size_t n, mnl_cb_t cb, void *data);
