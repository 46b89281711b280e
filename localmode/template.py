"""Reads template.yaml (CloudFormation short tags included) and resolves the intrinsics local mode needs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return loaded


class UnresolvedReference(LookupError):
    pass


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


# What `Ref: AWS::NoValue` resolves to: a mapping or list drops it, as CloudFormation removes the property.
NO_VALUE: Any = _NoValue()


class Resolver:
    """Resolves Ref / Fn::GetAtt / Fn::Sub / Fn::Join / Fn::If against parameters, conditions and created
    resources."""

    def __init__(
        self, parameters: Mapping[str, str], pseudo: Mapping[str, str], conditions: Mapping[str, Any] | None = None
    ):
        self.values: dict[str, str] = {**pseudo, **parameters}
        self.attributes: dict[tuple[str, str], str] = {}
        self.conditions = dict(conditions or {})

    def condition(self, name: str) -> bool:
        """The value of a template condition (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition)."""
        if name not in self.conditions:
            raise UnresolvedReference(f"Condition {name}")
        return self._holds(self.conditions[name])

    def _holds(self, expression: Any) -> bool:
        if not isinstance(expression, dict) or len(expression) != 1:
            raise ValueError(f"not a condition: {expression!r}")
        ((key, arg),) = expression.items()
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::Equals":
            left, right = (str(self.resolve(a)) for a in arg)
            return left == right
        if key == "Fn::Not":
            return not self._holds(arg[0])
        if key == "Fn::And":
            return all(self._holds(a) for a in arg)
        if key == "Fn::Or":
            return any(self._holds(a) for a in arg)
        raise ValueError(f"unsupported condition function {key}")

    def set_resource(self, logical_id: str, ref: str, **attributes: str) -> None:
        self.values[logical_id] = ref
        for name, value in attributes.items():
            self.attributes[(logical_id, name)] = value

    def resolve(self, value: Any) -> Any:  # noqa: PLR0911 - one return per intrinsic function
        if isinstance(value, list):
            return [r for r in (self.resolve(v) for v in value) if r is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: r for k, r in ((k, self.resolve(v)) for k, v in value.items()) if r is not NO_VALUE}
        ((key, arg),) = value.items()
        if key == "Ref" and arg == "AWS::NoValue":
            return NO_VALUE
        if key == "Fn::If":
            condition, if_true, if_false = arg
            return self.resolve(if_true if self.condition(condition) else if_false)
        if key == "Ref":
            if arg not in self.values:
                raise UnresolvedReference(f"Ref {arg}")
            return self.values[arg]
        if key == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
            if (logical_id, attribute) not in self.attributes:
                raise UnresolvedReference(f"GetAtt {logical_id}.{attribute}")
            return self.attributes[(logical_id, attribute)]
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
            return re.sub(r"\$\{([^}!]+)\}", lambda m: self._sub(m.group(1), variables), text)
        if key == "Fn::Join":
            separator, parts = arg
            return separator.join(str(p) for p in self.resolve(parts))
        return {key: self.resolve(arg)}

    def _sub(self, name: str, variables: Mapping[str, Any]) -> str:
        if name in variables:
            return str(variables[name])
        if "." in name:
            return str(self.resolve({"Fn::GetAtt": name.split(".", 1)}))
        return str(self.resolve({"Ref": name}))
