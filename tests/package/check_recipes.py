#!/usr/bin/env python3
"""Checks the packaging recipes against CMakeLists.txt (ctest: pop3_package_recipes).

Neither vcpkg nor Conan is available where the tests run, so this stdlib-only script checks what
can drift without them noticing:

* CMakeLists.txt: project name and VERSION; its find_package() list, split by the
  POP3_USE_BOOST_ASIO branches; cmake/pop3Config.cmake.in finds the same packages in the same
  branches.
* ports/pop3/vcpkg.json: valid JSON; name and version; dependencies (and the boost-asio feature's)
  are the vcpkg ports of that find_package() list; the vcpkg-cmake helpers as host dependencies.
* ports/pop3/portfile.cmake: config fixup from pop3's install directory; every POP3_* option it
  passes, and the option its feature maps to, exists in CMakeLists.txt; tests turned off.
* conanfile.py: valid Python (py_compile); then run against stand-ins for the conan modules:
  name, version (set_version() reads CMakeLists.txt), requirements() for both Asio flavours,
  package_info() (CMake file and target names, defines, no bin/lib dirs), exported sources.

Usage: check_recipes.py <pop3 source dir>
"""

import fnmatch
import json
import os
import py_compile
import re
import sys
import tempfile
import types

# Every package CMakeLists.txt finds, and what it is called by vcpkg and by ConanCenter. None: a
# system facility, no package (Threads: pthread on Linux). A new find_package() must be added here,
# which is the point: then the recipes must follow.
PACKAGES = {
    "Threads": {"vcpkg": None, "conan": None},
    "OpenSSL": {"vcpkg": "openssl", "conan": "openssl"},
    "asio": {"vcpkg": "asio", "conan": "asio"},
    "Boost": {"vcpkg": "boost-asio", "conan": "boost"},
}
# Packages CMakeLists.txt finds only for an optional target that the installed package does not
# carry yet, so neither the recipes nor cmake/pop3Config.cmake.in name them. Moving one into the
# package (a find_package COMPONENT, a vcpkg feature, a Conan option) means moving it to PACKAGES.
OPTIONAL_NOT_PACKAGED = {
    "SQLite3": "pop3::sqlite, for <pop3/leave_on_server/sqlite_uid_store.hpp>",
}
# The Asio flavours: False = standalone Asio, True = POP3_USE_BOOST_ASIO.
FLAVOURS = (False, True)
FLAVOUR_NAME = {False: "standalone Asio", True: "POP3_USE_BOOST_ASIO"}
# What each flavour's package must define for its users (see CMakeLists.txt, pop3.pc.in).
FLAVOUR_DEFINE = {False: "ASIO_STANDALONE", True: "POP3_USE_BOOST_ASIO"}

errors = []


def error(message):
    errors.append(message)


def read(root, path):
    with open(os.path.join(root, path), encoding="utf-8") as f:
        return f.read()


def strip_cmake_comments(text):
    # Good enough for our files: no '#' inside quoted arguments that matter here.
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def cmake_commands(text):
    """(name, argument string) for each command, in order; arguments may span lines."""
    text = strip_cmake_comments(text)
    for m in re.finditer(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(", text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        yield m.group(1).lower(), text[m.end():i - 1]


def found_packages(text, switch):
    """{flavour: set of package names} found by find_package/find_dependency, where a call inside
    if(<switch>) ... else() ... endif() belongs to one flavour only."""
    result = {flavour: set() for flavour in FLAVOURS}
    stack = []  # per open if(): None (unrelated condition) or the flavour its branch is in
    for name, args in cmake_commands(text):
        if name == "if":
            stack.append(True if args.strip() == switch else None)
        elif name in ("else", "elseif"):
            if stack and stack[-1] is not None:
                stack[-1] = False if name == "else" else None
        elif name == "endif":
            if stack:
                stack.pop()
        elif name in ("find_package", "find_dependency"):
            package = args.split()[0]
            flavours = [f for f in stack if f is not None]
            for flavour in FLAVOURS:
                if all(f == flavour for f in flavours):
                    result[flavour].add(package)
    return result


def cmake_facts(root):
    text = read(root, "CMakeLists.txt")
    m = re.search(r"\bproject\(\s*([A-Za-z0-9_]+)\s+VERSION\s+([0-9.]+)", text)
    if not m:
        sys.exit("check_recipes: no project(<name> VERSION x.y.z ...) in CMakeLists.txt")
    options = set(re.findall(r"^\s*option\(\s*([A-Za-z0-9_]+)", text, re.M))
    m_dir = re.search(r'set\(\s*POP3_INSTALL_CMAKEDIR\s+"([^"]+)"', text)
    cmakedir = m_dir.group(1).replace("${CMAKE_INSTALL_DATADIR}", "share") if m_dir else None
    return {
        "name": m.group(1),
        "version": m.group(2),
        "packages": {flavour: found - set(OPTIONAL_NOT_PACKAGED) for flavour, found
                     in found_packages(text, "POP3_USE_BOOST_ASIO").items()},
        "options": options,
        "cmakedir": cmakedir,
    }


def check_cmake(root, cmake):
    if "POP3_USE_BOOST_ASIO" not in cmake["options"]:
        error("CMakeLists.txt: no option(POP3_USE_BOOST_ASIO ...)")
    for flavour in FLAVOURS:
        unknown = cmake["packages"][flavour] - set(PACKAGES)
        if unknown:
            error("CMakeLists.txt finds %s (%s): add it to PACKAGES in %s and to the recipes"
                  % (", ".join(sorted(unknown)), FLAVOUR_NAME[flavour], os.path.basename(__file__)))
    config = found_packages(read(root, "cmake/pop3Config.cmake.in"), "pop3_USE_BOOST_ASIO")
    for flavour in FLAVOURS:
        if config[flavour] != cmake["packages"][flavour]:
            error("cmake/pop3Config.cmake.in finds %s but CMakeLists.txt finds %s (%s)"
                  % (sorted(config[flavour]), sorted(cmake["packages"][flavour]),
                     FLAVOUR_NAME[flavour]))
    if cmake["cmakedir"] is None:
        error("CMakeLists.txt: no set(POP3_INSTALL_CMAKEDIR \"...\")")


def expected(cmake, flavour, tool):
    return {PACKAGES[p][tool] for p in cmake["packages"][flavour]
            if p in PACKAGES and PACKAGES[p][tool]}


# ------------------------------------------------------------------------------------------------
# vcpkg
# ------------------------------------------------------------------------------------------------

def dependency_names(deps):
    names, host = set(), set()
    for dep in deps:
        if isinstance(dep, str):
            names.add(dep)
        elif dep.get("host"):
            host.add(dep["name"])
        else:
            names.add(dep["name"])
    return names, host


def check_vcpkg(root, cmake):
    path = "ports/pop3/vcpkg.json"
    try:
        manifest = json.loads(read(root, path))
    except (OSError, ValueError) as e:
        error("%s: not valid JSON: %s" % (path, e))
        return
    if manifest.get("name") != cmake["name"]:
        error("%s: name %r, CMakeLists.txt says %r" % (path, manifest.get("name"), cmake["name"]))
    version = next((manifest[k] for k in ("version", "version-semver", "version-string")
                    if k in manifest), None)
    if version != cmake["version"]:
        error("%s: version %r, CMakeLists.txt says %r" % (path, version, cmake["version"]))
    if "Boost Software License" in read(root, "LICENSE") and manifest.get("license") != "BSL-1.0":
        error("%s: license %r, LICENSE is BSL-1.0" % (path, manifest.get("license")))

    deps, host = dependency_names(manifest.get("dependencies", []))
    want = expected(cmake, False, "vcpkg")
    if deps != want:
        error("%s: dependencies %s, CMakeLists.txt needs %s" % (path, sorted(deps), sorted(want)))
    for helper in ("vcpkg-cmake", "vcpkg-cmake-config"):
        if helper not in host:
            error("%s: %s must be a host dependency (the portfile uses it)" % (path, helper))
    features = manifest.get("features", {})
    boost = features.get("boost-asio")
    if boost is None:
        error("%s: no boost-asio feature (POP3_USE_BOOST_ASIO)" % path)
    else:
        feature_deps, _ = dependency_names(boost.get("dependencies", []))
        want = expected(cmake, True, "vcpkg") - expected(cmake, False, "vcpkg")
        if feature_deps != want:
            error("%s: feature boost-asio needs %s, CMakeLists.txt needs %s"
                  % (path, sorted(feature_deps), sorted(want)))

    path = "ports/pop3/portfile.cmake"
    portfile = read(root, path)
    commands = list(cmake_commands(portfile))
    fixups = [args.split() for name, args in commands if name == "vcpkg_cmake_config_fixup"]
    if not fixups:
        error("%s: no vcpkg_cmake_config_fixup()" % path)
    for args in fixups:
        values = dict(zip(args[::2], args[1::2]))
        if values.get("PACKAGE_NAME") != cmake["name"]:
            error("%s: vcpkg_cmake_config_fixup PACKAGE_NAME %r, want %r"
                  % (path, values.get("PACKAGE_NAME"), cmake["name"]))
        if values.get("CONFIG_PATH") != cmake["cmakedir"]:
            error("%s: vcpkg_cmake_config_fixup CONFIG_PATH %r, CMakeLists.txt installs to %r"
                  % (path, values.get("CONFIG_PATH"), cmake["cmakedir"]))
    for name in ("vcpkg_cmake_configure", "vcpkg_cmake_install"):
        if name not in (n for n, _ in commands):
            error("%s: no %s()" % (path, name))
    for option in set(re.findall(r"-D(POP3_[A-Za-z0-9_]+)=", strip_cmake_comments(portfile))):
        if option not in cmake["options"]:
            error("%s: passes -D%s, which is not an option() in CMakeLists.txt" % (path, option))
    if not re.search(r"-DPOP3_BUILD_TESTS=OFF\b", portfile):
        error("%s: must configure with -DPOP3_BUILD_TESTS=OFF" % path)
    mapped = {}
    for name, args in commands:
        if name == "vcpkg_check_features":
            words = args.split()
            if "FEATURES" in words:
                rest = words[words.index("FEATURES") + 1:]
                mapped.update(zip(rest[::2], rest[1::2]))
    if set(mapped) != set(features):
        error("%s: vcpkg_check_features maps %s, vcpkg.json has features %s"
              % (path, sorted(mapped), sorted(features)))
    if mapped.get("boost-asio") != "POP3_USE_BOOST_ASIO":
        error("%s: feature boost-asio must map to POP3_USE_BOOST_ASIO" % path)
    for option in mapped.values():
        if option not in cmake["options"]:
            error("%s: feature option %s is not an option() in CMakeLists.txt" % (path, option))


# ------------------------------------------------------------------------------------------------
# Conan
# ------------------------------------------------------------------------------------------------

class Recorder:
    """Stands in for any conan helper: callable, and every attribute is another Recorder."""

    def __init__(self, name):
        self._name = name

    def __call__(self, *args, **kwargs):
        return Recorder(self._name + "()")

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return Recorder(self._name + "." + attr)


class Value:
    """A setting or option value: compares with strings, bools and lists as Conan's do."""

    def __init__(self, value):
        self._value = value

    def __eq__(self, other):
        return str(self._value) == str(other)

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(str(self._value))

    def __bool__(self):
        return str(self._value) not in ("False", "false", "0", "None", "")

    def __str__(self):
        return str(self._value)


class Namespace:
    def __init__(self, **values):
        for key, value in values.items():
            setattr(self, key, Value(value))

    def get_safe(self, name, default=None):
        return getattr(self, name, default)


class CppInfo:
    def __init__(self):
        self.properties = {}
        self.defines = []
        self.requires = []
        self.system_libs = []
        self.bindirs = ["bin"]  # Conan's defaults: a header-only recipe must clear them
        self.libdirs = ["lib"]
        self.includedirs = ["include"]

    def set_property(self, name, value, *args, **kwargs):
        self.properties[name] = value


def install_conan_stubs(loads):
    def module(name, **attrs):
        mod = types.ModuleType(name)
        mod.__dict__.update(attrs)
        mod.__getattr__ = lambda attr: Recorder(name + "." + attr)  # PEP 562
        sys.modules[name] = mod
        return mod

    class ConanException(Exception):
        pass

    class ConanFile:
        pass

    def load(conanfile, path, *args, **kwargs):
        loads.append(path)
        with open(path, encoding="utf-8") as f:
            return f.read()

    module("conan", ConanFile=ConanFile)
    module("conan.errors", ConanException=ConanException,
           ConanInvalidConfiguration=type("ConanInvalidConfiguration", (ConanException,), {}))
    module("conan.tools")
    module("conan.tools.files", load=load)
    for name in ("build", "cmake", "layout", "scm", "microsoft", "apple", "env", "gnu"):
        module("conan.tools." + name)
    return ConanFile


def load_recipe(path, base):
    namespace = {"__file__": path, "__name__": "conanfile"}
    with open(path, encoding="utf-8") as f:
        exec(compile(f.read(), path, "exec"), namespace)
    classes = [v for v in namespace.values()
               if isinstance(v, type) and issubclass(v, base) and v is not base]
    if len(classes) != 1:
        raise RuntimeError("expected one ConanFile class, found %d" % len(classes))
    return classes[0]


def make_recipe(cls, root, flavour):
    recipe = cls.__new__(cls)
    recipe.recipe_folder = root
    recipe.source_folder = root
    recipe.package_folder = os.path.join(root, "package")  # never written: copy() is a stand-in
    recipe.version = None
    recipe.settings = Namespace(os="Linux", arch="x86_64", compiler="gcc", build_type="Release")
    options = dict(getattr(cls, "default_options", {}) or {})
    options["use_boost_asio"] = flavour
    recipe.options = Namespace(**options)
    recipe.cpp_info = CppInfo()
    recipe.output = Recorder("output")
    requested = []
    recipe.requires = lambda ref, *args, **kwargs: requested.append(ref)
    recipe.tool_requires = lambda ref, *args, **kwargs: None
    return recipe, requested


def check_conan(root, cmake):
    path = os.path.join(root, "conanfile.py")
    with tempfile.TemporaryDirectory() as scratch:
        try:
            py_compile.compile(path, cfile=os.path.join(scratch, "conanfile.pyc"), doraise=True)
        except py_compile.PyCompileError as e:
            error("conanfile.py: not valid Python: %s" % e.msg)
            return
    loads = []
    base = install_conan_stubs(loads)
    try:
        cls = load_recipe(path, base)
    except Exception as e:  # noqa: BLE001 - report anything the recipe raises
        error("conanfile.py: cannot load: %r" % e)
        return

    if getattr(cls, "name", None) != cmake["name"]:
        error("conanfile.py: name %r, CMakeLists.txt says %r"
              % (getattr(cls, "name", None), cmake["name"]))
    if getattr(cls, "package_type", None) != "header-library":
        error("conanfile.py: package_type %r, want 'header-library'"
              % getattr(cls, "package_type", None))
    if getattr(cls, "no_copy_source", False) is not True:
        error("conanfile.py: no_copy_source must be True (nothing is built)")
    if "Boost Software License" in read(root, "LICENSE") and getattr(cls, "license", None) != "BSL-1.0":
        error("conanfile.py: license %r, LICENSE is BSL-1.0" % getattr(cls, "license", None))
    if [True, False] != sorted(getattr(cls, "options", {}).get("use_boost_asio", []), reverse=True):
        error("conanfile.py: needs the option use_boost_asio: [True, False] (POP3_USE_BOOST_ASIO)")
    elif (getattr(cls, "default_options", {}) or {}).get("use_boost_asio") is not False:
        error("conanfile.py: use_boost_asio must default to False, as POP3_USE_BOOST_ASIO does")

    exported = getattr(cls, "exports_sources", ())
    exported = (exported,) if isinstance(exported, str) else tuple(exported)
    for needed in ("LICENSE", "include/pop3/pop3.hpp", "include/pop3/detail/asio.hpp"):
        if not any(fnmatch.fnmatch(needed, pattern) for pattern in exported):
            error("conanfile.py: exports_sources %s does not export %s" % (list(exported), needed))

    for flavour in FLAVOURS:
        recipe, requested = make_recipe(cls, root, flavour)
        where = "conanfile.py (use_boost_asio=%s)" % flavour
        try:
            if hasattr(recipe, "set_version"):
                recipe.set_version()
            version = recipe.version or getattr(cls, "version", None)
            if version != cmake["version"]:
                error("%s: version %r, CMakeLists.txt says %r" % (where, version, cmake["version"]))
            if hasattr(recipe, "requirements"):
                recipe.requirements()
            class_requires = cls.__dict__.get("requires")
            if class_requires:
                requested.extend([class_requires] if isinstance(class_requires, str)
                                 else class_requires)
            names = {ref.split("/")[0] for ref in requested}
            want = expected(cmake, flavour, "conan")
            if names != want:
                error("%s: requires %s, CMakeLists.txt needs %s"
                      % (where, sorted(requested), sorted(want)))
            for ref in requested:
                if not re.match(r"^[a-z0-9_.+-]+/(\[[^\]]+\]|[0-9][A-Za-z0-9_.+-]*)$", ref):
                    error("%s: %r is not a name/version reference" % (where, ref))

            recipe.package_info()
            info = recipe.cpp_info
            if info.properties.get("cmake_file_name") != cmake["name"]:
                error("%s: cmake_file_name %r, want %r"
                      % (where, info.properties.get("cmake_file_name"), cmake["name"]))
            if info.properties.get("cmake_target_name") != cmake["name"] + "::" + cmake["name"]:
                error("%s: cmake_target_name %r, want %r"
                      % (where, info.properties.get("cmake_target_name"),
                         cmake["name"] + "::" + cmake["name"]))
            if info.bindirs or info.libdirs:
                error("%s: header-only: bindirs and libdirs must be empty (%r, %r)"
                      % (where, info.bindirs, info.libdirs))
            if FLAVOUR_DEFINE[flavour] not in info.defines:
                error("%s: defines %r lack %s" % (where, info.defines, FLAVOUR_DEFINE[flavour]))
            if FLAVOUR_DEFINE[not flavour] in info.defines:
                error("%s: defines %r include %s"
                      % (where, info.defines, FLAVOUR_DEFINE[not flavour]))
            if "Threads" in cmake["packages"][flavour] and "pthread" not in info.system_libs:
                error("%s: CMakeLists.txt needs Threads: system_libs must have pthread on Linux"
                      % where)
            if info.requires:
                used = {r.split("::")[0] for r in info.requires}
                if used != names:
                    error("%s: cpp_info.requires uses %s, the recipe requires %s"
                          % (where, sorted(used), sorted(names)))
        except Exception as e:  # noqa: BLE001 - report anything the recipe raises
            error("%s: raised %r" % (where, e))
    if hasattr(cls, "set_version") and not any(p.endswith("CMakeLists.txt") for p in loads):
        error("conanfile.py: set_version() does not read CMakeLists.txt")


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    root = os.path.abspath(argv[1])
    cmake = cmake_facts(root)
    check_cmake(root, cmake)
    check_vcpkg(root, cmake)
    check_conan(root, cmake)
    print("CMakeLists.txt: %s %s; find_package: standalone %s, Boost.Asio %s"
          % (cmake["name"], cmake["version"], sorted(cmake["packages"][False]),
             sorted(cmake["packages"][True])))
    if errors:
        for message in errors:
            print("error: " + message)
        print("check_recipes: %d problem(s)" % len(errors))
        return 1
    print("check_recipes: ports/pop3 and conanfile.py agree with CMakeLists.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
