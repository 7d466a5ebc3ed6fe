/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "json.h"

void pst_json_init(struct pst_json *j, FILE *f) {
        *j = (struct pst_json) { .f = f };
}

void pst_json_escape(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                switch (*p) {
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                case '\t':
                        fputs("\\t", f);
                        break;
                default:
                        if (*p < 0x20)
                                fprintf(f, "\\u%04x", *p);
                        else
                                fputc(*p, f);
                }
        fputc('"', f);
}

static void prefix(struct pst_json *j, const char *key) {
        if (j->need_comma[j->depth])
                fputc(',', j->f);
        j->need_comma[j->depth] = true;
        if (key) {
                pst_json_escape(j->f, key);
                fputc(':', j->f);
        }
}

static void open_(struct pst_json *j, const char *key, char c) {
        prefix(j, key);
        fputc(c, j->f);
        if (j->depth + 1 < PST_JSON_DEPTH)
                j->depth++;
        j->need_comma[j->depth] = false;
}

static void close_(struct pst_json *j, char c) {
        fputc(c, j->f);
        if (j->depth > 0)
                j->depth--;
        if (j->depth == 0 && c)
                fputc('\n', j->f);
}

void pst_json_begin_object(struct pst_json *j, const char *key) {
        open_(j, key, '{');
}

void pst_json_end_object(struct pst_json *j) {
        close_(j, '}');
}

void pst_json_begin_array(struct pst_json *j, const char *key) {
        open_(j, key, '[');
}

void pst_json_end_array(struct pst_json *j) {
        close_(j, ']');
}

void pst_json_string(struct pst_json *j, const char *key, const char *v) {
        prefix(j, key);
        if (v)
                pst_json_escape(j->f, v);
        else
                fputs("null", j->f);
}

void pst_json_int(struct pst_json *j, const char *key, long long v) {
        prefix(j, key);
        fprintf(j->f, "%lld", v);
}

void pst_json_bool(struct pst_json *j, const char *key, bool v) {
        prefix(j, key);
        fputs(v ? "true" : "false", j->f);
}

void pst_json_raw(struct pst_json *j, const char *key, const char *raw) {
        prefix(j, key);
        fputs(raw, j->f);
}
