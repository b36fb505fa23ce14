"""pyproject.toml declares every third-party module that server/ and models/ import, so that `pip install .`
gives a server that starts and reads; requirements.txt names each, since `make setup` installs it and then
the package with --no-deps.

The imports are read from the source, function bodies included: the server defers some (the reader's
warm-up, waitress, tqdm) until first use, and an import test would not see those until too late."""
import ast
import sys
import tomllib
from collections import defaultdict
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
FIRST_PARTY = {"server", "models"}
TOOLS_EXTRA = "tools"  # what `make train`, `make evaluate` and the tests need beside the server
# Imports in modules the server loads, made only by a function the server never calls: declared in an extra.
NOT_AT_RUN_TIME = {("models/data/lexicon.py", "wordfreq"): "lexicon.build() regenerates the shipped word lists"}


def project():
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def module_file(name):
    """The source file of first-party module ``name``, or None when there is none."""
    if name.split(".")[0] not in FIRST_PARTY:
        return None
    base = REPO.joinpath(*name.split("."))
    return next((path for path in (base.with_suffix(".py"), base / "__init__.py") if path.is_file()), None)


def imported_names(name):
    """The absolute names module ``name`` imports anywhere in its source; for `from package import x`, the
    package and, when x is a first-party module, package.x."""
    path = module_file(name)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1]) if node.level else ""
            target = ".".join(part for part in (base, node.module) if part)
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names if module_file(f"{target}.{alias.name}"))


def first_party_closure(roots):
    """Every first-party module that importing ``roots`` can load (packages' __init__ included)."""
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for imported in imported_names(name):
            parts = imported.split(".")
            todo.extend(prefix for prefix in (".".join(parts[:n]) for n in range(1, len(parts) + 1))
                        if module_file(prefix))
    return seen


def modules_under(package):
    return {".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
            for path in (REPO / package).rglob("*.py")}


def third_party_imports(modules, leave_out=()):
    """{top-level third-party module: sorted files importing it} over ``modules``, less (file, module) ``leave_out``."""
    found = defaultdict(set)
    for name in modules:
        path = str(module_file(name).relative_to(REPO))
        for imported in imported_names(name):
            top = imported.split(".")[0]
            if top not in FIRST_PARTY and top not in sys.stdlib_module_names and (path, top) not in leave_out:
                found[top].add(path)
    return {top: sorted(files) for top, files in found.items()}


def provided(requirements):
    """The distributions that installing ``requirements`` brings: each, and what each installed one requires."""
    seen, todo = set(), [Requirement(text) for text in requirements]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        try:
            todo.extend(Requirement(text) for text in requires(name) or ())
        except PackageNotFoundError:  # not installed here: its own name is all that is known
            pass
    return seen


def undeclared(imports, declared):
    """Lines naming each distribution behind ``imports`` that ``declared`` does not bring, and who imports it."""
    distributions = packages_distributions()
    missing = []
    for top, files in sorted(imports.items()):
        candidates = {canonicalize_name(dist) for dist in distributions.get(top, [top])}
        if not candidates & declared:
            missing.append(f"{' or '.join(sorted(candidates))} (module {top}, imported by {', '.join(files)})")
    return missing


SERVER_MODULES = first_party_closure(modules_under("server"))


def test_the_scan_follows_the_servers_deferred_imports_to_the_reader():
    assert {"server.wsgi", "models.reading.pipeline", "models.reading.line_finder"} <= SERVER_MODULES
    assert "models.training.train" not in SERVER_MODULES


def test_every_module_the_server_imports_comes_with_the_declared_dependencies():
    imports = third_party_imports(SERVER_MODULES, leave_out=NOT_AT_RUN_TIME)
    missing = undeclared(imports, provided(project()["dependencies"]))
    assert not missing, ("`pip install .` leaves out what the server imports; add to [project].dependencies "
                         "in pyproject.toml (and pin in requirements.txt): " + "; ".join(missing))


def test_every_module_the_tools_import_is_declared_in_the_dependencies_or_an_extra():
    declared = project()["dependencies"] + [text for extra in project()["optional-dependencies"].values()
                                            for text in extra]
    missing = undeclared(third_party_imports(modules_under("models")), provided(declared))
    assert not missing, (f"add to [project.optional-dependencies] {TOOLS_EXTRA} in pyproject.toml (or to another "
                         "extra when `make` never needs it): " + "; ".join(missing))


def test_requirements_txt_names_every_dependency_and_the_tools():
    lines = (REPO / "requirements.txt").read_text().splitlines()
    pinned = {canonicalize_name(Requirement(line).name) for line in lines if line.strip() and not line.startswith("#")}
    needed = {canonicalize_name(Requirement(text).name)
              for text in project()["dependencies"] + project()["optional-dependencies"][TOOLS_EXTRA]}
    assert not needed - pinned, (f"`make setup` installs requirements.txt, then the package with --no-deps: "
                                 f"pin {', '.join(sorted(needed - pinned))} in requirements.txt")
