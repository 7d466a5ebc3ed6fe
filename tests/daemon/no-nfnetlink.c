/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * no-nfnetlink COMMAND [ARGS...]: run COMMAND where the kernel refuses
 * NETLINK_NETFILTER sockets, as on a host whose service manager or
 * container runtime filters them (issue 11e: posternd --backend iptables
 * must not need one).  A seccomp filter makes socket(AF_NETLINK, *,
 * NETLINK_NETFILTER) fail with EPROTONOSUPPORT (what a kernel without
 * nfnetlink says); everything else, other netlink families included, is
 * allowed.  The filter is inherited by every child (ipset, modprobe).
 * Unlike an LD_PRELOAD shim it also works under ASan and for static tools.
 * Exit 77 where seccomp filters cannot be installed.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#endif

int main(int argc, char **argv)
{
#ifdef ARCH
        /* seccomp_data.args[] are 64 bits; the low word is at offset 0 on
         * these little-endian architectures, and domain and protocol are ints */
        struct sock_filter f[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 5),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 0, 3),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NETLINK_NETFILTER, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPROTONOSUPPORT & SECCOMP_RET_DATA)),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

        if (argc < 2) {
                fprintf(stderr, "usage: no-nfnetlink COMMAND [ARGS...]\n");
                return 2;
        }
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
            prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0) {
                printf("SKIP: cannot install a seccomp filter: %s\n", strerror(errno));
                return 77;
        }
        execvp(argv[1], argv + 1);
        fprintf(stderr, "no-nfnetlink: %s: %s\n", argv[1], strerror(errno));
        return 127;
#else
        printf("SKIP: no seccomp filter for this architecture\n");
        return 77;
#endif
}
