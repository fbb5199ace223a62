#!/usr/bin/env python3
"""Checks that scripts/packages.sh covers every external dependency (static; installs nothing).

    scripts/check_packages.py [SOURCE_DIR]

Every find_package / find_dependency / find_program in the project's CMake files and every
program a test-server script lists in REQUIRED_PROGRAMS (tests/integration/*.sh) must have an
entry in POP3_PROVIDES that names a package of one of the groups (or "-" for pop3 itself).
Only scripts/packages.sh (and scripts/backport.sh, which unpacks, never installs) may run apt-get.
Exit 0 when all is covered, 1 with one line per problem otherwise. Python 3 standard library.
"""

import os
import re
import subprocess
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
PACKAGES_SH = "scripts/packages.sh"
# Not ours to build: ports/ is run by vcpkg; the rest are build trees and unpacked packages.
SKIP_DIRS = re.compile(r"^(\.git|\.deps|ports|build.*|cmake-build-.*|out|demo-mail)$")
FIND_CALL = re.compile(r"\b(find_package|find_dependency|find_program)\s*\(([^)]*)\)", re.I)
# find_program's keywords: what follows NAMES up to one of these are the names.
FIND_PROGRAM_KEYWORDS = {"NAMES_PER_DIR", "HINTS", "PATHS", "PATH_SUFFIXES", "DOC", "NO_CACHE",
                         "REQUIRED", "OPTIONAL", "VALIDATOR", "REGISTRY_VIEW", "ENV"} | {
                         k for k in "NO_DEFAULT_PATH NO_PACKAGE_ROOT_PATH NO_CMAKE_PATH "
                         "NO_CMAKE_ENVIRONMENT_PATH NO_SYSTEM_ENVIRONMENT_PATH "
                         "NO_CMAKE_SYSTEM_PATH NO_CMAKE_INSTALL_PREFIX CMAKE_FIND_ROOT_PATH_BOTH "
                         "ONLY_CMAKE_FIND_ROOT_PATH NO_CMAKE_FIND_ROOT_PATH".split()}
# apt-get as a command (line start, after ; & | ( ! or $( and an optional sudo/env/timeout), not
# inside a message.
APT_RUN = re.compile(r"(?:^|[;&|(!]|\$\()[ \t]*(?:(?:sudo|\$SUDO|env|\w+=\S*|timeout[ \t]+\S+)[ \t]+)*"
                     r"apt-get[ \t]+(?:-\S+[ \t]+)*(install|download|update|remove)\b", re.M)


def strip_cmake_comments(text):
    """CMake text with line comments blanked (a '#' outside a quoted argument), lines kept."""
    out, in_quote, i = [], False, 0
    while i < len(text):
        c = text[i]
        if in_quote:
            if c == "\\":
                out.append(text[i:i + 2])
                i += 2
                continue
            if c == '"':
                in_quote = False
        elif c == '"':
            in_quote = True
        elif c == "#":
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            i = end
            continue
        out.append(c)
        i += 1
    return "".join(out)


def cmake_files():
    for dirpath, dirnames, filenames in os.walk(ROOT):
        rel = os.path.relpath(dirpath, ROOT)
        dirnames[:] = sorted(d for d in dirnames if not (rel == "." and SKIP_DIRS.match(d)) and d != ".git")
        for f in sorted(filenames):
            if f == "CMakeLists.txt" or f.endswith(".cmake") or f.endswith(".cmake.in"):
                yield os.path.join(dirpath, f)


def load_packages():
    """The groups and POP3_PROVIDES, as scripts/packages.sh prints them."""
    out = subprocess.run(["bash", os.path.join(ROOT, PACKAGES_SH), "map"], check=True,
                         capture_output=True, text=True).stdout
    in_groups, provides = {}, {}
    for line in out.splitlines():
        fields = line.split()
        if fields[0] == "group":
            in_groups.setdefault(fields[2], fields[1])
        elif fields[0] == "provides":
            provides[(fields[1], fields[2])] = fields[3]
    return in_groups, provides


def main():
    in_groups, provides = load_packages()
    problems, counts = [], {"package": 0, "program": 0}

    def need(kind, names, where):
        """One of NAMES (a CMake package or a program) must be provided by a listed package."""
        counts[kind] += 1
        for name in names:
            pkg = provides.get((kind, name))
            if pkg == "-" or pkg in in_groups:
                return
            if pkg is not None:
                problems.append("%s: %s %s is provided by %s, which no group in %s lists"
                                % (where, kind, name, pkg, PACKAGES_SH))
                return
        problems.append("%s: %s %s: no [%s:%s]=<Debian package> in POP3_PROVIDES in %s (add it, "
                        "and the package to a group)" % (where, kind, " or ".join(names), kind,
                                                         names[0], PACKAGES_SH))

    for path in cmake_files():
        rel = os.path.relpath(path, ROOT)
        with open(path, encoding="utf-8") as f:
            text = strip_cmake_comments(f.read())
        for m in FIND_CALL.finditer(text):
            where = "%s:%d: %s(...)" % (rel, text.count("\n", 0, m.start()) + 1, m.group(1))
            args = [a.strip('"') for a in m.group(2).split()]
            if m.group(1).lower() == "find_program":
                if len(args) < 2:
                    problems.append(where + ": cannot read the program name")
                    continue
                names = args[2:] if args[1] == "NAMES" else args[1:2]
                names = names[:next((i for i, a in enumerate(names) if a in FIND_PROGRAM_KEYWORDS), len(names))]
                kind = "program"
            else:
                names, kind = args[:1], "package"
            if not names or any("$" in n for n in names):
                problems.append(where + ": cannot read a literal name; check it by hand")
                continue
            need(kind, names, where)

    # The test-server scripts: what they run is declared in REQUIRED_PROGRAMS.
    integration = os.path.join(ROOT, "tests", "integration")
    for f in sorted(os.listdir(integration)):
        if not f.endswith(".sh"):
            continue
        with open(os.path.join(integration, f), encoding="utf-8") as fh:
            text = fh.read()
        if "server_lib.sh" not in text or f == "server_lib.sh":
            continue
        m = re.search(r"^REQUIRED_PROGRAMS=\(([^)]*)\)", text, re.M)
        if not m:
            problems.append("tests/integration/%s: a test-server script without REQUIRED_PROGRAMS=(...)" % f)
            continue
        for prog in m.group(1).split():
            need("program", [prog], "tests/integration/%s: REQUIRED_PROGRAMS" % f)

    # One place installs: no other script runs apt-get install/update/download/remove.
    for rel in [".ci/run"] + ["scripts/" + f for f in sorted(os.listdir(os.path.join(ROOT, "scripts")))] + \
            ["tests/integration/" + f for f in sorted(os.listdir(integration))]:
        if rel in (PACKAGES_SH, "scripts/backport.sh") or not (rel.endswith(".sh") or rel == ".ci/run"):
            continue
        path = os.path.join(ROOT, rel)
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        for m in APT_RUN.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            problems.append("%s:%d: runs apt-get %s; install through %s instead"
                            % (rel, line, m.group(1), PACKAGES_SH))

    for p in problems:
        print("check_packages: " + p)
    if problems:
        print("check_packages: FAILED (%d problems); the package list is %s" % (len(problems), PACKAGES_SH))
        return 1
    print("check_packages: ok: %d find_package/find_dependency and %d find_program/REQUIRED_PROGRAMS "
          "covered by %s" % (counts["package"], counts["program"], PACKAGES_SH))
    return 0


if __name__ == "__main__":
    sys.exit(main())
