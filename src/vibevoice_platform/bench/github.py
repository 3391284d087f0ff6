"""A small GitHub REST client for the benchmark's reports, idempotent by a marker.

A nightly regression opens one issue, or updates the open one that carries the same marker; a pull
request gets one comment, updated in place on each run. The marker is an HTML comment in the body,
invisible on GitHub, so the reports never pile up. The token goes in a header only: it is never
logged, never part of an error message, and not shown by `repr`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx

API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
_REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")


class GitHubError(Exception):
    """GitHub answered with an error, or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Posted:
    """An issue or comment written: its number or id, its page, and whether it is new."""

    id: int
    url: str
    created: bool


def with_marker(body: str, marker: str) -> str:
    """`body` carrying `marker` (added on a line of its own at the top if missing)."""
    return body if marker in body else f"{marker}\n{body}"


class GitHub:
    """Issues and comments of one repository."""

    def __init__(
        self, token: str, repository: str, *, api_url: str = API_URL, timeout_s: float = 30.0
    ) -> None:
        if not _REPOSITORY.match(repository):
            raise ValueError(f"repository must be OWNER/NAME, not {repository!r}")
        if not token:
            raise ValueError("a GitHub token is required")
        self.repository = repository
        self._client = httpx.AsyncClient(
            base_url=api_url.rstrip("/"),
            timeout=timeout_s,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "vibevoice-bench",
            },
        )

    def __repr__(self) -> str:
        return f"GitHub(repository={self.repository!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def _request(
        self,
        method: str,
        url: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        try:
            response = await self._client.request(method, url, json=json, params=params)
        except httpx.HTTPError as exc:
            raise GitHubError(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        if response.is_success:
            return response
        try:
            payload = response.json()
            detail = str(payload.get("message") or response.reason_phrase)
            if payload.get("errors"):
                detail += f" ({payload['errors']})"
        except (ValueError, AttributeError):
            detail = response.reason_phrase
        raise GitHubError(f"{method} {url}: {response.status_code} {detail}", response.status_code)

    async def _pages(self, path: str, params: Mapping[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Every item of a listing, following the `Link: rel="next"` pages."""
        url: str | None = path
        query: Mapping[str, Any] | None = {**params, "per_page": 100}
        while url is not None:
            response = await self._request("GET", url, params=query)
            items = response.json()
            if not isinstance(items, list):
                raise GitHubError(f"GET {url}: expected a list, got {type(items).__name__}")
            for item in items:
                yield item
            url, query = response.links.get("next", {}).get("url"), None  # the next URL carries its query
            if url is not None and not url.startswith(str(self._client.base_url)):
                raise GitHubError(
                    f"refusing to follow a page link off the API: {url}"
                )  # the token would go too

    async def find_issue(self, marker: str) -> dict[str, Any] | None:
        """The open issue (not pull request) whose body carries `marker`, if any."""
        async for issue in self._pages(f"/repos/{self.repository}/issues", {"state": "open"}):
            if "pull_request" not in issue and marker in (issue.get("body") or ""):
                return issue
        return None

    async def report_issue(self, title: str, body: str, marker: str, labels: Sequence[str] = ()) -> Posted:
        """Update the open issue marked `marker`, or open one."""
        text = with_marker(body, marker)
        existing = await self.find_issue(marker)
        if existing is not None:
            number = int(existing["number"])
            response = await self._request(
                "PATCH", f"/repos/{self.repository}/issues/{number}", json={"title": title, "body": text}
            )
            return Posted(number, str(response.json().get("html_url", "")), created=False)
        payload: dict[str, Any] = {"title": title, "body": text}
        if labels:
            payload["labels"] = list(labels)
        response = await self._request("POST", f"/repos/{self.repository}/issues", json=payload)
        issue = response.json()
        return Posted(int(issue["number"]), str(issue.get("html_url", "")), created=True)

    async def report_comment(self, number: int, body: str, marker: str) -> Posted:
        """Update the comment marked `marker` on issue or pull request `number`, or add one."""
        text = with_marker(body, marker)
        async for comment in self._pages(f"/repos/{self.repository}/issues/{number}/comments", {}):
            if marker in (comment.get("body") or ""):
                comment_id = int(comment["id"])
                response = await self._request(
                    "PATCH", f"/repos/{self.repository}/issues/comments/{comment_id}", json={"body": text}
                )
                return Posted(comment_id, str(response.json().get("html_url", "")), created=False)
        response = await self._request(
            "POST", f"/repos/{self.repository}/issues/{number}/comments", json={"body": text}
        )
        comment = response.json()
        return Posted(int(comment["id"]), str(comment.get("html_url", "")), created=True)
