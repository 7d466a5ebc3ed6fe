/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* A minimal streaming JSON writer for --json output: it tracks commas and
 * nesting, the caller writes the structure in order. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define PST_JSON_DEPTH 16

struct pst_json {
        FILE *f;
        unsigned depth;
        bool need_comma[PST_JSON_DEPTH];
};

void pst_json_init(struct pst_json *j, FILE *f);
void pst_json_begin_object(struct pst_json *j, const char *key);  /* key NULL inside arrays / at top */
void pst_json_end_object(struct pst_json *j);
void pst_json_begin_array(struct pst_json *j, const char *key);
void pst_json_end_array(struct pst_json *j);
void pst_json_string(struct pst_json *j, const char *key, const char *v); /* v NULL → null */
void pst_json_int(struct pst_json *j, const char *key, long long v);
void pst_json_bool(struct pst_json *j, const char *key, bool v);
void pst_json_raw(struct pst_json *j, const char *key, const char *raw); /* already JSON */
void pst_json_escape(FILE *f, const char *s);
