"""Every variable any part reads is a setting, and every setting is documented: the table cannot drift."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import BaseSettings

from adapters.settings import TABLE_END, TABLE_START, Settings, settings_table

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "deploy" / "README.md"
ENV_EXAMPLE = ROOT / "deploy" / "paperboy.env.example"
CONTRACTS = ROOT.parent / "shared" / "design" / "contracts.md"
ALIASES = {field.alias for field in Settings.model_fields.values() if field.alias}
# Variables read outside the settings on purpose, each with its reason; every other one must be a setting.
NOT_SETTINGS = {
    # The XDG base directory standard: where a user's caches go, not Paperboy's own knob.
    "XDG_CACHE_HOME",
    # Where the ONNX build of the embedding model is kept: shared by every process that embeds, however it
    # was composed (documented in README.md, Search by meaning).
    "PAPERBOY_MODEL_CACHE",
    # `paperboy bench memory` tells the paperboy run it traces where to write; no user sets it.
    "PAPERBOY_BENCH_TRACE_FILE",
    # The snapshot parser's worker process is given this process's import path.
    "PYTHONPATH",
}


def environment_reads(path: Path) -> set[str]:
    """Names a module reads with os.environ.get / os.environ[...] / os.getenv, constants resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = {
        target.id: node.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }

    def name_of(node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return constants.get(node.id)
        return None

    def is_environ(node: ast.expr) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
            isinstance(node, ast.Name) and node.id == "environ"
        )

    def reads_environment(call: ast.Call) -> bool:
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr in ("get", "pop"):
            return is_environ(func.value)
        return (isinstance(func, ast.Attribute) and func.attr == "getenv") or (
            isinstance(func, ast.Name) and func.id == "getenv"
        )

    names: set[str] = set()
    for node in ast.walk(tree):
        argument: ast.expr | None = None
        if isinstance(node, ast.Call) and node.args and reads_environment(node):
            argument = node.args[0]
        elif isinstance(node, ast.Subscript) and is_environ(node.value):
            argument = node.slice
        if argument is not None:
            found = name_of(argument)
            names.add(found if found is not None else f"<dynamic in {path.name}>")
    return names


def test_the_readme_table_is_the_one_the_settings_generate() -> None:
    text = README.read_text(encoding="utf-8")
    documented = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip()

    assert documented == settings_table(), (
        "run `python -m adapters.settings` and paste it into deploy/README.md"
    )


def test_every_setting_has_a_meaning_and_a_row() -> None:
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \|", settings_table(), flags=re.MULTILINE)

    assert sorted(rows) == sorted(ALIASES)
    assert all(field.description for field in Settings.model_fields.values())


def test_every_variable_the_code_reads_is_a_setting() -> None:
    read: set[str] = set()
    for package in ("bot", "adapters", "storage"):
        for path in (ROOT / package).rglob("*.py"):
            read |= environment_reads(path)

    assert read - ALIASES - NOT_SETTINGS == set()


def test_the_variables_of_the_contracts_are_settings() -> None:
    if not CONTRACTS.exists():
        # shared/ sits beside the repository in development and CI; a bare clone has no copy to check against.
        pytest.skip(f"the shared contracts are not beside this clone ({CONTRACTS} is missing)")
    section = CONTRACTS.read_text(encoding="utf-8").split("## Environment", 1)[1]
    named = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", section))

    assert named - ALIASES == set()


def test_the_example_environment_file_names_every_setting() -> None:
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    named = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))

    assert ALIASES - named == set()
    assert named - ALIASES == {"POSTGRES_PASSWORD"}


def test_tokens_and_secrets_are_secret_settings_that_never_show() -> None:
    secret_names = {alias for alias in ALIASES if re.search(r"TOKEN|SECRET", alias)}
    # Any: pydantic validates each string into its field's type (SecretStr here).
    values: dict[str, Any] = {alias: f"value-of-{alias.lower()}-0123456789" for alias in secret_names}
    settings = Settings(_env_file=None, DATABASE_URL="postgresql://u:db-password-42@h/db", **values)

    shown = f"{settings!r} {settings} {settings.model_dump()} {settings.model_dump_json()}"

    assert not any(value in shown for value in values.values())
    assert sorted(settings.secret_values()) == sorted([*values.values(), "db-password-42"])


def settings_classes() -> list[type[BaseSettings]]:
    """Every pydantic-settings class of the adapters (imported, so that their subclasses are known)."""
    for path in (ROOT / "adapters").rglob("*.py"):
        if "BaseSettings" in path.read_text(encoding="utf-8") and path.stem != "__main__":
            importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return [cls for cls in BaseSettings.__subclasses__() if cls.__module__.startswith("adapters.")]


def test_settings_read_elsewhere_are_declared_in_the_one_settings_object_alike() -> None:
    fields = {field.alias: field for field in Settings.model_fields.values()}
    for cls in settings_classes():
        if cls is Settings:
            continue
        for field in cls.model_fields.values():
            assert field.alias in fields, (
                f"{cls.__name__} reads {field.alias}, which Settings does not declare"
            )
            assert fields[field.alias].default == field.default, field.alias
