"""What a worker must never read, wherever the toolkit is installed, and how each backend hides it.

Student code needs the Python installation (the standard library, numpy,
torch, edugrad), and the sandbox shows it whole: the system folders, the
interpreter's prefix, the virtual environment. The toolkit itself usually
lives in there too: ``reference`` (the oracles, which are the solutions in
another form, and the catalogue of mistakes, each an oracle with one change)
and ``grader`` (its bundled assignments with their hidden tests) sit in
``site-packages`` after ``pip install``, below ``/usr/local`` after a
system-wide install, in ``/autograder/venv`` on Gradescope, in a Dask worker's
environment. Invariant 8: none of it may be readable or importable by student
code. The worker's own code is a staged copy (:mod:`grader.sandbox.runtime`),
so hiding the installed ``grader`` costs the worker nothing.

:func:`private_paths` lists what to hide: the installed ``grader`` and
``reference`` packages (found without importing them), the distribution's
metadata and ``.pth`` files, the project folder of an editable checkout, and
folders a caller adds (the assignment, the batch's output). The backends hide
them differently:

- bubblewrap mounts an empty read-only tmpfs over each hidden folder and
  ``/dev/null`` over each hidden file that falls inside the view
  (:func:`bwrap_masks`);
- Landlock only allows, so an allowed tree with holes becomes rules for its
  parts (:func:`landlock_rules`): full read access to every sibling on the way
  down to a hidden path, and the right to list (not read) the folders on that
  way. The names of hidden files can be listed; their contents cannot be read.
"""
from __future__ import annotations

import glob
import importlib.metadata
import importlib.util
import os
import site
import sys
from collections.abc import Iterable

# Top-level packages of this toolkit that only the grader's process may load.
TOOLKIT_PACKAGES = ("grader", "reference")
# Distributions that install them (the instructor's toolkit and the student-side self-check).
TOOLKIT_DISTRIBUTIONS = ("nlm-grader", "nlm-grader-check")


def private_paths(extra: Iterable[str | os.PathLike] = (), roots: Iterable[str] = ()) -> tuple[str, ...]:
    """Absolute, resolved paths a worker must not read: every copy of the toolkit's install, and ``extra``.

    Every copy: the one ``import`` finds, any other on the path it shadows
    (Gradescope's run_autograder puts the shipped source first, while the venv
    the sandbox shows holds an installed copy too), and any in the package
    folders of the view's ``roots`` (the base interpreter a venv was made
    from may hold one of its own, which the view shows whole).
    """
    found: set[str] = set()
    for name in TOOLKIT_PACKAGES:
        found.update(_package_folders(name))
        found.update(_copies_on_path(name))
    found.update(_distribution_paths())
    found.update(_copies_below(roots))
    found.update(_editable_project_roots(found))
    found.update(os.path.realpath(path) for path in extra)
    return tuple(sorted(path for path in found if path and path != "/" and os.path.lexists(path)))


def _package_folders(name: str) -> list[str]:
    """Where ``import name`` would load the package from (``find_spec`` does not run it)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return [os.path.realpath(location) for location in spec.submodule_search_locations]
    return [os.path.realpath(spec.origin)] if spec.origin else []


def _copies_on_path(name: str) -> list[str]:
    """``name`` as a package folder or module in every folder of ``sys.path`` and the site folders."""
    folders = [*sys.path, *_site_folders()]
    copies = []
    for folder in dict.fromkeys(os.path.realpath(folder) for folder in folders if folder):
        for candidate in (os.path.join(folder, name), os.path.join(folder, name + ".py")):
            if os.path.exists(candidate):
                copies.append(os.path.realpath(candidate))
    return copies


# Where an interpreter below a root keeps its packages (venvs, pyenv, /usr/local, Debian's dist-packages).
_PACKAGE_FOLDERS = ("lib/python3*/site-packages", "lib/python3*/dist-packages", "lib64/python3*/site-packages",
                    "local/lib/python3*/site-packages", "local/lib/python3*/dist-packages", "lib/python3/dist-packages")
_INSTALL_MARKS = ("grader", "reference", "nlm_grader*", "_nlm_grader*.pth", "__editable__*nlm_grader*")


def _copies_below(roots: Iterable[str]) -> list[str]:
    """The toolkit's packages, metadata and ``.pth`` files in every package folder below ``roots``."""
    copies = []
    for root in roots:
        for pattern in _PACKAGE_FOLDERS:
            for folder in glob.glob(os.path.join(root, pattern)):
                for mark in _INSTALL_MARKS:
                    copies += [os.path.realpath(path) for path in glob.glob(os.path.join(folder, mark))
                               if _is_toolkit(path)]
    return copies


def _is_toolkit(path: str) -> bool:
    """Whether ``path`` in a package folder is this toolkit's (a ``grader`` package of someone else's is not)."""
    name = os.path.basename(path)
    if name in TOOLKIT_PACKAGES:
        marker = "sandbox" if name == "grader" else "mistakes"
        return os.path.isdir(os.path.join(path, marker))
    return True


def _site_folders() -> list[str]:
    try:
        return [*site.getsitepackages(), site.getusersitepackages()]
    except AttributeError:  # an embedded interpreter without the site helpers
        return []


def _distribution_paths() -> list[str]:
    """The metadata folders of every installed copy of the toolkit's distributions, and the ``.pth`` files
    they installed."""
    paths = []
    for distribution in importlib.metadata.distributions(path=[*sys.path, *_site_folders()]):
        name = (distribution.metadata["Name"] or "").lower().replace("_", "-")
        if name not in TOOLKIT_DISTRIBUTIONS:
            continue
        metadata_folder = getattr(distribution, "_path", None)  # PathDistribution: the .dist-info folder
        if metadata_folder is not None:
            paths.append(os.path.realpath(metadata_folder))
        for file in distribution.files or ():
            if file.name.endswith(".pth") or file.name.startswith("__editable__"):
                paths.append(os.path.realpath(distribution.locate_file(file)))
    return paths


def _editable_project_roots(package_folders: Iterable[str]) -> list[str]:
    """The project folder of an editable install: it holds the assignments, solutions and hidden tests too."""
    roots = []
    for folder in package_folders:
        parent = os.path.dirname(folder)
        if os.path.basename(folder) in TOOLKIT_PACKAGES and os.path.isfile(os.path.join(parent, "pyproject.toml")):
            roots.append(parent)
    return roots


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _visible_forms(path: str, roots: Iterable[str]) -> list[str]:
    """``path`` as the view shows it: below each bound root (a root bound at a name that is a link shows
    its target's files under that name). Roots that are links themselves are links in the view too."""
    forms = []
    for root in roots:
        if os.path.islink(root) or not os.path.isdir(root):
            continue
        resolved_root = os.path.realpath(root)
        if _inside(path, resolved_root):
            relative = os.path.relpath(path, resolved_root)
            forms.append(root if relative == "." else os.path.join(root, relative))
    return sorted(set(forms))


def bwrap_masks(view_roots: Iterable[str], hidden: Iterable[str]) -> list[str]:
    """bubblewrap arguments that blank every hidden path inside the view (after the view is bound)."""
    view_roots = list(view_roots)
    arguments: list[str] = []
    for path in sorted(set(hidden)):
        for form in _visible_forms(path, view_roots):
            if os.path.isdir(path) and not os.path.islink(path):
                arguments += ["--perms", "0555", "--tmpfs", form, "--remount-ro", form]
            elif os.path.lexists(path):
                arguments += ["--ro-bind", "/dev/null", form]
    return arguments


def landlock_rules(read_roots: Iterable[str], hidden: Iterable[str]) -> tuple[list[str], list[str]]:
    """``(readable, listable)``: Landlock rules that allow ``read_roots`` except the hidden paths.

    ``readable`` paths get full read access (their whole tree); ``listable``
    folders may be listed (names only; Landlock applies this to their whole
    tree, hidden folders included) so imports can still search them.
    """
    hidden_resolved = sorted({os.path.realpath(path) for path in hidden})
    readable: list[str] = []
    listable: list[str] = []
    for root in read_roots:
        if not os.path.exists(root):
            continue
        # A hidden folder may hold a read root (an editable checkout holds its .venv): the root stays readable.
        real = os.path.realpath(root)
        _split(real, [path for path in hidden_resolved if not _inside(real, path)], readable, listable)
    return sorted(set(readable)), sorted(set(listable))


def _split(folder: str, hidden: list[str], readable: list[str], listable: list[str]) -> None:
    """Rules for the real folder ``folder``: all of it, or (when it holds hidden paths) its parts.

    Children are judged by their real paths: a link (a venv's ``lib64 -> lib``)
    to a folder that holds hidden paths is split like that folder, and one
    that points into a hidden path gets no rule.
    """
    below = [path for path in hidden if _inside(path, folder)]
    if not below or not os.path.isdir(folder):
        readable.append(folder)
        return
    listable.append(folder)
    try:
        children = sorted(os.listdir(folder))
    except OSError:
        return
    for child in children:
        path = os.path.join(folder, child)
        real = os.path.realpath(path)
        if any(_inside(real, hidden_path) for hidden_path in below):
            continue  # a hidden path, or a link into one
        if any(_inside(hidden_path, real) for hidden_path in hidden):
            _split(real, hidden, readable, listable)
        else:
            readable.append(path)
