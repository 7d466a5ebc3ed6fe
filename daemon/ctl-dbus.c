/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bus-api.h"
#include "ctl-dbus.h"
#include "util.h"

/* The wire format (D-Bus specification, "Message Protocol"): a 12-byte
 * fixed header (endianness, type, flags, version, body length, serial), an
 * array of (byte code, variant) header fields, padding to 8, the body.
 * Everything is written and read in this host's byte order: the bus runs on
 * the same host and answers in its own, which is ours. */
enum { MSG_METHOD_CALL = 1, MSG_METHOD_RETURN = 2, MSG_ERROR = 3 };
enum { F_PATH = 1, F_INTERFACE = 2, F_MEMBER = 3, F_ERROR_NAME = 4, F_REPLY_SERIAL = 5, F_DESTINATION = 6,
       F_SIGNATURE = 8 };
#define ENDIAN_BYTE (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 'l' : 'B')
#define MSG_MAX (1u << 20)    /* a reply to Apply is ~100 bytes; signals before it are small too */
#define STR_MAX (64u << 10)   /* paths and SSH_CONNECTION: far below the protocol's limit */
#define CALL_TIMEOUT_MS 25000 /* sd-bus's default for a method call */
#define SERIAL_HELLO 1
#define SERIAL_CALL 2
#define ALIGN_TO(x, a) (((x) + (a) - 1) / (a) * (a))

struct wbuf {
        char *p;
        size_t n, cap;
        bool oom;
};

static void put(struct wbuf *w, const void *data, size_t len) {
        if (len == 0)
                return;
        if (w->oom || len > MSG_MAX || w->n + len > MSG_MAX) {
                w->oom = true;
                return;
        }
        if (w->n + len > w->cap) {
                size_t cap = MAX(w->cap * 2, MAX(w->n + len, (size_t) 512));
                char *p = realloc(w->p, cap);

                if (!p) {
                        w->oom = true;
                        return;
                }
                w->p = p;
                w->cap = cap;
        }
        memcpy(w->p + w->n, data, len);
        w->n += len;
}

static void pad(struct wbuf *w, size_t align) {
        static const char zero[8];

        put(w, zero, (align - w->n % align) % align);
}

static void put_u32(struct wbuf *w, uint32_t v) {
        pad(w, 4);
        put(w, &v, 4);
}

/* 's' and 'o': u32 length, bytes, NUL; 'g': u8 length, bytes, NUL */
static void put_str(struct wbuf *w, char type, const char *s) {
        size_t len = strlen(s);

        if (len >= (type == 'g' ? 256 : STR_MAX)) {
                w->oom = true;
                return;
        }
        if (type == 'g')
                put(w, &(uint8_t) { (uint8_t) len }, 1);
        else
                put_u32(w, (uint32_t) len);
        put(w, s, len + 1);
}

static void put_field(struct wbuf *w, uint8_t code, char type, const char *value) {
        pad(w, 8); /* every header field is a struct */
        put(w, &code, 1);
        put_str(w, 'g', (char[]) { type, 0 });
        put_str(w, type, value);
}

/* One METHOD_CALL (signature sig, body already marshalled) appended to w.
 * Messages follow each other without padding, and alignment counts from a
 * message's start: w->n must be a multiple of 8 (only the last message may
 * have a body). */
static void put_call(struct wbuf *w, uint32_t serial, const char *dest, const char *path, const char *iface,
                     const char *member, const char *sig, const struct wbuf *body) {
        size_t start = w->n, fields;
        uint32_t len;

        assert(start % 8 == 0);
        put(w, (char[]) { ENDIAN_BYTE, MSG_METHOD_CALL, 0, 1 }, 4);
        put_u32(w, body ? (uint32_t) body->n : 0);
        put_u32(w, serial);
        put_u32(w, 0); /* the fields' length, below */
        fields = w->n;
        put_field(w, F_PATH, 'o', path);
        put_field(w, F_INTERFACE, 's', iface);
        put_field(w, F_MEMBER, 's', member);
        put_field(w, F_DESTINATION, 's', dest);
        if (sig)
                put_field(w, F_SIGNATURE, 'g', sig);
        if (w->oom)
                return;
        len = (uint32_t) (w->n - fields);
        memcpy(w->p + start + 12, &len, 4);
        pad(w, 8);
        if (body)
                put(w, body->p, body->n);
}

/* $DBUS_SYSTEM_BUS_ADDRESS's first address, if it is unix:path= or
 * unix:abstract= (%XX escapes decoded); -EPROTONOSUPPORT otherwise. */
static int bus_sockaddr(struct sockaddr_un *sa, socklen_t *ret_len) {
        const char *a = getenv("DBUS_SYSTEM_BUS_ADDRESS"), *v;
        bool abstract;
        size_t n = 0;

        if (!a || !*a)
                a = "unix:path=/run/dbus/system_bus_socket";
        if (strncmp(a, "unix:", 5) != 0)
                return -EPROTONOSUPPORT;
        v = a + 5;
        abstract = strncmp(v, "abstract=", 9) == 0;
        if (!abstract && strncmp(v, "path=", 5) != 0)
                return -EPROTONOSUPPORT;
        v += abstract ? 9 : 5;
        *sa = (struct sockaddr_un) { .sun_family = AF_UNIX };
        if (abstract)
                n = 1; /* sun_path[0] = 0 */
        for (; *v && *v != ',' && *v != ';'; v++) {
                unsigned c = (unsigned char) *v;

                if (c == '%' && sscanf(v + 1, "%2x", &c) == 1)
                        v += 2;
                if (n + 1 >= sizeof(sa->sun_path))
                        return -EPROTONOSUPPORT;
                sa->sun_path[n++] = (char) c;
        }
        if (n == (abstract ? 1u : 0u))
                return -EPROTONOSUPPORT;
        *ret_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + !abstract);
        return 0;
}

/* "\0AUTH EXTERNAL <hex of our uid>\r\nBEGIN\r\n": what precedes the messages. */
static void put_auth(struct wbuf *w) {
        char uid[24], line[80];
        size_t k = 0;

        snprintf(uid, sizeof(uid), "%u", (unsigned) geteuid());
        line[k++] = 0;
        k += (size_t) snprintf(line + k, sizeof(line) - k, "AUTH EXTERNAL ");
        for (const char *c = uid; *c; c++)
                k += (size_t) snprintf(line + k, sizeof(line) - k, "%02x", (unsigned char) *c);
        put(w, line, k);
        put(w, "\r\nBEGIN\r\n", 9);
}

static int64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read more into r (until its end), waiting until deadline.  -ETIMEDOUT, -ECONNRESET at EOF. */
static int fill(int fd, struct wbuf *r, int64_t deadline) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        char buf[4096];
        ssize_t n;
        int t;

        for (;;) {
                t = (int) MAX(deadline - now_ms(), (int64_t) 0);
                if (poll(&p, 1, t) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
                        return -ETIMEDOUT;
                n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -ECONNRESET;
                put(r, buf, (size_t) n);
                return r->oom ? -EMSGSIZE : 0;
        }
}

struct reply {
        uint8_t type;
        uint32_t reply_serial;
        const char *error_name, *signature;
        const char *body;
        uint32_t body_len;
};

static uint32_t get_u32(const char *p) {
        uint32_t v;

        memcpy(&v, p, 4);
        return v;
}

/* A string-like field value at *off (type 's'/'o' or 'g'), checked to lie within [0, end). */
static const char *get_str(const char *m, size_t *off, size_t end, char type) {
        size_t len;
        const char *s;

        if (type == 'g') {
                if (*off + 1 > end)
                        return NULL;
                len = (uint8_t) m[(*off)++];
        } else {
                *off = ALIGN_TO(*off, 4);
                if (*off + 4 > end)
                        return NULL;
                len = get_u32(m + *off);
                *off += 4;
        }
        if (len >= end || *off + len + 1 > end || m[*off + len] != 0)
                return NULL;
        s = m + *off;
        *off += len + 1;
        return s;
}

/* The header fields of the message m (total bytes, fields end at fend). */
static int parse_fields(const char *m, size_t fend, struct reply *rp) {
        for (size_t off = 16; ALIGN_TO(off, 8) < fend;) {
                const char *sig, *v;
                uint8_t code;

                off = ALIGN_TO(off, 8);
                code = (uint8_t) m[off++];
                sig = get_str(m, &off, fend, 'g');
                if (!sig || strlen(sig) != 1)
                        return -EBADMSG;
                if (sig[0] == 'u') {
                        off = ALIGN_TO(off, 4);
                        if (off + 4 > fend)
                                return -EBADMSG;
                        if (code == F_REPLY_SERIAL)
                                rp->reply_serial = get_u32(m + off);
                        off += 4;
                        continue;
                }
                if (!strchr("sog", sig[0]) || !(v = get_str(m, &off, fend, sig[0])))
                        return -EBADMSG; /* no other field type is in a reply we read */
                if (code == F_ERROR_NAME)
                        rp->error_name = v;
                else if (code == F_SIGNATURE)
                        rp->signature = v;
        }
        return 0;
}

/* The first whole message in r: its length in *ret_len (0: not whole yet). */
static int next_message(const struct wbuf *r, size_t *ret_len, struct reply *rp) {
        size_t fend, total;
        uint32_t blen, flen;

        *ret_len = 0;
        if (r->n < 16)
                return 0;
        if (r->p[0] != ENDIAN_BYTE || r->p[3] != 1)
                return -EBADMSG;
        blen = get_u32(r->p + 4);
        flen = get_u32(r->p + 12);
        if (blen > MSG_MAX || flen > MSG_MAX)
                return -EMSGSIZE;
        fend = 16 + (size_t) flen;
        total = ALIGN_TO(fend, 8) + blen;
        if (r->n < total)
                return 0;
        *rp = (struct reply) { .type = (uint8_t) r->p[1], .body = r->p + ALIGN_TO(fend, 8), .body_len = blen };
        *ret_len = total;
        return parse_fields(r->p, fend, rp);
}

void ctl_dbus_error_clear(struct ctl_dbus_error *e) {
        free(e->name);
        free(e->message);
        *e = (struct ctl_dbus_error) {};
}

static int error_set(struct ctl_dbus_error *e, const char *name, const char *message) {
        ctl_dbus_error_clear(e);
        e->name = name ? strdup(name) : NULL;
        e->message = message ? strdup(message) : NULL;
        return -EREMOTEIO;
}

/* A transport failure after the call was sent, named as sd-bus names it. */
static int transport_error(struct ctl_dbus_error *e, int r) {
        if (r == -ETIMEDOUT)
                return error_set(e, "org.freedesktop.DBus.Error.NoReply", "Method call timed out");
        if (r == -ECONNRESET || r == -EPIPE)
                return error_set(e, "org.freedesktop.DBus.Error.Disconnected", "Connection terminated");
        return error_set(e, NULL, strerror(-r));
}

static void consume(struct wbuf *r, size_t n) {
        memmove(r->p, r->p + n, r->n - n);
        r->n -= n;
}

/* dbus-daemon's answer to the authentication: 0 after "OK <guid>" (it then
 * reads our messages), CTL_DBUS_FALLBACK when it refused or closed first. */
static int read_auth(int fd, struct wbuf *r, int64_t deadline) {
        for (;;) {
                char *eol = r->n ? memmem(r->p, r->n, "\r\n", 2) : NULL;
                int k;

                if (eol) {
                        if (r->n < 3 || strncmp(r->p, "OK ", 3) != 0)
                                return CTL_DBUS_FALLBACK;
                        consume(r, (size_t) (eol + 2 - r->p));
                        return 0;
                }
                k = fill(fd, r, deadline);
                if (k == -ETIMEDOUT)
                        return k; /* it may still read the call: no second one */
                if (k < 0)
                        return CTL_DBUS_FALLBACK;
        }
}

/* Skip Hello's reply and signals until the call's reply (or Hello's error) is first in r. */
static int read_reply(int fd, struct wbuf *r, int64_t deadline, struct reply *rp) {
        for (;;) {
                size_t len;
                int k = next_message(r, &len, rp);

                if (k < 0)
                        return k;
                if (len && (rp->type == MSG_METHOD_RETURN || rp->type == MSG_ERROR) &&
                    (rp->reply_serial == SERIAL_CALL || (rp->type == MSG_ERROR && rp->reply_serial == SERIAL_HELLO)))
                        return 0;
                if (len) {
                        consume(r, len);
                        continue;
                }
                k = fill(fd, r, deadline);
                if (k < 0)
                        return k;
        }
}

static int interpret(const struct reply *rp, uint64_t *ret_generation, struct ctl_dbus_error *e) {
        if (rp->type == MSG_ERROR) {
                size_t off = 0;
                const char *msg = rp->signature && rp->signature[0] == 's' ?
                        get_str(rp->body, &off, rp->body_len, 's') : NULL;

                return error_set(e, rp->error_name ? rp->error_name : "org.freedesktop.DBus.Error.Failed", msg);
        }
        if (!rp->signature || strcmp(rp->signature, "t") != 0 || rp->body_len < 8)
                return error_set(e, NULL, "unexpected reply to Apply");
        memcpy(ret_generation, rp->body, 8);
        return 0;
}

/* Write all of a and b; CTL_DBUS_FALLBACK if not a byte went out. */
static int send_all(int fd, const struct wbuf *a, const struct wbuf *b) {
        struct iovec iov[2] = { { a->p, a->n }, { b->p, b->n } };
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
        size_t sent = 0, total = a->n + b->n;

        while (sent < total) {
                ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return sent ? -errno : CTL_DBUS_FALLBACK;
                sent += (size_t) n;
                while (mh.msg_iovlen && (size_t) n >= mh.msg_iov->iov_len) {
                        n -= (ssize_t) mh.msg_iov->iov_len;
                        mh.msg_iov++;
                        mh.msg_iovlen--;
                }
                if (mh.msg_iovlen) {
                        mh.msg_iov->iov_base = (char *) mh.msg_iov->iov_base + n;
                        mh.msg_iov->iov_len -= (size_t) n;
                }
        }
        return 0;
}

static int call(const struct wbuf *auth, const struct wbuf *msgs, uint64_t *ret_generation,
                struct ctl_dbus_error *e) {
        _cleanup_close_ int fd = -EBADF;
        struct wbuf r = {};
        struct sockaddr_un sa;
        struct reply rp;
        socklen_t salen;
        int64_t deadline = now_ms() + CALL_TIMEOUT_MS;
        int k;

        if (bus_sockaddr(&sa, &salen) < 0)
                return CTL_DBUS_FALLBACK;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, salen) < 0)
                return CTL_DBUS_FALLBACK;
        k = send_all(fd, auth, msgs);
        if (k == 0)
                k = read_auth(fd, &r, deadline);
        if (k == 0)
                k = read_reply(fd, &r, deadline, &rp);
        if (k == 0)
                k = interpret(&rp, ret_generation, e);
        else if (k != CTL_DBUS_FALLBACK)
                k = transport_error(e, k);
        free(r.p);
        return k;
}

int ctl_dbus_apply(const char *path, uint32_t confirm_sec, const char *ssh_connection, bool force,
                   uint64_t *ret_generation, struct ctl_dbus_error *e) {
        struct wbuf auth = {}, body = {}, msgs = {};
        int k = -ENOMEM;

        put_str(&body, 's', path);
        put_u32(&body, confirm_sec);
        put_str(&body, 's', ssh_connection);
        put_u32(&body, force);
        put_auth(&auth);
        put_call(&msgs, SERIAL_HELLO, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                 "Hello", NULL, NULL);
        put_call(&msgs, SERIAL_CALL, POSTERN_BUS_NAME, POSTERN_BUS_PATH, POSTERN_BUS_INTERFACE,
                 POSTERN_BUS_METHOD_APPLY, "susb", &body);
        if (!auth.oom && !body.oom && !msgs.oom)
                k = call(&auth, &msgs, ret_generation, e);
        free(auth.p);
        free(body.p);
        free(msgs.p);
        return k;
}
