/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What a table allows, in the policy's words, read back from the nft
 * listing of its structure (the one ctl-diff.c makes of both sides): every
 * rule becomes one "atom" per port, protocol or ICMP type it matches —
 *
 *   input tcp/993 (imaps) from zone wan
 *   forward udp/53 (dns) from list partners to 198.18.2.10
 *
 * — so that two tables compare as two sets of atoms: what only the new one
 * has becomes newly allowed, what only the live one has newly blocked.  The
 * listing is enough (no daemon, no policy for the live side): postern's
 * chains and sets are named after the policy (input_ZONE, zone_NAME_v4,
 * list_NAME_v6, ifaddr_IF_v4, CHAIN_hosts_v4_tcp).  Service names come from
 * the policy's and the catalog's services, by port; host names from the
 * (new) policy's hosts, by address.
 */

#include <stdbool.h>
#include <stddef.h>

#include "nft-dump.h"
#include "policy.h"
#include "service.h"

struct speak_names {
        const struct pst_policy *policy; /* may be NULL */
        const struct pst_catalog *catalog;
};

struct speak_rule {
        char chain[PST_NAME_MAX]; /* "input", "forward" (a zone's chain is its base chain) */
        char *where;              /* "from zone wan to (ppp0)", "" */
        char *verdict;            /* "" for accept, else "drop", "jump x", ... */
        char **items;             /* "tcp/993 (imaps)", "icmp/echo-request"; none: the rule as a whole */
        size_t nitems, capitems;
        char sets[4][PST_NAME_MAX * 4]; /* the named sets it looks up */
        size_t nsets;
        bool hosts; /* matches a host-to-host set: its elements are its meaning */
        char trusted[PST_NAME_MAX]; /* a trusted zone's rule: the zone ("docker"), else "" */
};

struct speak_table {
        struct speak_rule *v;
        size_t n, cap;
};

int speak_parse(const char *listing, const struct speak_names *names, struct speak_table *ret);
void speak_table_clear(struct speak_table *t);

/* One thing said: the sentence and its parts (borrowed, valid as long as
 * the table and, for element lines, the callback run). */
struct speak_line {
        const char *text;    /* "input tcp/22 (ssh) from list admins: 198.18.5.0/24" */
        const char *chain;   /* "input" */
        const char *what;    /* "tcp/22 (ssh)"; a rule's items joined by ", "; "" for a rule as a whole */
        const char *where;   /* "from list admins", "" */
        const char *verdict; /* "" for accept, else "drop", ... */
        const char *element; /* the set element, or NULL */
        const char *trusted_zone; /* a trusted zone's rule ("trusted zone docker"): "docker", else NULL */
};

/* One port, protocol or ICMP type of one rule, as a sentence. */
struct speak_atom {
        char *text;
        const struct speak_rule *rule;
        const char *item; /* NULL: the rule as a whole */
};

/* Every atom of t, sorted by text, duplicates removed. */
int speak_atoms(const struct speak_table *t, struct speak_atom **ret, size_t *ret_n);
void speak_atoms_free(struct speak_atom *v, size_t n);
void speak_atom_line(const struct speak_atom *a, struct speak_line *ret);

/*
 * One changed element of named set `set`, said for each rule of t that
 * looks it up: "input tcp/25 (smtp) from list partners: 198.18.5.0/24"
 * (for a host-to-host set: "forward tcp/135 (msrpc-epmap) from 198.18.3.5
 * to 198.18.2.10").  cb gets each line; returns what cb returned if < 0.
 */
typedef int (*speak_line_cb)(const struct speak_line *l, void *data);
int speak_element(const struct speak_table *t, const struct speak_names *names, const char *set,
                  const char *element, speak_line_cb cb, void *data);
