/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pst_nl_each(): every packet of one read reaches the callback, the
 * kernel's error answers between them notwithstanding (rpc-reader.c). */
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "nlreq.h"

static int count_cb(const struct nlmsghdr *nlh, void *data) {
        (*(unsigned *) data)++;
        return MNL_CB_OK;
}

static void put_packet(char *buf, size_t *off, uint32_t seq) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf + *off);

        nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
        nlh->nlmsg_seq = seq;
        mnl_nlmsg_put_extra_header(nlh, sizeof(struct nfgenmsg));
        *off += nlh->nlmsg_len;
}

static void put_error(char *buf, size_t *off, int error) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf + *off);
        struct nlmsgerr *e;

        nlh->nlmsg_type = NLMSG_ERROR;
        e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
        e->error = error;
        *off += nlh->nlmsg_len;
}

static void test_each(void **state) {
        char buf[1024] __attribute__((aligned(4))) = {};
        size_t off = 0;
        unsigned n = 0;

        put_packet(buf, &off, 0);
        put_error(buf, &off, -ENOENT); /* a queue bind the kernel refused */
        put_packet(buf, &off, 0);
        put_error(buf, &off, 0); /* an ACK */
        put_packet(buf, &off, 0);
        assert_int_equal(pst_nl_each(buf, off, count_cb, &n), 1);
        assert_int_equal(n, 3);

        /* what mnl_cb_run() does with the same read: the packets after the error are lost */
        n = 0;
        assert_int_equal(mnl_cb_run(buf, off, 0, 0, count_cb, &n), MNL_CB_ERROR);
        assert_int_equal(n, 1);

        /* a truncated last message is not read past */
        n = 0;
        assert_int_equal(pst_nl_each(buf, off - 4, count_cb, &n), 1);
        assert_int_equal(n, 2);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_each),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
