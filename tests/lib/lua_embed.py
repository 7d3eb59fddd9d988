"""The status scripts as the build embeds them: a line `--@include FILE`
replaced by that file word for word, as cmake/embed.cmake does (moves.lua
carries start.lua and finish.lua, enqueue_many.lua carries enqueue.lua)."""
import os
import re

SRC = os.environ.get("WHARF_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
LUA = os.path.join(SRC, "common", "model", "lua")
INCLUDE = re.compile(r"^--@include (\S+)$", re.M)


def read(name):
    """One script's source, as it is in the tree."""
    with open(os.path.join(LUA, name), encoding="utf-8") as f:
        return f.read()


def expanded(name):
    """The script `name` with its includes expanded."""
    return INCLUDE.sub(lambda m: read(m.group(1)), read(name))
