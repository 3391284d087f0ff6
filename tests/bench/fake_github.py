"""A fake of the part of GitHub's REST API the benchmark reports use, served on loopback.

    FAKE_GITHUB_TOKEN=... python -m tests.bench.fake_github --port P --repository owner/name

Issues and comments live in memory; listings paginate with `Link` headers as GitHub's do (and list
pull requests among issues, as GitHub does). `GET /_log` returns the requests served, `POST /_seed`
adds issues directly (pull requests too). The token comes from the environment, as secrets must.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.support.processes import Service, free_port, running


def create_app(repository: str, token: str) -> FastAPI:
    """The fake API for one repository and one valid token."""
    app = FastAPI()
    issues: dict[int, dict[str, Any]] = {}
    comments: dict[int, dict[str, Any]] = {}
    log: list[str] = []
    prefix = f"/repos/{repository}"

    def page(request: Request, items: list[dict[str, Any]]) -> JSONResponse:
        per_page = int(request.query_params.get("per_page", "30"))
        number = int(request.query_params.get("page", "1"))
        response = JSONResponse(items[(number - 1) * per_page : number * per_page])
        if number * per_page < len(items):
            next_url = request.url.include_query_params(page=number + 1, per_page=per_page)
            response.headers["Link"] = f'<{next_url}>; rel="next"'
        return response

    def new_issue(body: dict[str, Any], request: Request) -> dict[str, Any]:
        number = len(issues) + 1
        issue = {
            "number": number,
            "title": body.get("title", ""),
            "body": body.get("body"),
            "state": "open",
            "labels": [{"name": name} for name in body.get("labels", [])],
            "html_url": f"{request.base_url}{repository}/issues/{number}",
        }
        if body.get("pull_request"):
            issue["pull_request"] = {"url": f"{request.base_url}{repository}/pull/{number}"}
        issues[number] = issue
        return issue

    @app.middleware("http")
    async def authenticate(request: Request, call_next: Any) -> Response:
        if request.url.path in ("/ready", "/_log", "/_seed"):
            return await call_next(request)
        log.append(f"{request.method} {request.url.path}")
        if request.headers.get("authorization") != f"Bearer {token}":
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        if request.headers.get("x-github-api-version") != "2022-11-28":
            return JSONResponse({"message": "missing API version"}, status_code=400)
        if not request.url.path.startswith(prefix + "/"):
            return JSONResponse({"message": "Not Found"}, status_code=404)
        return await call_next(request)

    @app.get("/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.get("/_log")
    async def served() -> list[str]:
        return log

    @app.post("/_seed")
    async def seed(request: Request) -> dict[str, Any]:
        return new_issue(await request.json(), request)

    @app.get(prefix + "/issues")
    async def list_issues(request: Request, state: str = "open") -> JSONResponse:
        return page(request, [i for i in issues.values() if state == "all" or i["state"] == state])

    @app.post(prefix + "/issues", status_code=201)
    async def create_issue(request: Request) -> Any:
        body = await request.json()
        if not body.get("title"):
            return JSONResponse(
                {"message": "Validation Failed", "errors": [{"field": "title"}]}, status_code=422
            )
        return new_issue(body, request)

    @app.patch(prefix + "/issues/{number}")
    async def update_issue(number: int, request: Request) -> Any:
        if number not in issues:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        issues[number].update(
            {k: v for k, v in (await request.json()).items() if k in ("title", "body", "state")}
        )
        return issues[number]

    @app.get(prefix + "/issues/{number}/comments")
    async def list_comments(number: int, request: Request) -> JSONResponse:
        return page(request, [c for c in comments.values() if c["issue"] == number])

    @app.post(prefix + "/issues/{number}/comments", status_code=201)
    async def create_comment(number: int, request: Request) -> Any:
        if number not in issues:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        comment_id = 1000 + len(comments)
        comments[comment_id] = {
            "id": comment_id,
            "issue": number,
            "body": (await request.json())["body"],
            "html_url": f"{request.base_url}{repository}/issues/{number}#issuecomment-{comment_id}",
        }
        return comments[comment_id]

    @app.patch(prefix + "/issues/comments/{comment_id}")
    async def update_comment(comment_id: int, request: Request) -> Any:
        if comment_id not in comments:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        comments[comment_id]["body"] = (await request.json())["body"]
        return comments[comment_id]

    return app


@contextmanager
def fake_github_process(repository: str, token: str) -> Iterator[Service]:
    """This fake as its own process on loopback, accepting only `token`, serving `repository`."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "tests.bench.fake_github",
        "--port",
        str(port),
        "--repository",
        repository,
    ]
    with running(command, port=port, env={"FAKE_GITHUB_TOKEN": token}) as service:
        yield service


def main() -> None:
    """Serve the fake on loopback."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--repository", default="octo/voice")
    args = parser.parse_args()
    app = create_app(args.repository, os.environ["FAKE_GITHUB_TOKEN"])
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
