/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dlfcn.h>
#include <errno.h>

#include "dlopen.h"

int pst_dlopen(void **handle, const char *soname, const struct pst_dlsym *syms, size_t n, const char **ret_error) {
        void *h;

        if (*handle)
                return 0;
        h = dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
        if (!h) {
                if (ret_error)
                        *ret_error = dlerror();
                return -EOPNOTSUPP;
        }
        for (size_t i = 0; i < n; i++) {
                *syms[i].fn = dlsym(h, syms[i].name);
                if (!*syms[i].fn) {
                        if (ret_error)
                                *ret_error = dlerror();
                        dlclose(h);
                        return -EOPNOTSUPP;
                }
        }
        *handle = h;
        return 0;
}
