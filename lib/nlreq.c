/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "nlreq.h"
#include "util.h"

#define NLREQ_READS_MAX 100000 /* a dump of 65,536 interfaces' addresses fits many times over */

int pst_nl_request(int protocol, struct nlmsghdr *req, mnl_cb_t cb, void *data) {
        _cleanup_free_ char *buf = malloc(MNL_SOCKET_BUFFER_SIZE);
        struct mnl_socket *nl;
        unsigned portid;
        int r = -EPROTO;

        if (!buf)
                return -ENOMEM;
        nl = mnl_socket_open2(protocol, SOCK_CLOEXEC);
        if (!nl)
                return -errno;
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                r = -errno;
                goto out;
        }
        portid = mnl_socket_get_portid(nl);
        req->nlmsg_seq = 1; /* a private socket: any fixed number will do */
        if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0) {
                r = -errno;
                goto out;
        }
        for (int i = 0; i < NLREQ_READS_MAX; i++) {
                ssize_t n = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE);
                int k;

                if (n < 0) {
                        r = -errno;
                        break;
                }
                errno = 0;
                k = mnl_cb_run(buf, (size_t) n, req->nlmsg_seq, portid, cb, data);
                if (k == MNL_CB_STOP) {
                        r = 0;
                        break;
                }
                if (k < 0) {
                        /* the kernel's error (ACK with an errno) or the callback's */
                        r = errno ? -errno : -EIO;
                        break;
                }
        }
out:
        mnl_socket_close(nl);
        return r;
}
