/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Services: named sets of ports, IP protocols and ICMP types.  The same
 * schema serves the catalog (services.conf) and a policy's own services.
 */

#include "addr.h"
#include "cfg.h"

#define PST_SERVICE_NAME_MAX 48
#define PST_SERVICE_PORTS_MAX 64  /* ranges per protocol */
#define PST_SERVICE_PROTOS_MAX 16
#define PST_SERVICE_ICMP_MAX 32
#define PST_CATALOG_MAX 4096

struct pst_service {
        char name[PST_SERVICE_NAME_MAX];
        struct pst_loc loc;
        char *description;
        char *source;
        uint8_t ntcp, nudp, nproto, nicmp, nicmp6;
        bool all; /* allow = "all": every protocol, no layer-4 match (the lists are empty) */
        struct pst_portrange tcp[PST_SERVICE_PORTS_MAX];
        struct pst_portrange udp[PST_SERVICE_PORTS_MAX];
        uint8_t proto[PST_SERVICE_PROTOS_MAX];
        uint8_t icmp[PST_SERVICE_ICMP_MAX];
        uint8_t icmp6[PST_SERVICE_ICMP_MAX];
};

void pst_service_free(struct pst_service *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_service *, pst_service_free);

/* Parse one service group (name = { tcp = ...; ... }). */
int pst_service_parse(struct pst_cfg *c, const config_setting_t *g, bool need_description,
                      struct pst_service **ret);
/* Parse "tcp/25", "udp/1024-2000", "proto/esp", "icmp/echo-request", "icmpv6/128";
 * returns -ENOENT (nothing recorded) when s has no such prefix. */
int pst_service_parse_inline(struct pst_cfg *c, const config_setting_t *item, const char *s,
                             struct pst_service **ret);
/* Whether s starts like an inline service ("tcp/", "udp/", "proto/", "icmp/", "icmpv6/"); anything
 * else with a slash is a reference such as "ldap/tcp" (a service restricted to one protocol). */
bool pst_service_is_inline(const char *s);

/* Names and numbers */
int pst_proto_lookup(const char *name);          /* "esp" → 50, or -ENOENT */
const char *pst_proto_name(uint8_t proto);       /* 50 → "esp", NULL if unnamed */
int pst_icmp_lookup(const char *name, bool v6);  /* "echo-request" → 8 / 128 */
const char *pst_icmp_name(uint8_t type, bool v6);

struct pst_catalog {
        size_t n, cap;
        struct pst_service **v;
        struct pst_strpool files;
        struct pst_read_log read; /* cfg.h: every file read, in order */
};

/* An empty catalog; pst_catalog_free accepts NULL and a half-loaded one. */
int pst_catalog_new(struct pst_catalog **ret);
void pst_catalog_free(struct pst_catalog *cat);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pst_catalog *, pst_catalog_free);
/* Empty a catalog held by value. */
void pst_catalog_clear(struct pst_catalog *cat);
/* Load a catalog file; a service already present is replaced (services.d overrides). */
int pst_catalog_load(struct pst_catalog *cat, const char *path, unsigned source_flags, struct pst_diag *diag);
/* Load every *.conf of dir in lexical order; a missing dir is not an error. */
int pst_catalog_load_dir(struct pst_catalog *cat, const char *dir, unsigned source_flags, struct pst_diag *diag);
/* The files pst_catalog_load_default(path) reads as main files, in order
 * (path NULL: the installed catalog, then services.d).  *ret: n strings,
 * each and the array to free. */
int pst_catalog_default_files(const char *path, char ***ret, size_t *ret_n);
/*
 * The catalog a command uses: path when given (and nothing else); otherwise
 * the installed catalog plus the services.d overrides, or — run from a build
 * tree without installing — the source tree's conf/services.conf.
 */
int pst_catalog_load_default(struct pst_catalog *cat, const char *path, unsigned source_flags,
                             struct pst_diag *diag);
const struct pst_service *pst_catalog_find(const struct pst_catalog *cat, const char *name);
