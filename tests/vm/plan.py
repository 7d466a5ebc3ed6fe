#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# plan.py INTRO TESTS SLOWDOWN STREAMS DURATIONS SERIES SCRATCH HERE SRC BUILD
#
# Turns the tests named in SCRATCH-side list TESTS (lines "NAME\tEXPECT\t
# REASON", in tests/vm/plan order) into guest shell scripts, running each
# exactly as `meson test` would: command, environment and working directory
# from the build tree's meson-info/intro-tests.json, meson's timeout times
# SLOWDOWN (TCG is ~30 times slower than this machine).
#   SCRATCH/plan-0.sh           the vm/NAME checks (tests/vm/checks/NAME.sh)
#                               listed before the first other test, in order,
#                               before anything else (later vm/ checks join
#                               the streams)
#   SCRATCH/plan-1..STREAMS.sh  the project's tests, one stream per vCPU,
#                               longest first (DURATIONS: "SERIES NAME SECONDS"
#                               from earlier runs, 30 s when unknown), each
#                               test to the least loaded stream
import json
import shlex
import sys

intro, listf, slow, streams_n, durf, series, scratch, here, src, build = sys.argv[1:]
slow, streams_n = int(slow), int(streams_n)

tests = {}
for t in json.load(open(intro)):
    for s in t["suite"]:
        tests[s.split(":")[-1] + "/" + t["name"]] = t

est = {}
try:
    for line in open(durf):
        f = line.split()
        if len(f) == 3 and f[0] == series:
            est[f[1]] = float(f[2])
except OSError:
    pass

base_env = {"POSTERN_SOURCE_ROOT": src, "POSTERN_BUILD_ROOT": build,
            "POSTERNCTL": build + "/daemon/posternctl",
            "POSTERN_CATALOG": src + "/conf/services.conf"}


def line(*words):
    return " ".join(shlex.quote(str(w)) for w in words) + "\n"


# Under TCG a connection that passes can take longer than the traffic tests'
# 1 s probe timeout on a loaded machine (seen: "pass out ... got: timeout"
# with three qemus on 2 cores); a drop costs the timeout once per phase.
# kernel/examples applies only the kernel-sensitive golden cases there
# (tests/kernel/examples.sh says which and why).
guest_env = {"PROBE_TIMEOUT_MS": "3000", "POSTERN_EXAMPLES": "kernel-sensitive"}


def envs(d):
    return ["%s=%s" % kv for kv in sorted({**guest_env, **d}.items())]


first, rest = [], []
for n, entry in enumerate(open(listf), 1):
    name = entry.split("\t")[0]
    if name == "vm/systemd":
        # a boot of its own with systemd as PID 1 (vm.sh, tests/vm/systemd/)
        open(scratch + "/boot-systemd", "w").write("%d\n" % n)
        continue
    if name.startswith("vm/"):
        cmd = line("run_test", n, name, 300, build, *envs(base_env), "--",
                   here + "/checks/" + name[3:] + ".sh")
        if rest:
            rest.append((est.get(name, 30.0), n, cmd))
        else:
            first.append(cmd)
        continue
    t = tests.get(name)
    if t is None:
        first.append(line("no_test", n, name))
        continue
    cmd = line("run_test", n, name, (t["timeout"] or 30) * slow, t["workdir"] or build,
               *envs(t["env"]), "--", *t["cmd"])
    rest.append((est.get(name, 30.0), n, cmd))

open(scratch + "/plan-0.sh", "w").write("".join(first))
load = [0.0] * streams_n
streams = [[] for _ in range(streams_n)]
for e, n, cmd in sorted(rest, key=lambda r: (-r[0], r[1])):
    i = load.index(min(load))
    load[i] += e
    streams[i].append(cmd)
for i, s in enumerate(streams, 1):
    open("%s/plan-%d.sh" % (scratch, i), "w").write("".join(s))
print(" ".join("%.0f" % x for x in load))
