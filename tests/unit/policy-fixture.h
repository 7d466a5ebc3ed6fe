/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The fixture of the unit tests that load policies from files: the catalog
 * ($POSTERN_CATALOG) loaded once, a scratch directory for the policy files,
 * both gone at teardown.  Include after <cmocka.h>.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service.h"
#include "source.h"

static struct pst_catalog cat;
static char dir[] = "/tmp/postern-unit-XXXXXX";

static int setup(void **state) {
        struct pst_diag d;
        const char *path = getenv("POSTERN_CATALOG");

        pst_diag_init(&d);
        if (!path || pst_catalog_load(&cat, path, pst_source_flags_from_env(), &d) < 0 || !mkdtemp(dir)) {
                pst_diag_print(&d, stderr);
                return -1;
        }
        pst_diag_clear(&d);
        return 0;
}

static int teardown(void **state) {
        char cmd[128];

        pst_catalog_clear(&cat);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        return system(cmd);
}

/* <dir>/name holds exactly len bytes of text (NULs and all). */
static void write_bytes(const char *name, const char *text, size_t len) {
        char path[256];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, len, f), len);
        fclose(f);
}

static inline void write_file(const char *name, const char *text) {
        write_bytes(name, text, strlen(text));
}
