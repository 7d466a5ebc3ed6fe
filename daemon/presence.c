/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "presence.h"
#include "util.h"

#define PRESENCE_NAME "org.postern1.posternd"

static socklen_t presence_addr(struct sockaddr_un *sa) {
        *sa = (struct sockaddr_un) { .sun_family = AF_UNIX };
        memcpy(sa->sun_path + 1, PRESENCE_NAME, sizeof(PRESENCE_NAME) - 1); /* sun_path[0] = 0: abstract */
        return (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + sizeof(PRESENCE_NAME) - 1);
}

int presence_claim(void) {
        struct sockaddr_un sa;
        socklen_t len = presence_addr(&sa);
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, len) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        return fd;
}

int presence_check(void) {
        struct sockaddr_un sa;
        socklen_t len = presence_addr(&sa);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        return fd >= 0 && connect(fd, (struct sockaddr *) &sa, len) == 0;
}
