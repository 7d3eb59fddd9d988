"""Build hooks: copy the Lua scripts of common/model/lua and the job types'
defaults (../job_types.json, generated from the C catalogue) into the
package.

Both are the C library's own; the package ships copies made at build time
(never kept in this directory). From a source checkout they come from
../../common/model/lua and ../job_types.json; an sdist carries them in
src/wharf_client, put there when the sdist was made. tests/test_client.py
checks the shipped copies equal the sources.
"""

import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_LUA = os.path.join(HERE, "..", "..", "common", "model", "lua")
SDIST_LUA = os.path.join(HERE, "src", "wharf_client", "lua")
SCRIPTS = ("enqueue", "unenqueue", "cancel")   # the ones the clients run
REPO_TYPES = os.path.join(HERE, "..", "job_types.json")
SDIST_TYPES = os.path.join(HERE, "src", "wharf_client", "job_types.json")


def copy_lua(dst):
    src = REPO_LUA if os.path.isdir(REPO_LUA) else SDIST_LUA
    os.makedirs(dst, exist_ok=True)
    for name in SCRIPTS:
        path = os.path.join(src, name + ".lua")
        if not os.path.isfile(path):
            raise SystemExit("setup.py: %s is missing: build from a wharf checkout or an sdist" % path)
        shutil.copyfile(path, os.path.join(dst, name + ".lua"))


def copy_types(dst):
    src = REPO_TYPES if os.path.isfile(REPO_TYPES) else SDIST_TYPES
    if not os.path.isfile(src):
        raise SystemExit("setup.py: %s is missing: build from a wharf checkout or an sdist" % src)
    shutil.copyfile(src, os.path.join(dst, "job_types.json"))


class BuildPy(build_py):
    def run(self):
        super().run()
        copy_lua(os.path.join(self.build_lib, "wharf_client", "lua"))
        copy_types(os.path.join(self.build_lib, "wharf_client"))


class Sdist(sdist):
    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        copy_lua(os.path.join(base_dir, "src", "wharf_client", "lua"))
        copy_types(os.path.join(base_dir, "src", "wharf_client"))


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist})
