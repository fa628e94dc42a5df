"""The import rules of ARCHITECTURE.md, checked on the source: which package and layer may import which.

Each rule names what a part may import of the project's own code; the test reads every module's
imports (with ``ast``, so nothing is imported or run) and lists every import that breaks a rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = ("schemas", "fixtures", "mockserver", "contract_tests", "bench")

#: The layers of ``mockserver``, lowest first: each may import the ones before it, never those after.
MOCKSERVER_LAYERS = (
    "mockserver.core",
    "mockserver.storage",
    "mockserver.services",
    "mockserver.api",
    "mockserver.control",
    "mockserver.pipeline",
    "mockserver",  # the package itself: create_app
    "mockserver.serving",
    "mockserver.proxy",  # the validation proxy: served like the mock, checks traffic with the suite's claims
)
#: The one import against the layers: the command line registers the proxy's sub-commands.
COMMAND_LINE_HOOKS = {("mockserver.serving.cli", "mockserver.proxy.cli")}
#: The one part of ``mockserver`` that may import ``contract_tests`` (its pytest-free claim code).
CLAIM_USERS = "mockserver.proxy"
#: What each top-level package may import of the others (ARCHITECTURE.md, "The layers").
PACKAGE_RULES = {
    "schemas": set(),
    "fixtures": set(),
    "mockserver": {"schemas", "fixtures"},
    "contract_tests": {"schemas"},
}


def _modules(package: str) -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path) -> set[str]:
    """The absolute names of the project's modules that ``module`` imports."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] in PROJECT_PACKAGES}


def _layer(name: str) -> int | None:
    """The index of the ``mockserver`` layer that module ``name`` belongs to."""
    matches = [index for index, layer in enumerate(MOCKSERVER_LAYERS)
               if name == layer or name.startswith(layer + ".")]
    return max(matches, key=lambda index: len(MOCKSERVER_LAYERS[index])) if matches else None


def _broken_layer_rules() -> list[str]:
    broken = []
    for module, path in _modules("mockserver").items():
        own = _layer(module)
        if module == "mockserver.__main__":
            continue  # ``python -m mockserver`` starts the command line
        for name in _imports(module, path):
            layer = _layer(name)
            if layer is not None and own is not None and layer > own and not name.startswith(module + ".") \
                    and (module, name) not in COMMAND_LINE_HOOKS:
                broken.append(f"{module} imports {name}")
    return broken


def test_each_layer_of_the_mock_imports_only_the_layers_below_it() -> None:
    assert _broken_layer_rules() == []


@pytest.mark.parametrize("package", sorted(PACKAGE_RULES))
def test_each_package_imports_only_what_it_may(package: str) -> None:
    allowed = PACKAGE_RULES[package] | {package}
    broken = [f"{module} imports {name}" for module, path in _modules(package).items()
              for name in _imports(module, path) if name.split(".")[0] not in allowed
              and not (name.split(".")[0] == "contract_tests" and module.startswith(CLAIM_USERS + "."))]
    assert broken == []


def test_the_rules_see_a_broken_import(tmp_path: Path) -> None:
    # The checker itself: a storage module importing the pipeline is found.
    path = tmp_path / "leak.py"
    path.write_text("from ..pipeline.limits import GuardedStore\nimport mockserver.serving.cli\n")
    assert _imports("mockserver.storage.leak", path) >= {"mockserver.pipeline.limits",
                                                          "mockserver.serving.cli"}
    assert _layer("mockserver.storage.leak") < _layer("mockserver.pipeline.limits")  # type: ignore[operator]
    assert _layer("mockserver") == MOCKSERVER_LAYERS.index("mockserver")
    assert _layer("mockserver.serving.cli") == MOCKSERVER_LAYERS.index("mockserver.serving")
