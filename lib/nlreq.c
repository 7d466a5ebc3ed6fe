/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "nlreq.h"
#include "util.h"

#define NLREQ_READS_MAX 100000 /* a dump of 65,536 interfaces' addresses fits many times over */

int pst_nl_run(struct mnl_socket *nl, struct nlmsghdr *req, void *buf, size_t size, size_t reads_max, mnl_cb_t cb,
               void *data) {
        unsigned portid = mnl_socket_get_portid(nl);

        if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0)
                return -errno;
        for (size_t i = 0; i < reads_max; i++) {
                ssize_t n = mnl_socket_recvfrom(nl, buf, size);
                int k;

                if (n < 0)
                        return -errno;
                errno = 0;
                k = mnl_cb_run(buf, (size_t) n, req->nlmsg_seq, portid, cb, data);
                if (k == MNL_CB_STOP)
                        return 0;
                if (k < 0) /* the kernel's error (ACK with an errno) or the callback's */
                        return errno ? -errno : -EIO;
        }
        return -E2BIG;
}

int pst_nl_request(int protocol, struct nlmsghdr *req, mnl_cb_t cb, void *data) {
        _cleanup_free_ char *buf = malloc(MNL_SOCKET_BUFFER_SIZE);
        struct mnl_socket *nl;
        int r;

        if (!buf)
                return -ENOMEM;
        nl = mnl_socket_open2(protocol, SOCK_CLOEXEC);
        if (!nl)
                return -errno;
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
                r = -errno;
        else {
                req->nlmsg_seq = 1; /* a private socket: any fixed number will do */
                r = pst_nl_run(nl, req, buf, MNL_SOCKET_BUFFER_SIZE, NLREQ_READS_MAX, cb, data);
        }
        mnl_socket_close(nl);
        return r;
}
