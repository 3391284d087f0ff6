"""Command-line flags derived from pydantic-settings models, so every flag has an env var twin.

Precedence: flags, then `VIBEVOICE_*` environment variables, then defaults. Secret fields are never
flags: a secret in argv shows in `ps` and in shell history, so they come from the environment only.
"""

from __future__ import annotations

import argparse
import typing
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings

SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in typing.get_args(annotation)


def _choices(annotation: Any) -> list[str] | None:
    if typing.get_origin(annotation) is typing.Literal:
        return [str(arg) for arg in typing.get_args(annotation)]
    return None


def build_parser(settings_cls: type[BaseSettings], prog: str, description: str) -> argparse.ArgumentParser:
    """An argparse parser with one `--kebab-case` flag per non-secret settings field."""
    prefix = str(settings_cls.model_config.get("env_prefix", ""))
    parser = argparse.ArgumentParser(prog=prog, description=description)
    for name, field in settings_cls.model_fields.items():
        if _is_secret(field.annotation):
            continue
        env = f"{prefix}{name}".upper()
        help_text = f"{field.description or ''} [env {env}; default {field.default!r}]".strip()
        flag = "--" + name.replace("_", "-")
        if field.annotation is bool:
            parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, help=help_text)
        else:
            parser.add_argument(flag, dest=name, choices=_choices(field.annotation), help=help_text)
    return parser


def parse_settings(
    settings_cls: type[SettingsT], argv: Sequence[str] | None, prog: str, description: str
) -> SettingsT:
    """Parse flags over the environment; a bad value exits with status 2 (usage, no traceback) naming
    the flag, its environment variable, and which of the two the bad value came from."""
    parser = build_parser(settings_cls, prog, description)
    flags = {k: v for k, v in vars(parser.parse_args(argv)).items() if v is not None}
    try:
        return settings_cls(**flags)
    except ValidationError as exc:
        prefix = str(settings_cls.model_config.get("env_prefix", ""))
        parser.error("; ".join(_problem(err["loc"], err["msg"], flags, prefix) for err in exc.errors()))


def _problem(loc: tuple[int | str, ...], message: str, flags: dict[str, Any], prefix: str) -> str:
    if not loc:  # a check across settings: its message names what to set
        return message.removeprefix("Value error, ")
    name = str(loc[0])
    flag, env = "--" + name.replace("_", "-"), f"{prefix}{name}".upper()
    source = f"{flag} (env {env})" if name in flags else f"{env} in the environment (flag {flag})"
    return f"{source}: {message}"
