/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <limits.h>

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

size_t pst_nl_each(const void *buf, size_t n, mnl_cb_t cb, void *data) {
        int len = n > INT_MAX ? INT_MAX : (int) n;
        size_t errors = 0;

        for (const struct nlmsghdr *nlh = buf; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
                if (nlh->nlmsg_type == NLMSG_ERROR) {
                        const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

                        if (nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(*e)) && e->error != 0)
                                errors++;
                        continue;
                }
                if (nlh->nlmsg_type >= NLMSG_MIN_TYPE)
                        (void) cb(nlh, data);
        }
        return errors;
}
