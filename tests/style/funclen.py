#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Function length check for lib/*.c and daemon/*.c.

    funclen.py [--root DIR]          fail listing every function over 80 lines
    funclen.py [--root DIR] --list   every function over 60 lines, longest first
    funclen.py --self-test           check the parser on a made-up file

A function is counted from the first line of its signature (return type and
storage class included) to its closing brace.  A function that really does
read best as one piece says so on the line just before it, or in its leading
comment block, with the words "reads best whole" and why, e.g.
    /* reads best whole: the batch order, top to bottom */
"""

import argparse
import os
import re
import sys

LIMIT = 80
LIST_OVER = 60
MARKER = "reads best whole"
DIRS = ("lib", "daemon")

# Being split in issue 9; remove when done.  (file, function) pairs that are
# over the limit today; an entry that is no longer over it fails the check
# too, so that the list only shrinks.
ALLOW = set()  # every function over the limit says why it reads best whole


def blank_out(text):
    """The text with comments, string and character literals and
    preprocessor lines replaced by spaces; newlines are kept, so offsets and
    line numbers stay those of the file.  Also returns, per line, whether a
    comment covers part of it."""
    out = list(text)
    in_comment = [False] * (text.count("\n") + 2)
    i, n, line = 0, len(text), 1
    at_line_start = True

    def wipe(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            at_line_start = True
            i += 1
            continue
        if at_line_start and c in " \t":
            i += 1
            continue
        if at_line_start and c == "#":
            # a directive, with its backslash continuations (and any comment in it)
            j = i
            while j < n:
                if text.startswith("/*", j):
                    e = text.find("*/", j + 2)
                    j = n if e < 0 else e + 2
                    continue
                if text[j] == "\n" and text[j - 1] != "\\":
                    break
                j += 1
            line += text.count("\n", i, j)
            wipe(i, j)
            i = j
            continue
        at_line_start = False
        if text.startswith("/*", i):
            e = text.find("*/", i + 2)
            j = n if e < 0 else e + 2
            for k in range(line, line + text.count("\n", i, j) + 1):
                in_comment[k] = True
            line += text.count("\n", i, j)
            wipe(i, j)
            i = j
            continue
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            in_comment[line] = True
            wipe(i, j)
            i = j
            continue
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            line += text.count("\n", i, j)
            wipe(i, j)
            i = j
            continue
        i += 1
    return "".join(out), in_comment


IDENT = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
NOT_FUNCTIONS = {"if", "while", "for", "switch", "return", "sizeof",
                 "__attribute__", "__typeof__", "typeof", "_Static_assert"}


def function_name(head):
    """The name of the function whose (blanked) signature is head, or None
    when head is not a function signature (a struct, enum, union or
    initializer)."""
    if re.search(r"\b(struct|union|enum)\s+\w*\s*$", head) or not head.rstrip().endswith(")"):
        return None
    depth = 0
    for k, ch in enumerate(head):
        if ch in "([":
            if depth == 0 and ch == "(":
                words = IDENT.findall(head[:k])
                if words and words[-1] not in NOT_FUNCTIONS and "=" not in head[:k]:
                    return words[-1]
                return None
            depth += 1
        elif ch in ")]":
            depth -= 1
    return None


def functions(path):
    """Yield (name, first line, last line) of every function defined in path."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    code, _ = blank_out(text)
    depth = 0
    chunk_start = 0          # where the text of the next top-level declaration begins
    body = None              # (name, first line) of the function being read
    for i, ch in enumerate(code):
        if ch == "{":
            if depth == 0:
                head = code[chunk_start:i]
                name = function_name(head)
                if name:
                    first = chunk_start + (len(head) - len(head.lstrip()))
                    body = (name, code.count("\n", 0, first) + 1)
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise SyntaxError(f"{path}:{code.count(chr(10), 0, i) + 1}: unbalanced '}}'")
            if depth == 0:
                if body:
                    yield body[0], body[1], code.count("\n", 0, i) + 1
                    body = None
                chunk_start = i + 1
        elif ch == ";" and depth == 0:
            chunk_start = i + 1
    if depth != 0:
        raise SyntaxError(f"{path}: unbalanced braces at the end of the file")


def has_marker(lines, code_lines, in_comment, first):
    """Whether the line before the function, or its leading comment block
    (the comment-only lines just above it), carries MARKER.  Lines are
    1-based; [0] is unused."""
    k = first - 1
    if k >= 1 and MARKER in lines[k]:
        return True
    while k >= 1 and in_comment[k] and lines[k].strip() and not code_lines[k].strip():
        if MARKER in lines[k]:
            return True
        k -= 1
    return False


def scan(root):
    found = []
    for d in DIRS:
        top = os.path.join(root, d)
        for dirpath, _, names in sorted(os.walk(top)):
            for fn in sorted(names):
                if not fn.endswith(".c"):
                    continue
                path = os.path.join(dirpath, fn)
                rel = os.path.relpath(path, root)
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                code, in_comment = blank_out(text)
                lines = [""] + text.split("\n")
                code_lines = [""] + code.split("\n")
                for name, first, last in functions(path):
                    found.append((rel, first, name, last - first + 1,
                                  has_marker(lines, code_lines, in_comment, first)))
    return found


SELF_TEST_BODY = "\n".join(["        x++;"] * 79)
SELF_TEST = f'''#include <stdio.h>
#define OPEN {{ /* a brace in a directive */
static const char *s = "{{ }} \\" {{";
struct a {{ int x; }};
static int tab[] = {{ 1, 2 }};
/* {{ a brace in a comment */
static int
two_line_signature(int a,
                   int b) {{
        char c = '{{'; char d = '\\''; // }}
{SELF_TEST_BODY}
}}

/*
 * the batch order,
 * reads best whole: top to bottom
 */
int marked(void) {{
        x++;
{SELF_TEST_BODY}
}}
static int exactly_80(void) {{
{SELF_TEST_BODY[:-len("        x++;") - 1]}
}}
int short_one(void) {{ return '}}'; }}
'''
# (name, first line, length, marked) that SELF_TEST must yield
SELF_TEST_EXPECT = [("two_line_signature", 7, 84, False), ("marked", 96, 82, True),
                    ("exactly_80", 178, 80, False), ("short_one", 258, 1, False)]


def self_test():
    import tempfile
    with tempfile.TemporaryDirectory() as root:
        os.mkdir(os.path.join(root, "lib"))
        with open(os.path.join(root, "lib", "t.c"), "w") as f:
            f.write(SELF_TEST)
        got = [(name, first, n, marked) for _, first, name, n, marked in scan(root)]
    if got != SELF_TEST_EXPECT:
        print(f"funclen self-test: got {got}, expected {SELF_TEST_EXPECT}")
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."),
                    help="the source tree (default: this script's)")
    ap.add_argument("--list", action="store_true",
                    help=f"list every function over {LIST_OVER} lines with its length")
    ap.add_argument("--self-test", action="store_true", help="check the parser itself")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    try:
        found = scan(os.path.normpath(args.root))
    except (OSError, SyntaxError) as e:
        print(f"funclen: {e}", file=sys.stderr)
        return 2

    if args.list:
        for rel, first, name, n, marked in sorted(found, key=lambda f: (-f[3], f[0], f[1])):
            if n > LIST_OVER:
                note = (" (reads best whole)" if marked else
                        " (allow-listed)" if (rel, name) in ALLOW and n > LIMIT else "")
                print(f"{rel}:{first}: {name} is {n} lines{note}")
        return 0

    failed = False
    long_ones = set()
    for rel, first, name, n, marked in found:
        if n <= LIMIT:
            continue
        long_ones.add((rel, name))
        if marked or (rel, name) in ALLOW:
            continue
        print(f"{rel}:{first}: {name} is {n} lines (limit {LIMIT})")
        failed = True
    for rel, name in sorted(ALLOW - long_ones):
        print(f"{rel}: {name} is allow-listed but not over {LIMIT} lines (any more): "
              f"remove it from ALLOW in {os.path.basename(__file__)}")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
