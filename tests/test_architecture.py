"""The layering of the console, enforced (docs/adr/0005-domain-layer.md, README "Architecture").

Imports run one way::

    bycloud_ui (wiring) -> console, backups (apps) -> backups.domain -> backups.api -> ByCloud

The source is read with ``ast`` (nothing is imported, no dependency): every ``import`` and
``from … import`` counts, wherever it is (module level, inside a function, under
``if TYPE_CHECKING``), and so does ``importlib.import_module("…")`` / ``__import__("…")`` with a
literal name. ``from package import name`` counts as an import of ``package.name`` when that is a
module of the project, else of ``package``. Dotted strings in settings and URLconfs
(``"console.session.ConsoleMiddleware"``, ``include("backups.urls")``) are not imports.

Long modules: a module of more than ``MAX_LINES`` lines must say why in its docstring with the
marker ``Long because`` (any case), e.g. ``Long because: one table of every status the API
documents; splitting it would scatter the contract.``
"""

from __future__ import annotations

import ast
import itertools
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bycloud_ui", "console", "backups", "audit")
MAX_LINES = 400
LONG_MARKER = re.compile(r"\blong because\b", re.IGNORECASE)


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name, e.g. "console.session"
    path: str  # file, relative to the repository
    line: int
    target: str  # resolved dotted name, e.g. "backups.api.factory"

    def __str__(self) -> str:
        return f"{self.path}:{self.line} ({self.importer}) imports {self.target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> dict[str, Path]:
    files: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "__pycache__" not in path.parts:
                files[module_name(path)] = path
    return files


FILES = source_files()
MODULES = frozenset(FILES)


def _resolve_from(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    base = node.module or ""
    if node.level:
        package = importer.split(".") if is_package else importer.split(".")[:-1]
        anchor = package[: len(package) - (node.level - 1)]
        base = ".".join(filter(None, [*anchor, base]))
    return base


def imports_of(name: str, path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    relative = str(path.relative_to(ROOT))
    is_package = path.name == "__init__.py"
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(name, relative, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_from(name, is_package, node)
            for alias in node.names:
                candidate = f"{base}.{alias.name}" if base else alias.name
                target = candidate if candidate in MODULES else base
                found.append(Import(name, relative, node.lineno, target))
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (
                    isinstance(node.func, ast.Name)
                    and node.func.id in {"__import__", "import_module"}
                )
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
        ):
            found.append(Import(name, relative, node.lineno, node.args[0].value))
    return found


IMPORTS: dict[str, list[Import]] = {name: imports_of(name, path) for name, path in FILES.items()}


def within(target: str, prefix: str) -> bool:
    return target == prefix or target.startswith(prefix + ".")


def top(target: str) -> str:
    return target.split(".")[0]


def is_django(target: str) -> bool:
    return top(target) == "django" or top(target).startswith("django_")


def imports_under(prefix: str) -> list[Import]:
    return [imp for name, found in IMPORTS.items() if within(name, prefix) for imp in found]


def report(rule: str, violations: list[str]) -> str:
    return f"{rule}:\n  " + "\n  ".join(violations)


# --- the scanner sees what is there (so that an empty scan cannot pass) ---------------------


def test_the_scan_covers_the_three_packages_and_finds_known_imports() -> None:
    for package in PACKAGES:
        assert package in MODULES, f"{package}/__init__.py not found under {ROOT}"
    assert {"backups.domain", "backups.api.client", "console.session"} <= MODULES
    session = {imp.target for imp in IMPORTS["console.session"]}
    assert "backups.api.factory" in session, session
    client = {imp.target for imp in IMPORTS["backups.api.client"]}
    assert {"backups.api.errors", "backups.api.models"} <= client, client


# --- (a) the apps never import the wiring ---------------------------------------------------


def test_apps_do_not_import_bycloud_ui() -> None:
    violations = [
        str(imp)
        for package in ("console", "backups", "audit")
        for imp in imports_under(package)
        if within(imp.target, "bycloud_ui")
    ]
    assert not violations, report(
        "console/, backups/ and audit/ must not import bycloud_ui (use django.conf.settings)",
        violations,
    )


# --- (b) the session app uses only the API client of backups --------------------------------


def test_console_imports_only_the_api_client_of_backups() -> None:
    violations = [
        str(imp)
        for imp in imports_under("console")
        if within(imp.target, "backups") and not within(imp.target, "backups.api")
    ]
    assert not violations, report("console/ may import only backups.api of backups", violations)


# --- (b2) the audit log is below the views that call it -----------------------------------

#: What the audit app may use of the other apps: the API client's types and errors, and the
#: session's access decorator and client address (docs/adr/0012-audit-log.md).
AUDIT_MAY_IMPORT = ("backups.api", "console.decorators", "console.throttle")


def test_audit_imports_only_the_api_client_and_the_session_helpers() -> None:
    violations = [
        str(imp)
        for imp in imports_under("audit")
        if (within(imp.target, "backups") or within(imp.target, "console"))
        and not any(within(imp.target, allowed) for allowed in AUDIT_MAY_IMPORT)
    ]
    assert not violations, report(
        f"audit/ may import of backups and console only {', '.join(AUDIT_MAY_IMPORT)}",
        violations,
    )
    assert "audit.record" in MODULES, "the scan does not see the audit app"


# --- (c) the domain: the API's models and the standard library only -------------------------


def test_domain_imports_only_the_api_and_the_standard_library() -> None:
    violations = [
        str(imp)
        for imp in IMPORTS["backups.domain"]
        if not within(imp.target, "backups.api") and top(imp.target) not in sys.stdlib_module_names
    ]
    assert not violations, report(
        "backups/domain.py may import only backups.api and the standard library", violations
    )


#: Domain modules beside backups/domain.py: they may also build on it.
DOMAIN_MODULES = ("backups.domain_protection", "backups.domain_plans")


def test_other_domain_modules_import_only_the_domain_the_api_and_the_standard_library() -> None:
    violations = [
        str(imp)
        for module in DOMAIN_MODULES
        for imp in IMPORTS[module]
        if not within(imp.target, "backups.api")
        and imp.target != "backups.domain"
        and top(imp.target) not in sys.stdlib_module_names
    ]
    assert not violations, report(
        "a domain module may import only backups.domain, backups.api and the standard library",
        violations,
    )


# --- (d) the API client: no app code, Django only in the factory ----------------------------


def test_api_client_imports_no_app_code_and_django_only_in_the_factory() -> None:
    violations = []
    for imp in imports_under("backups.api"):
        if within(imp.target, "backups") and not within(imp.target, "backups.api"):
            violations.append(f"{imp} (outside backups.api)")
        elif within(imp.target, "console") or within(imp.target, "bycloud_ui"):
            violations.append(f"{imp} (an app or the wiring)")
        elif is_django(imp.target) and imp.importer != "backups.api.factory":
            violations.append(f"{imp} (Django belongs in backups/api/factory.py only)")
    assert not violations, report(
        "backups/api/ imports nothing of the apps, and Django only in factory.py", violations
    )


# --- (e) the emulator is another process ----------------------------------------------------


def test_nothing_imports_the_emulator() -> None:
    violations = [
        str(imp)
        for package in PACKAGES
        for imp in imports_under(package)
        if within(imp.target, "emulator")
    ]
    assert not violations, report(
        "the emulator runs as its own process: bycloud_ui/, console/, backups/ never import it",
        violations,
    )


# --- (f) no import cycle between modules of the project -------------------------------------


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, …, a]``, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    for start in sorted(graph):
        if state.get(start):
            continue
        path = [start]
        stack = [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            following = next(stack[-1], None)
            if following is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(following) == 1:
                return [*path[path.index(following) :], following]
            elif not state.get(following):
                state[following] = 1
                path.append(following)
                stack.append(iter(sorted(graph.get(following, ()))))
    return None


def test_find_cycle_reports_a_cycle_and_accepts_a_tree() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_between_modules() -> None:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    lines: dict[tuple[str, str], Import] = {}
    for name, found in IMPORTS.items():
        for imp in found:
            if imp.target in MODULES and imp.target != name:
                graph[name].add(imp.target)
                lines.setdefault((name, imp.target), imp)
    cycle = find_cycle(graph) or []
    assert not cycle, report(
        "import cycle " + " -> ".join(cycle),
        [str(lines[edge]) for edge in itertools.pairwise(cycle)],
    )


# --- (g) short modules, or a docstring that says why not ------------------------------------


def test_long_modules_say_why() -> None:
    violations = []
    for name, path in FILES.items():
        text = path.read_text(encoding="utf-8")
        count = len(text.splitlines())
        if count <= MAX_LINES:
            continue
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if not LONG_MARKER.search(docstring):
            violations.append(
                f"{path.relative_to(ROOT)} ({name}): {count} lines and no 'Long because' "
                "in its docstring"
            )
    assert not violations, report(
        f"a module over {MAX_LINES} lines splits, or says 'Long because …' in its docstring",
        violations,
    )


@pytest.mark.parametrize(
    ("docstring", "allowed"),
    [("Long because: one table per status.", True), ("Just long.", False)],
)
def test_long_marker(docstring: str, allowed: bool) -> None:
    assert bool(LONG_MARKER.search(docstring)) is allowed
