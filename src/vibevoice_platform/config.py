"""Command-line flags derived from pydantic-settings models, so every flag has an env var twin.

Precedence: flags, then `VIBEVOICE_*` environment variables, then defaults. Secret fields are never
flags: a secret in argv shows in `ps` and in shell history, so they come from the environment only,
and `--help` lists those variables after the flags; a URL flag with a password in it is refused for the
same reason (such a URL goes in the flag's environment variable). A bad value stops the start with one
line (no usage block above it), exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import typing
from collections.abc import Sequence
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings

SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in typing.get_args(annotation)


def _choices(annotation: Any) -> list[str] | None:
    if typing.get_origin(annotation) is typing.Literal:
        return [str(arg) for arg in typing.get_args(annotation)]
    return None


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line, `PROG: error: ...`, without its usage
    block (`--help` shows that), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def http_url(value: str) -> str:
    """`value` if it is an http(s) URL with a host, without a trailing slash; else ValueError saying
    what to write (a URL without a scheme would otherwise fail on every request, or wait)."""
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and parts.hostname:
        return value.rstrip("/")
    hint = f"; did you mean http://{value}?" if "://" not in value and value else ""
    raise ValueError(f"{value!r} is not an http:// or https:// URL with a host{hint}")


def redis_url(value: str) -> str:
    """`value` if it is a Redis URL: redis:// or rediss:// with a host, or unix:// with a socket path;
    else ValueError. The message never repeats the URL, which may hold a password."""
    parts = urlsplit(value)
    if (parts.scheme in ("redis", "rediss") and parts.hostname) or (parts.scheme == "unix" and parts.path):
        return value
    scheme = f"a {parts.scheme}:// URL" if parts.scheme else "a URL without a scheme"
    raise ValueError(f"{scheme} is not a redis://HOST, rediss://HOST or unix:///PATH URL")


def url_password(value: str) -> bool:
    """Whether `value` reads as a URL with a password in it (user:password@host)."""
    try:
        return urlsplit(value).password is not None
    except ValueError:  # not a URL at all (an unbalanced "[" in a free-text value)
        return False


def build_parser(settings_cls: type[BaseSettings], prog: str, description: str) -> argparse.ArgumentParser:
    """An argparse parser with one `--kebab-case` flag per non-secret settings field; the secret
    fields' environment variables are listed after the flags."""
    prefix = str(settings_cls.model_config.get("env_prefix", ""))
    secrets = [
        f"  {prefix}{name}".upper() + f"  {field.description or ''}"
        for name, field in settings_cls.model_fields.items()
        if _is_secret(field.annotation)
    ]
    epilog = "\n".join(["secrets, from the environment only (never flags):", *secrets]) if secrets else None
    parser = OneLineParser(
        prog=prog,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    prefix = str(settings_cls.model_config.get("env_prefix", ""))
    for name, value in flags.items():
        if isinstance(value, str) and url_password(value):
            env = f"{prefix}{name}".upper()
            flag = "--" + name.replace("_", "-")
            parser.error(f"{flag}: a password in a flag shows in `ps`; give this URL in {env} instead")
    try:
        return settings_cls(**flags)
    except ValidationError as exc:
        parser.error("; ".join(_problem(err["loc"], err["msg"], flags, prefix) for err in exc.errors()))


def print_error(prog: str, message: str) -> None:
    """A start-up error as the parser reports one: `PROG: error: MESSAGE` on stderr."""
    print(f"{prog}: error: {message}", file=sys.stderr)


def _problem(loc: tuple[int | str, ...], message: str, flags: dict[str, Any], prefix: str) -> str:
    message = message.removeprefix("Value error, ")
    if not loc:  # a check across settings: its message names what to set
        return message
    name = str(loc[0])
    flag, env = "--" + name.replace("_", "-"), f"{prefix}{name}".upper()
    source = f"{flag} (env {env})" if name in flags else f"{env} in the environment (flag {flag})"
    return f"{source}: {message}"
