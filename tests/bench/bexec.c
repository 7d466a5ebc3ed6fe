/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bexec — run commands in a fresh network namespace and measure them.
 *
 *   bexec [-n NETNS] [-s SETUP]... [-v VERIFY] [-o OUT] [-t SECONDS] -- CMD [ARG...] [--then CMD [ARG...]]...
 *
 * unshare(CLONE_NEWNET) first (not timed) — or, with -n, setns() into the
 * existing namespace /run/netns/NETNS (one where a posternd runs) —, then every SETUP shell command
 * (sh -c, not timed), then the timed commands one after another (stdin
 * /dev/null, stdout to OUT or /dev/null, stderr inherited), then VERIFY (sh
 * -c, not timed; its first 4 KiB of output are reported).  Each timed
 * command is killed after SECONDS (default 120).
 *
 * Prints one JSON object: wall_us (first fork to last wait4, summed over the
 * timed commands), user_us and sys_us (their rusage, summed), maxrss_kib
 * (the largest of their peak RSS), status (0, or the first non-zero exit
 * status; 128+N for signal N), verify (VERIFY's output).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static int sh(const char *cmd, char *out, size_t outsize) {
        int pfd[2] = { -1, -1 }, status;
        pid_t pid;
        size_t len = 0;

        if (out && pipe(pfd) < 0)
                return -1;
        pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                if (out) {
                        dup2(pfd[1], 1);
                        close(pfd[0]);
                        close(pfd[1]);
                }
                execl("/bin/sh", "sh", "-c", cmd, (char *) NULL);
                _exit(127);
        }
        if (out) {
                ssize_t n;

                close(pfd[1]);
                while ((n = read(pfd[0], out + len, outsize - 1 - len)) > 0 && len + (size_t) n < outsize - 1)
                        len += (size_t) n;
                if (n > 0)
                        len += (size_t) n;
                out[len] = 0;
                while (read(pfd[0], &(char[256]) {}, 256) > 0) /* drain */
                        ;
                close(pfd[0]);
        }
        if (waitpid(pid, &status, 0) < 0)
                return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void json_str(const char *s) {
        putchar('"');
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;

                if (c == '"' || c == '\\')
                        printf("\\%c", c);
                else if (c == '\n')
                        printf("\\n");
                else if (c < 0x20)
                        printf("\\u%04x", c);
                else
                        putchar(c);
        }
        putchar('"');
}

/* A fresh network namespace, or NAME's (ip netns: /run/netns/NAME, or a path). */
static int enter_netns(const char *name) {
        char path[4096];
        int fd;

        if (!name) {
                if (unshare(CLONE_NEWNET) < 0) {
                        perror("bexec: unshare(CLONE_NEWNET)");
                        return -1;
                }
                return 0;
        }
        snprintf(path, sizeof(path), "%s%s", strchr(name, '/') ? "" : "/run/netns/", name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
                fprintf(stderr, "bexec: setns(%s): %s\n", path, strerror(errno));
                return -1;
        }
        close(fd);
        return 0;
}

static pid_t child;
static void on_alarm(int sig) {
        (void) sig;
        if (child > 0)
                kill(child, SIGKILL);
}

int main(int argc, char **argv) {
        const char *setup[16], *verify = NULL, *out = "/dev/null", *netns = NULL;
        unsigned nsetup = 0, timeout = 120;
        uint64_t wall = 0, user = 0, sys = 0;
        long maxrss = 0;
        int status = 0, o, i;
        static char vout[4096];

        while ((o = getopt(argc, argv, "+n:s:v:o:t:")) >= 0)
                switch (o) {
                case 'n':
                        netns = optarg;
                        break;
                case 's':
                        if (nsetup < 16)
                                setup[nsetup++] = optarg;
                        break;
                case 'v':
                        verify = optarg;
                        break;
                case 'o':
                        out = optarg;
                        break;
                case 't':
                        timeout = (unsigned) atoi(optarg);
                        break;
                default:
                        return 2;
                }
        if (optind >= argc || strcmp(argv[optind - 1], "--") != 0) {
                fprintf(stderr, "usage: bexec [-n NETNS] [-s SETUP]... [-v VERIFY] [-o OUT] [-t SEC] -- CMD... [--then CMD...]\n");
                return 2;
        }
        if (enter_netns(netns) < 0)
                return 2;
        for (unsigned s = 0; s < nsetup; s++)
                if (sh(setup[s], NULL, 0) != 0) {
                        fprintf(stderr, "bexec: setup failed: %s\n", setup[s]);
                        return 2;
                }
        signal(SIGALRM, on_alarm);

        for (i = optind; i < argc;) {
                int j = i, st;
                struct rusage ru;
                uint64_t t0;

                while (j < argc && strcmp(argv[j], "--then") != 0)
                        j++;
                argv[j < argc ? j : argc] = NULL; /* terminate this command's argv */
                t0 = now_us();
                child = fork();
                if (child < 0) {
                        perror("bexec: fork");
                        return 2;
                }
                if (child == 0) {
                        int in = open("/dev/null", O_RDONLY), fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

                        if (in < 0 || fd < 0)
                                _exit(126);
                        dup2(in, 0);
                        dup2(fd, 1);
                        execvp(argv[i], argv + i);
                        perror(argv[i]);
                        _exit(127);
                }
                alarm(timeout);
                while (wait4(child, &st, 0, &ru) < 0)
                        if (errno != EINTR) {
                                perror("bexec: wait4");
                                return 2;
                        }
                alarm(0);
                wall += now_us() - t0;
                user += (uint64_t) ru.ru_utime.tv_sec * 1000000 + (uint64_t) ru.ru_utime.tv_usec;
                sys += (uint64_t) ru.ru_stime.tv_sec * 1000000 + (uint64_t) ru.ru_stime.tv_usec;
                if (ru.ru_maxrss > maxrss)
                        maxrss = ru.ru_maxrss;
                st = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                if (st && !status)
                        status = st;
                i = j + 1;
        }
        if (verify && sh(verify, vout, sizeof(vout)) < 0)
                snprintf(vout, sizeof(vout), "verify failed to run");
        printf("{\"wall_us\":%llu,\"user_us\":%llu,\"sys_us\":%llu,\"maxrss_kib\":%ld,\"status\":%d,\"verify\":",
               (unsigned long long) wall, (unsigned long long) user, (unsigned long long) sys, maxrss, status);
        json_str(vout);
        printf("}\n");
        return 0;
}
