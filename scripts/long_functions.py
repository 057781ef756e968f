#!/usr/bin/env python3
"""Lists the production functions longer than a limit (issue #22: none over 80 lines).

Usage: scripts/long_functions.py [--limit N] [BUILD_DIR]

Parses every translation unit of BUILD_DIR/compile_commands.json (default: build) with libclang
and prints each function, method or constructor defined in libs/, services/ or cli/ whose body
spans more than N lines (default 80), longest first, as `lines path:line name`. Tests, fuzz
harnesses and libs/testing are not production code and are left out; a lambda counts towards the
function it is written in. Exits 1 when it lists any. Needs Debian's python3-clang-14 (not
installed by scripts/install-deps.sh: a developer's check, not CI's); it takes several minutes.
"""
import argparse
import json
import os
import shlex
import sys

import clang.cindex as ci

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KINDS = {ci.CursorKind.FUNCTION_DECL, ci.CursorKind.CXX_METHOD, ci.CursorKind.CONSTRUCTOR,
         ci.CursorKind.DESTRUCTOR, ci.CursorKind.FUNCTION_TEMPLATE,
         ci.CursorKind.CONVERSION_FUNCTION}


def is_production(path):
    rel = os.path.relpath(path, ROOT)
    if not rel.startswith(("libs/", "services/", "cli/")) or rel.startswith("libs/testing/"):
        return False
    name = os.path.basename(rel)
    return "test" not in name and "fuzz" not in name


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=80)
    parser.add_argument("build_dir", nargs="?", default="build")
    args = parser.parse_args()
    ci.Config.set_library_file("/usr/lib/llvm-14/lib/libclang-14.so.1")
    commands = json.load(open(os.path.join(ROOT, args.build_dir, "compile_commands.json")))
    index = ci.Index.create()
    seen, found = set(), []

    def walk(cursor):
        for child in cursor.get_children():
            where = child.location.file
            if where is None or not is_production(where.name):
                continue
            if child.kind in KINDS and child.is_definition():
                key = (where.name, child.extent.start.line)
                lines = child.extent.end.line - child.extent.start.line + 1
                if key not in seen and lines > args.limit:
                    found.append((lines, os.path.relpath(where.name, ROOT),
                                  child.extent.start.line, child.spelling))
                seen.add(key)
            walk(child)

    for entry in commands:
        if not is_production(entry["file"]):
            continue
        words = shlex.split(entry["command"])[1:]
        flags, skip = [], False
        for word in words:
            if skip:
                skip = False
            elif word == "-o":
                skip = True
            elif word != "-c" and word != entry["file"]:
                flags.append(word)
        # libclang does not find its own builtin headers (stddef.h) by itself.
        flags.append("-I/usr/lib/llvm-14/lib/clang/14.0.6/include")
        try:
            walk(index.parse(entry["file"], args=flags).cursor)
        except ci.TranslationUnitLoadError as error:
            print(f"cannot parse {entry['file']}: {error}", file=sys.stderr)
            return 2
    for lines, path, line, name in sorted(found, reverse=True):
        print(f"{lines} {path}:{line} {name}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
