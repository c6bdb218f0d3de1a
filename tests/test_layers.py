"""The layers of README.md's "Architecture" hold every package of the project.

`make lint` runs import-linter on the contracts in pyproject.toml ([tool.importlinter]); these tests keep
those contracts whole: a new app must be given its layer, or nothing would check what it imports.
"""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_SHIPPED = {"tests", "bench"}  # packages of the checkout that the portal does not run


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def _packages() -> set[str]:
    return {p.parent.name for p in ROOT.glob("*/__init__.py")} - NOT_SHIPPED


def _contract(contract_id: str) -> dict:
    return next(c for c in _config()["contracts"] if c["id"] == contract_id)


def test_every_package_of_the_project_is_analysed():
    assert set(_config()["root_packages"]) == _packages()


def test_every_package_has_its_layer():
    layers = [name.strip() for layer in _contract("layers")["layers"] for name in layer.split("|")]
    assert sorted(layers) == sorted(_packages())  # each once
    assert (layers[0], layers[-1]) == ("abe_portal", "core")  # the project on top, the shared library at the ground


def test_core_may_import_no_other_package():
    assert set(_contract("core")["forbidden_modules"]) == _packages() - {"core"}


def test_the_only_imports_ignored_are_the_audit_trail_migrations():
    for contract in _config()["contracts"]:
        assert set(contract.get("ignore_imports", [])) <= {"audit.migrations.* -> *.models"}
