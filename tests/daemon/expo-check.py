#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Parse FILE as the Prometheus text exposition format (0.0.4), strictly, as
node_exporter's textfile collector would need it: HELP/TYPE at most once per
family and before its samples, each family's samples together, valid names,
label values with only \\\\, \\" and \\n escapes, float values, no duplicate
series, counters named *_total, a final newline.  Prints every sample line;
exits 1 with the reason on the first violation."""
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def fail(n, why):
    print("line %d: %s" % (n, why), file=sys.stderr)
    sys.exit(1)


def parse_labels(n, s, i):
    """s[i] == '{': returns (labels tuple, index after '}')."""
    labels, i = [], i + 1
    while s[i] != "}":
        m = LABEL.match(s, i)
        if not m:
            fail(n, "bad label name at %r" % s[i:])
        name, i = m.group(0), m.end()
        if s[i:i + 2] != '="':
            fail(n, "expected =\" after label %s" % name)
        i += 2
        val = []
        while s[i] != '"':
            if s[i] == "\\":
                if s[i + 1] not in '\\"n':
                    fail(n, "bad escape \\%s" % s[i + 1])
                val.append("\n" if s[i + 1] == "n" else s[i + 1])
                i += 2
            elif s[i] == "\n":
                fail(n, "newline in a label value")
            else:
                val.append(s[i])
                i += 1
        i += 1
        if name in [l[0] for l in labels]:
            fail(n, "label %s twice" % name)
        labels.append((name, "".join(val)))
        if s[i] == ",":
            i += 1
        elif s[i] != "}":
            fail(n, "expected , or } at %r" % s[i:])
    return tuple(sorted(labels)), i + 1


def main():
    text = open(sys.argv[1]).read()
    if not text.endswith("\n"):
        fail(0, "no final newline")
    types, helps, done, seen, current = {}, set(), set(), set(), None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not NAME.fullmatch(name):
                    fail(n, "bad metric name %r" % name)
                if name in done or (name in seen and name != current):
                    fail(n, "%s for %s after its samples" % (parts[1], name))
                if parts[1] == "TYPE":
                    if name in types or len(parts) != 4 or parts[3] not in TYPES:
                        fail(n, "bad or repeated TYPE")
                    types[name] = parts[3]
                else:
                    if name in helps:
                        fail(n, "repeated HELP")
                    helps.add(name)
            continue
        m = NAME.match(line)
        if not m:
            fail(n, "bad sample %r" % line)
        name, i = m.group(0), m.end()
        labels = ()
        if i < len(line) and line[i] == "{":
            labels, i = parse_labels(n, line + "\n", i)
        rest = line[i:].split(" ")
        if rest[0] != "" or len(rest) not in (2, 3):
            fail(n, "expected ' VALUE [TIMESTAMP]' in %r" % line)
        try:
            float(rest[1])
            if len(rest) == 3:
                int(rest[2])
        except ValueError:
            fail(n, "bad value in %r" % line)
        if name != current:
            if current is not None:
                done.add(current)
            if name in done:
                fail(n, "samples of %s are not together" % name)
            current = name
        if types.get(name) == "counter" and not name.endswith("_total"):
            fail(n, "counter %s not named *_total" % name)
        if (name, labels) in seen:
            fail(n, "duplicate series %s%s" % (name, labels))
        seen.add((name, labels))
        seen.add(name)
        print(line)


main()
