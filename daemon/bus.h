/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * posternd's D-Bus face: org.postern1 on the system bus (its names in
 * bus-api.h), and the networkd / NetworkManager signals we take as hints.
 * It calls only manager functions, and hears from the manager as its
 * observer (manager.h), so the manager knows nothing of D-Bus.  Without a
 * system bus the daemon logs once and runs on; the face is then silent.
 */

#include "bus-api.h"
#include "manager.h"

struct bus_face;

/* Connect, register the object, add the hint matches, take the name (last),
 * and become m's observer.  Fails only when out of memory: no bus is logged
 * and lived with. */
int bus_face_new(struct manager *m, sd_event *event, struct bus_face **ret);
struct bus_face *bus_face_free(struct bus_face *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct bus_face *, bus_face_free);
