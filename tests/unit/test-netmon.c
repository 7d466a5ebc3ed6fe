/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * posternd's rtnetlink monitor fed canned RTM messages, without a kernel:
 * a fake netmon_source answers the dumps and queues the event datagrams
 * (an eventfd stands for the socket's readability), the real sd-event loop
 * runs netmon's io handler and its defer source, and every snapshot the
 * handler receives is checked exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/eventfd.h>

#include "netmon.h"

#define MSGS_SIZE 4096
#define QUEUE_MAX 32
#define SNAPSHOT_MAX 16

/* Messages back to back: one event datagram, or what a dump answers */
struct msgs {
        uint8_t buf[MSGS_SIZE] __attribute__((aligned(4)));
        size_t len;
};

struct datagram {
        struct msgs m;
        int err; /* < 0: recv() answers this instead */
};

struct fake {
        int efd; /* readable while datagrams are queued */
        struct datagram q[QUEUE_MAX];
        size_t head, tail;
        struct msgs dump;      /* the kernel's state, as a dump answers it */
        struct msgs intr_dump; /* what an interrupted dump delivers before its -EINTR */
        unsigned dump_intr;    /* that many dumps are interrupted first */
        int dump_err;          /* < 0: dumps fail with this */
        unsigned dumps;
};

struct seen {
        unsigned calls;
        char snapshot[1024]; /* "ifname addr" sorted, ", "-separated */
        uint64_t first_event_usec;
        int ret; /* what the handler returns */
};

struct t {
        sd_event *e;
        struct netmon *nm;
        struct fake fake;
        struct seen seen;
};

/* ---- canned messages ---- */

static struct nlmsghdr *put_header(struct msgs *m, uint16_t type) {
        struct nlmsghdr *nlh;

        assert_true(m->len + 256 <= MSGS_SIZE);
        nlh = mnl_nlmsg_put_header(m->buf + m->len);
        nlh->nlmsg_type = type;
        return nlh;
}

static void put_link_family(struct msgs *m, uint16_t type, int ifindex, const char *name, uint8_t family) {
        struct nlmsghdr *nlh = put_header(m, type);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

        ifi->ifi_family = family;
        ifi->ifi_index = ifindex;
        if (name)
                mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        m->len += nlh->nlmsg_len;
}

static void put_link(struct msgs *m, uint16_t type, int ifindex, const char *name) {
        put_link_family(m, type, ifindex, name, AF_UNSPEC);
}

/* As the kernel reports them: IPv4 with IFA_LOCAL and IFA_ADDRESS (the peer
 * on a point-to-point link, else the same), IPv6 with IFA_ADDRESS only. */
static void put_addr_flags(struct msgs *m, uint16_t type, int ifindex, const char *local, const char *peer,
                           uint32_t flags) {
        struct nlmsghdr *nlh = put_header(m, type);
        struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
        uint8_t a[16], p[16];

        ifa->ifa_family = strchr(local, ':') ? AF_INET6 : AF_INET;
        ifa->ifa_prefixlen = ifa->ifa_family == AF_INET ? 32 : 128;
        ifa->ifa_index = (uint32_t) ifindex;
        assert_int_equal(inet_pton(ifa->ifa_family, local, a), 1);
        assert_int_equal(inet_pton(ifa->ifa_family, peer ? peer : local, p), 1);
        if (ifa->ifa_family == AF_INET)
                mnl_attr_put(nlh, IFA_LOCAL, 4, a);
        mnl_attr_put(nlh, IFA_ADDRESS, pst_addr_len(ifa->ifa_family), p);
        /* as the kernel does: the low 8 bits in ifa_flags, all of them in IFA_FLAGS */
        ifa->ifa_flags = (uint8_t) flags;
        if (flags)
                mnl_attr_put_u32(nlh, IFA_FLAGS, flags);
        m->len += nlh->nlmsg_len;
}

static void put_addr(struct msgs *m, uint16_t type, int ifindex, const char *local, const char *peer) {
        put_addr_flags(m, type, ifindex, local, peer, 0);
}

/* ---- the fake source ---- */

static ssize_t fake_recv(void *userdata, void *buf, size_t size) {
        struct fake *f = userdata;
        struct datagram *d;
        eventfd_t v;

        if (f->head == f->tail) {
                (void) eventfd_read(f->efd, &v);
                return -EAGAIN;
        }
        d = &f->q[f->head++ % QUEUE_MAX];
        if (d->err < 0)
                return d->err;
        assert_true(d->m.len <= size);
        memcpy(buf, d->m.buf, d->m.len);
        return (ssize_t) d->m.len;
}

static int fake_dump(void *userdata, mnl_cb_t cb, void *data) {
        struct fake *f = userdata;

        f->dumps++;
        if (f->dump_err < 0)
                return f->dump_err;
        if (f->dump_intr > 0) {
                f->dump_intr--;
                (void) mnl_cb_run(f->intr_dump.buf, f->intr_dump.len, 0, 0, cb, data);
                return -EINTR;
        }
        return mnl_cb_run(f->dump.buf, f->dump.len, 0, 0, cb, data) < 0 ? -EIO : 0;
}

static void queue_err(struct t *t, const struct msgs *m, int err) {
        struct datagram *d;

        assert_true(t->fake.tail - t->fake.head < QUEUE_MAX);
        d = &t->fake.q[t->fake.tail++ % QUEUE_MAX];
        *d = (struct datagram) { .err = err };
        if (m)
                d->m = *m;
        assert_int_equal(eventfd_write(t->fake.efd, 1), 0);
}

static void queue(struct t *t, const struct msgs *m) {
        queue_err(t, m, 0);
}

/* One message as one datagram, as the kernel multicasts events */
static void queue_link(struct t *t, uint16_t type, int ifindex, const char *name) {
        struct msgs m = {};

        put_link(&m, type, ifindex, name);
        queue(t, &m);
}

static void queue_addr(struct t *t, uint16_t type, int ifindex, const char *local, const char *peer) {
        struct msgs m = {};

        put_addr(&m, type, ifindex, local, peer);
        queue(t, &m);
}

static void queue_addr_flags(struct t *t, uint16_t type, int ifindex, const char *local, uint32_t flags) {
        struct msgs m = {};

        put_addr_flags(&m, type, ifindex, local, NULL, flags);
        queue(t, &m);
}

/* Run the loop until nothing is pending: the io handler, then the defer */
static void settle(struct t *t) {
        int r;

        while ((r = sd_event_run(t->e, 0)) > 0)
                ;
        assert_int_equal(r, 0);
        assert_int_equal(t->fake.head, t->fake.tail);
}

/* ---- the handler ---- */

static int cmp_entry(const void *a, const void *b) {
        return strcmp(a, b);
}

static int handler(struct netmon *nm, const struct pst_ifaddrs *s, uint64_t first_event_usec, void *userdata) {
        struct seen *seen = userdata;
        char v[SNAPSHOT_MAX][IFNAMSIZ + PST_ADDR_STRLEN + 1];
        size_t len = 0;

        assert_true(s->n <= SNAPSHOT_MAX);
        for (size_t i = 0; i < s->n; i++) {
                char a[PST_ADDR_STRLEN];

                snprintf(v[i], sizeof(v[i]), "%s %s", s->v[i].ifname, pst_addr_format(&s->v[i].addr, a));
        }
        qsort(v, s->n, sizeof(v[0]), cmp_entry);
        seen->snapshot[0] = 0;
        for (size_t i = 0; i < s->n; i++)
                len += (size_t) snprintf(seen->snapshot + len, sizeof(seen->snapshot) - len, "%s%s", i ? ", " : "",
                                         v[i]);
        seen->calls++;
        seen->first_event_usec = first_event_usec;
        return seen->ret;
}

/* The handler was called calls times in all, the last time with snapshot
 * (NULL: whatever it was) */
static void expect(struct t *t, unsigned calls, const char *snapshot) {
        assert_int_equal(t->seen.calls, calls);
        if (snapshot)
                assert_string_equal(t->seen.snapshot, snapshot);
}

/* ---- fixture ---- */

static int setup(void **state) {
        struct t *t = calloc(1, sizeof(*t));

        if (!t || sd_event_new(&t->e) < 0)
                return -1;
        t->fake.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (t->fake.efd < 0 || netmon_new(t->e, handler, &t->seen, &t->nm) < 0)
                return -1;
        netmon_set_source(t->nm, &(struct netmon_source) {
                                         .fd = t->fake.efd,
                                         .recv = fake_recv,
                                         .dump = fake_dump,
                                         .userdata = &t->fake,
                                 });
        *state = t;
        return 0;
}

static int teardown(void **state) {
        struct t *t = *state;

        netmon_free(t->nm);
        sd_event_unref(t->e);
        close(t->fake.efd);
        free(t);
        return 0;
}

/* netmon_start() with fake.dump as the kernel's state: one snapshot */
static void start(struct t *t, const char *snapshot) {
        assert_int_equal(netmon_start(t->nm), 0);
        expect(t, 1, snapshot);
        assert_int_equal(t->seen.first_event_usec, 0);
        assert_int_equal(netmon_resyncs(t->nm), 0);
}

/* ---- cases ---- */

/* The initial dump reaches the handler; bridge-port links and malformed
 * or foreign-family addresses are not part of it. */
static void test_start(void **state) {
        struct t *t = *state;
        struct nlmsghdr *nlh;

        put_link(&t->fake.dump, RTM_NEWLINK, 1, "lo");
        put_link(&t->fake.dump, RTM_NEWLINK, 2, "ppp0");
        put_link_family(&t->fake.dump, RTM_NEWLINK, 3, "brport", AF_BRIDGE);
        put_addr(&t->fake.dump, RTM_NEWADDR, 1, "127.0.0.1", NULL);
        put_addr(&t->fake.dump, RTM_NEWADDR, 2, "198.18.0.1", "198.18.0.2");
        put_addr(&t->fake.dump, RTM_NEWADDR, 2, "2001:db8::1", NULL);
        nlh = put_header(&t->fake.dump, RTM_NEWADDR); /* no address attribute */
        ((struct ifaddrmsg *) mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifaddrmsg)))->ifa_family = AF_INET;
        t->fake.dump.len += nlh->nlmsg_len;

        start(t, "lo 127.0.0.1, ppp0 198.18.0.1, ppp0 2001:db8::1");
        assert_int_equal(t->fake.dumps, 1);
        assert_int_equal(netmon_nlinks(t->nm), 2);
        assert_int_equal(netmon_naddrs(t->nm), 3);
        assert_true(netmon_has_link(t->nm, "ppp0"));
        assert_false(netmon_has_link(t->nm, "brport"));
        settle(t);
        expect(t, 1, NULL); /* nothing pending after the start */
}

/* IPv6 DAD: a tentative address is not shown until the RTM_NEWADDR that
 * clears the flag, a dadfailed one never; optimistic and deprecated ones
 * are; link-local ones are (the compiler decides who takes them). */
static void test_dad(void **state) {
        struct t *t = *state;

        put_link(&t->fake.dump, RTM_NEWLINK, 2, "ppp0");
        put_addr_flags(&t->fake.dump, RTM_NEWADDR, 2, "2001:db8::1", NULL, IFA_F_TENTATIVE);
        put_addr_flags(&t->fake.dump, RTM_NEWADDR, 2, "2001:db8::2", NULL, IFA_F_TENTATIVE | IFA_F_DADFAILED);
        put_addr_flags(&t->fake.dump, RTM_NEWADDR, 2, "2001:db8::3", NULL, IFA_F_TENTATIVE | IFA_F_OPTIMISTIC);
        put_addr_flags(&t->fake.dump, RTM_NEWADDR, 2, "2001:db8::4", NULL, IFA_F_DEPRECATED);
        put_addr_flags(&t->fake.dump, RTM_NEWADDR, 2, "fe80::1", NULL, IFA_F_PERMANENT | IFA_F_NOPREFIXROUTE);
        start(t, "ppp0 2001:db8::3, ppp0 2001:db8::4, ppp0 fe80::1");
        assert_int_equal(netmon_naddrs(t->nm), 5);

        /* DAD done for ::1 (a flag only IFA_FLAGS carries stays): shown */
        queue_addr_flags(t, RTM_NEWADDR, 2, "2001:db8::1", IFA_F_MANAGETEMPADDR);
        settle(t);
        expect(t, 2, "ppp0 2001:db8::1, ppp0 2001:db8::3, ppp0 2001:db8::4, ppp0 fe80::1");
        /* a lifetime update that changes nothing we look at: no new view */
        queue_addr_flags(t, RTM_NEWADDR, 2, "2001:db8::1", IFA_F_MANAGETEMPADDR);
        queue_addr_flags(t, RTM_NEWADDR, 2, "2001:db8::4", IFA_F_DEPRECATED);
        settle(t);
        expect(t, 2, NULL);
        /* ::3's DAD fails after all: gone */
        queue_addr_flags(t, RTM_NEWADDR, 2, "2001:db8::3", IFA_F_TENTATIVE | IFA_F_DADFAILED);
        settle(t);
        expect(t, 3, "ppp0 2001:db8::1, ppp0 2001:db8::4, ppp0 fe80::1");
}

/* (a) a link renamed while it has addresses: they follow the new name */
static void test_rename(void **state) {
        struct t *t = *state;

        put_link(&t->fake.dump, RTM_NEWLINK, 2, "ppp0");
        put_link(&t->fake.dump, RTM_NEWLINK, 3, "wan0");
        put_addr(&t->fake.dump, RTM_NEWADDR, 2, "198.18.0.1", NULL);
        put_addr(&t->fake.dump, RTM_NEWADDR, 2, "2001:db8::1", NULL);
        start(t, "ppp0 198.18.0.1, ppp0 2001:db8::1");

        queue_link(t, RTM_NEWLINK, 2, "ppp9");
        settle(t);
        expect(t, 2, "ppp9 198.18.0.1, ppp9 2001:db8::1");
        assert_true(t->seen.first_event_usec > 0);
        assert_true(netmon_has_link(t->nm, "ppp9"));
        assert_false(netmon_has_link(t->nm, "ppp0"));

        /* the same name again (an MTU or flags change), a link without addresses renamed: no new view */
        queue_link(t, RTM_NEWLINK, 2, "ppp9");
        queue_link(t, RTM_NEWLINK, 3, "wan9");
        settle(t);
        expect(t, 2, NULL);
        assert_true(netmon_has_link(t->nm, "wan9"));

        queue_link(t, RTM_NEWLINK, 2, "ppp0");
        settle(t);
        expect(t, 3, "ppp0 198.18.0.1, ppp0 2001:db8::1");
}

/* (b) an ifindex deleted and re-created under the same name: the old
 * ifindex's addresses are gone, also when stale messages about it follow */
static void test_recreate(void **state) {
        struct t *t = *state;

        put_link(&t->fake.dump, RTM_NEWLINK, 5, "ppp0");
        put_addr(&t->fake.dump, RTM_NEWADDR, 5, "198.18.0.1", "198.18.0.2");
        put_addr(&t->fake.dump, RTM_NEWADDR, 5, "2001:db8::1", NULL);
        start(t, "ppp0 198.18.0.1, ppp0 2001:db8::1");

        /* one burst: one snapshot */
        queue_link(t, RTM_DELLINK, 5, NULL);
        queue_link(t, RTM_NEWLINK, 6, "ppp0");
        queue_addr(t, RTM_NEWADDR, 6, "198.18.0.5", "198.18.0.2");
        settle(t);
        expect(t, 2, "ppp0 198.18.0.5");
        assert_int_equal(netmon_nlinks(t->nm), 1);

        /* late news of the old ifindex changes nothing visible */
        queue_addr(t, RTM_DELADDR, 5, "198.18.0.1", "198.18.0.2");
        queue_addr(t, RTM_NEWADDR, 5, "198.18.0.1", "198.18.0.2");
        settle(t);
        expect(t, 2, NULL);

        /* the same in separate bursts */
        queue_link(t, RTM_DELLINK, 6, NULL);
        settle(t);
        expect(t, 3, "");
        assert_false(netmon_has_link(t->nm, "ppp0"));
        queue_link(t, RTM_NEWLINK, 7, "ppp0");
        settle(t);
        expect(t, 3, NULL); /* no addresses yet: the view is the same */
        queue_addr(t, RTM_NEWADDR, 7, "198.18.0.7", "198.18.0.2");
        settle(t);
        expect(t, 4, "ppp0 198.18.0.7");
}

/* (c) NEWADDR and DELADDR before the link's NEWLINK: kept, not shown
 * until the link appears, then shown as the kernel has them */
static void test_addr_before_link(void **state) {
        struct t *t = *state;
        struct msgs m = {};

        put_link(&t->fake.dump, RTM_NEWLINK, 1, "lo");
        put_addr(&t->fake.dump, RTM_NEWADDR, 1, "127.0.0.1", NULL);
        start(t, "lo 127.0.0.1");

        queue_addr(t, RTM_NEWADDR, 8, "198.18.8.1", NULL);
        queue_addr(t, RTM_NEWADDR, 8, "198.18.8.2", NULL);
        settle(t);
        queue_addr(t, RTM_DELADDR, 8, "198.18.8.1", NULL);
        queue_addr(t, RTM_NEWADDR, 8, "2001:db8::8", NULL);
        settle(t);
        expect(t, 1, NULL);
        assert_int_equal(netmon_naddrs(t->nm), 3);
        assert_false(netmon_has_link(t->nm, "wan8"));

        queue_link(t, RTM_NEWLINK, 8, "wan8");
        settle(t);
        expect(t, 2, "lo 127.0.0.1, wan8 198.18.8.2, wan8 2001:db8::8");

        /* several messages in one datagram, address first, then a truncated one */
        put_addr(&m, RTM_NEWADDR, 9, "198.18.9.1", NULL);
        put_link(&m, RTM_NEWLINK, 9, "wan9");
        put_addr(&m, RTM_NEWADDR, 9, "198.18.9.2", NULL);
        netmon_process(t->nm, m.buf, m.len - 4);
        settle(t);
        expect(t, 3, "lo 127.0.0.1, wan8 198.18.8.2, wan8 2001:db8::8, wan9 198.18.9.1");
}

/* pppd's three ioctls: NEWADDR(local=A, address=A), DELADDR, NEWADDR(local=A,
 * address=peer), queued together: one snapshot.  A DELADDR matches only
 * with the peer that is part of the kernel's key. */
static void test_pppd_burst(void **state) {
        struct t *t = *state;

        put_link(&t->fake.dump, RTM_NEWLINK, 2, "ppp0");
        start(t, "");

        queue_addr(t, RTM_NEWADDR, 2, "198.18.0.1", NULL);
        queue_addr(t, RTM_DELADDR, 2, "198.18.0.1", NULL);
        queue_addr(t, RTM_NEWADDR, 2, "198.18.0.1", "198.18.0.2");
        settle(t);
        expect(t, 2, "ppp0 198.18.0.1");

        queue_addr(t, RTM_DELADDR, 2, "198.18.0.1", NULL);
        settle(t);
        expect(t, 2, NULL);
        queue_addr(t, RTM_DELADDR, 2, "198.18.0.1", "198.18.0.2");
        settle(t);
        expect(t, 3, "");
}

/* (d) ENOBUFS: what is still queued is older than what was lost, so it is
 * thrown away, and a full re-read shows the kernel's state */
static void test_enobufs(void **state) {
        struct t *t = *state;

        put_link(&t->fake.dump, RTM_NEWLINK, 2, "ppp0");
        put_addr(&t->fake.dump, RTM_NEWADDR, 2, "198.18.0.1", NULL);
        start(t, "ppp0 198.18.0.1");

        /* meanwhile the kernel: .1 and .7 gone, .9 added */
        t->fake.dump.len = 0;
        put_link(&t->fake.dump, RTM_NEWLINK, 2, "ppp0");
        put_addr(&t->fake.dump, RTM_NEWADDR, 2, "198.18.0.9", NULL);
        queue_addr(t, RTM_NEWADDR, 2, "198.18.0.7", NULL);
        queue_err(t, NULL, -ENOBUFS);
        queue_addr(t, RTM_NEWADDR, 2, "198.18.0.3", NULL); /* its DELADDR was among the lost */
        queue_addr(t, RTM_DELADDR, 2, "198.18.0.9", NULL);
        settle(t);
        assert_int_equal(netmon_resyncs(t->nm), 1);
        assert_int_equal(t->fake.dumps, 2);
        /* the events before the overflow and the re-read: one snapshot */
        expect(t, 2, "ppp0 198.18.0.9");
        assert_true(t->seen.first_event_usec > 0);
        assert_int_equal(netmon_naddrs(t->nm), 1);

        /* and events are followed again */
        queue_addr(t, RTM_NEWADDR, 2, "198.18.0.10", NULL);
        settle(t);
        expect(t, 3, "ppp0 198.18.0.10, ppp0 198.18.0.9");
        assert_int_equal(netmon_resyncs(t->nm), 1);
}

/* netmon_resync(): synchronous, always delivers, returns the handler's
 * result, takes in what was pending; netmon_request_resync(): on the loop */
static void test_resync(void **state) {
        struct t *t = *state;
        struct msgs m = {};

        put_link(&t->fake.dump, RTM_NEWLINK, 2, "ppp0");
        put_addr(&t->fake.dump, RTM_NEWADDR, 2, "198.18.0.1", NULL);
        start(t, "ppp0 198.18.0.1");

        t->seen.ret = -EIO;
        assert_int_equal(netmon_resync(t->nm), -EIO);
        expect(t, 2, "ppp0 198.18.0.1");
        assert_true(t->seen.first_event_usec > 0);
        assert_int_equal(netmon_resyncs(t->nm), 1);
        t->seen.ret = 0;

        /* a pending change is replaced by the dump, not delivered after it */
        put_addr(&m, RTM_NEWADDR, 2, "198.18.0.2", NULL);
        netmon_process(t->nm, m.buf, m.len);
        put_addr(&t->fake.dump, RTM_NEWADDR, 2, "198.18.0.3", NULL);
        assert_int_equal(netmon_resync(t->nm), 0);
        expect(t, 3, "ppp0 198.18.0.1, ppp0 198.18.0.3");
        settle(t);
        expect(t, 3, NULL);

        assert_int_equal(netmon_request_resync(t->nm), 0);
        expect(t, 3, NULL);
        settle(t);
        expect(t, 4, NULL);
        assert_int_equal(netmon_resyncs(t->nm), 3);

        /* an interrupted dump is retried; what it had read is thrown away */
        put_link(&t->fake.intr_dump, RTM_NEWLINK, 2, "ppp0");
        put_addr(&t->fake.intr_dump, RTM_NEWADDR, 2, "198.18.9.9", NULL);
        t->fake.dump_intr = 1;
        t->fake.dumps = 0;
        assert_int_equal(netmon_resync(t->nm), 0);
        assert_int_equal(t->fake.dumps, 2);
        assert_string_equal(t->seen.snapshot, "ppp0 198.18.0.1, ppp0 198.18.0.3");

        /* a failed dump: the table and the handler are left alone */
        t->fake.dump_err = -EPERM;
        assert_int_equal(netmon_resync(t->nm), -EPERM);
        expect(t, 5, NULL);
        assert_int_equal(netmon_resyncs(t->nm), 4);
        assert_int_equal(netmon_naddrs(t->nm), 2);
}

/* netmon_start() passes the handler's result on (the manager's store failing) */
static void test_start_fails(void **state) {
        struct t *t = *state;

        put_link(&t->fake.dump, RTM_NEWLINK, 2, "ppp0");
        t->seen.ret = -ENOMEM;
        assert_int_equal(netmon_start(t->nm), -ENOMEM);
        expect(t, 1, NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_start, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dad, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
                cmocka_unit_test_setup_teardown(test_recreate, setup, teardown),
                cmocka_unit_test_setup_teardown(test_addr_before_link, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pppd_burst, setup, teardown),
                cmocka_unit_test_setup_teardown(test_enobufs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_resync, setup, teardown),
                cmocka_unit_test_setup_teardown(test_start_fails, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
