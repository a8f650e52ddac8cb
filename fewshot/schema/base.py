"""Schema leaves, the validation walk, and loading a chosen set of sections."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from fewshot.errors import ParamError


@dataclass(frozen=True)
class Field:
    """One leaf of the schema: its type and the values it may take."""

    kind: type
    low: float | None = None  # inclusive
    high: float | None = None  # inclusive
    choices: tuple[str, ...] | None = None
    positive: bool = False  # strictly > 0, for rates

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        name = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}[
            self.kind
        ]
        if self.positive:
            return f"{name} > 0"
        if self.low is not None and self.high is not None:
            return f"{name} between {self.low:g} and {self.high:g}"
        if self.low is not None:
            return f"{name} >= {self.low:g}"
        return name

    def accepts(self, value: Any) -> bool:
        if self.kind is bool or isinstance(value, bool):  # YAML `yes` must not pass as 1
            return self.kind is bool and isinstance(value, bool)
        if self.kind is float:
            ok_type = isinstance(value, (int, float))
        else:
            ok_type = isinstance(value, self.kind)
        if not ok_type:
            return False
        if self.choices is not None and value not in self.choices:
            return False
        if self.positive and not value > 0:
            return False
        if self.low is not None and value < self.low:
            return False
        return self.high is None or value <= self.high


def integer(low: int = 1, high: int | None = None) -> Field:
    return Field(int, low=low, high=high)


def rate() -> Field:
    return Field(float, positive=True)


def validate_tree(tree: Any, schema: dict[str, Any], prefix: str, source: str) -> None:
    if not isinstance(tree, dict):
        where = f"'{prefix.rstrip('.')}'" if prefix else "the top level"
        raise ParamError(f"{source}: {where} must be a mapping, got {tree!r}")
    unknown = sorted(set(tree) - set(schema))
    if unknown:
        key = prefix + str(unknown[0])
        allowed = ", ".join(prefix + k for k in schema)
        raise ParamError(f"{source}: unknown key '{key}'. Allowed keys here: {allowed}")
    for key, spec in schema.items():
        name = prefix + key
        if key not in tree:
            raise ParamError(f"{source}: missing key '{name}'")
        value = tree[key]
        if isinstance(spec, dict):
            validate_tree(value, spec, name + ".", source)
        elif not spec.accepts(value):
            raise ParamError(
                f"{source}: '{name}' = {value!r} is invalid: expected {spec.describe()}"
            )


def read_params(path: str | Path = "params.yaml") -> Any:
    """The file's contents, read with `yaml.safe_load`; a clear error when missing or not YAML."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ParamError(f"{path}: file not found (run from the repository root)") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ParamError(f"{path}: not valid YAML: {exc}") from None


def validate_sections(
    params: Any, sections: tuple[ModuleType, ...], source: str, strict: bool = False
) -> dict[str, Any]:
    """Validate the keys of `sections` (each a module with `SCHEMA` and maybe `check`), then
    their cross-checks. `strict`: no other top-level key either (the whole file)."""
    schema: dict[str, Any] = {}
    for section in sections:
        schema.update(section.SCHEMA)
    if not strict and isinstance(params, dict):
        params = {key: value for key, value in params.items() if key in schema}
    validate_tree(params, schema, "", source)
    for section in sections:
        check: Callable[[dict[str, Any], str], None] | None = getattr(section, "check", None)
        if check is not None:
            check(params, source)
    return params


def load_sections(*sections: ModuleType, path: str | Path = "params.yaml") -> dict[str, Any]:
    """The params of these sections only, validated (check_params validated the rest)."""
    return validate_sections(read_params(path), sections, str(path))
