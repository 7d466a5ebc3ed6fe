/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Libraries only some commands need are opened on first use, as systemd
 * does for its optional dependencies: loading libnftables (with libgmp,
 * libjansson, libxtables) and libsystemd (with libgcrypt, liblzma, ...) at
 * every start costs posternctl ~3 ms, more than applying the default policy
 * (tests/bench: P1 is mostly process start-up).
 */

#include <stddef.h>

struct pst_dlsym {
        const char *name;
        void **fn;
};

#define PST_DLSYM(sym, field) { #sym, (void **) &(field) }

/*
 * dlopen(soname) once and resolve every symbol into *fn; *handle caches the
 * result.  -EOPNOTSUPP with the reason in *ret_error when the library or a
 * symbol is missing.
 */
int pst_dlopen(void **handle, const char *soname, const struct pst_dlsym *syms, size_t n, const char **ret_error);
