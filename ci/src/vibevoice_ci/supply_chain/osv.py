"""Reading vulnerability records from an OSV API (https://api.osv.dev or a mirror of it).

pip-audit reports a vulnerability's ids but not its severity, so the gate fetches the record itself:
`GET <base>/v1/vulns/<id>`, trying the reported id and then its aliases until one is known (a
GHSA record carries CVSS vectors; a PYSEC or CVE record may carry none). Only the standard library is
used, so the gate runs in any Python.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from vibevoice_ci.supply_chain.severity import UNRATED, Rating, osv_rating

DEFAULT_OSV_URL = "https://api.osv.dev"
TIMEOUT_S = 20.0


class OsvError(Exception):
    """The OSV API could not be asked (network, HTTP error, not JSON): an infrastructure failure."""


def query_url(base: str) -> str:
    """The batch-free query endpoint pip-audit's `--osv-url` takes."""
    return f"{base_url(base)}/v1/query"


def base_url(base: str) -> str:
    """An OSV API base URL, validated (http or https, no query)."""
    url = base.strip().rstrip("/")
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.query:
        msg = f"not an OSV API base URL: {base!r} (e.g. {DEFAULT_OSV_URL})"
        raise ValueError(msg)
    return url


def fetch(base: str, vuln_id: str, timeout: float = TIMEOUT_S) -> dict[str, Any] | None:
    """The OSV record `vuln_id`, or None if the API does not know it (404)."""
    url = f"{base_url(base)}/v1/vulns/{urllib.parse.quote(vuln_id, safe='')}"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - http(s) only
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            document = json.load(response)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        msg = f"OSV answered {error.code} for {url}"
        raise OsvError(msg) from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        msg = f"cannot reach OSV at {url}: {error}"
        raise OsvError(msg) from None
    except json.JSONDecodeError:
        msg = f"OSV's answer for {url} is not JSON"
        raise OsvError(msg) from None
    if not isinstance(document, dict):
        msg = f"OSV's answer for {url} is not a record"
        raise OsvError(msg)
    return document  # pyright: ignore[reportUnknownVariableType]


def rater(base: str, timeout: float = TIMEOUT_S) -> Callable[[Sequence[str]], Rating]:
    """A function rating a vulnerability by its ids: the first record OSV knows that has a rating."""
    cache: dict[str, Rating] = {}

    def rate(ids: Sequence[str]) -> Rating:
        key = "\n".join(ids)
        if key not in cache:
            cache[key] = _rate(base, ids, timeout)
        return cache[key]

    return rate


def _rate(base: str, ids: Sequence[str], timeout: float) -> Rating:
    for vuln_id in ids:
        record = fetch(base, vuln_id, timeout)
        if record is None:
            continue
        rating = osv_rating(record)
        if rating != UNRATED:
            return rating
    return UNRATED
