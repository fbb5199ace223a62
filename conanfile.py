# Conan 2 recipe for pop3, a header-only library.
#
#     conan create . --build=missing
#     conan create . --build=missing -o "pop3/*:use_boost_asio=True"   # on Boost.Asio
#
# Consumers get the same names as from `cmake --install`: find_package(pop3) and pop3::pop3
# (CMakeDeps), pkg-config pop3 (PkgConfigDeps). tests/package/check_recipes.py (ctest
# pop3_package_recipes) checks this file against CMakeLists.txt.
import os
import re

from conan import ConanFile
from conan.errors import ConanException
from conan.tools.build import check_min_cppstd
from conan.tools.files import copy, load
from conan.tools.layout import basic_layout

required_conan_version = ">=2.0"


class Pop3Conan(ConanFile):
    name = "pop3"
    description = "Header-only C++17 POP3 client library built on Asio and OpenSSL"
    license = "BSL-1.0"
    topics = ("pop3", "email", "mail", "asio", "openssl", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    # The CMake option POP3_USE_BOOST_ASIO.
    options = {"use_boost_asio": [True, False]}
    default_options = {"use_boost_asio": False}
    exports_sources = "LICENSE", "include/*"
    no_copy_source = True

    def set_version(self):
        # The version is written once, in project() in CMakeLists.txt.
        if self.version:
            return
        text = load(self, os.path.join(self.recipe_folder, "CMakeLists.txt"))
        match = re.search(r"\bproject\(\s*pop3\s+VERSION\s+([0-9]+(?:\.[0-9]+)*)", text)
        if not match:
            raise ConanException("no project(pop3 VERSION ...) in CMakeLists.txt")
        self.version = match.group(1)

    def layout(self):
        basic_layout(self)

    def requirements(self):
        # The find_package() list of CMakeLists.txt; Threads is the system's (system_libs below).
        if self.options.use_boost_asio:
            self.requires("boost/1.86.0")
        else:
            self.requires("asio/1.34.2")
        self.requires("openssl/[>=1.1 <4]")

    def package_id(self):
        # The same headers serve every configuration and both Asio flavours.
        self.info.clear()

    def validate(self):
        check_min_cppstd(self, 17)

    def package(self):
        copy(self, "LICENSE", src=self.source_folder,
             dst=os.path.join(self.package_folder, "licenses"))
        copy(self, "*.hpp", src=os.path.join(self.source_folder, "include"),
             dst=os.path.join(self.package_folder, "include"))

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "pop3")
        self.cpp_info.set_property("cmake_target_name", "pop3::pop3")
        self.cpp_info.set_property("pkg_config_name", "pop3")
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        if self.options.use_boost_asio:
            self.cpp_info.defines = ["POP3_USE_BOOST_ASIO"]
            self.cpp_info.requires = ["boost::headers"]
        else:
            # ConanCenter's asio package defines it too; pop3.pc does the same.
            self.cpp_info.defines = ["ASIO_STANDALONE"]
            self.cpp_info.requires = ["asio::asio"]
        self.cpp_info.requires += ["openssl::ssl", "openssl::crypto"]
        if self.settings.os in ("Linux", "FreeBSD"):
            self.cpp_info.system_libs = ["pthread"]
