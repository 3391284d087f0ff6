"""Counts in the bench's messages: "1 past run", "2 past runs"."""

from __future__ import annotations


def counted(count: int, noun: str) -> str:
    """`count` and `noun`, plural (a trailing s) unless the count is one."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
