"""The shared session store: real agent processes on loopback and a private redis-server.

Two agents sharing one Redis hold one conversation (the fake OpenAI API records the messages each turn
sends, which shows the history); histories are capped and expire; a store that dies or hangs leaves
every turn answered and the agents ready, and the history resumes when it is back; the per-key rate
limit is shared, and counted per pod while the store is down; the store's password comes from the
environment and shows nowhere.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest
from httpx_sse import EventSource

from tests.support.fake_openai import FakeOpenAI
from tests.support.processes import SCRIPTS, Service, wait_for
from tests.support.redis_server import RedisServer, redis_server
from tests.support.threaded_server import serve_in_thread
from vibevoice_platform.agent.redis_store import HISTORY_PREFIX

pytestmark = pytest.mark.integration
StartAgent = Callable[..., AbstractContextManager[Service]]
REPLY = "Noted. I will remember that."
LLM_KEY = {"VIBEVOICE_AGENT_OPENAI_API_KEY": "sk-test-not-a-real-key"}


@pytest.fixture(scope="module")
def store() -> Iterator[RedisServer]:
    """A redis-server the module's agents share (each test names sessions of its own)."""
    with redis_server() as server:
        yield server


@pytest.fixture
def fake_llm() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI(reply=REPLY)
    with serve_in_thread(fake.app()) as url:
        yield fake, url


def store_env(server: RedisServer) -> dict[str, str]:
    """The environment of an agent on `server`: its URL, and its password apart, as the chart gives it."""
    return {
        "VIBEVOICE_AGENT_SESSION_STORE_URL": server.url,
        "VIBEVOICE_AGENT_SESSION_STORE_PASSWORD": server.password,
        **LLM_KEY,
    }


def openai_flags(url: str) -> tuple[str, ...]:
    return ("--llm", "openai", "--openai-base-url", f"{url}/v1")


def say(agent: Service, text: str, session: str, headers: dict[str, str] | None = None) -> list[str]:
    """One turn of `session` on `agent`; the names of its events (asserted free of errors)."""
    body = {"text": text, "session_id": session}
    with httpx.stream(
        "POST", f"{agent.url}/v1/agent/turn", json=body, headers=headers or {}, timeout=60
    ) as response:
        assert response.status_code == 200, response.read()
        names = [event.event for event in EventSource(response).iter_sse()]
    assert "error" not in names
    assert names[-2:] == ["metrics", "done"]
    return names


def history_sent(fake: FakeOpenAI) -> list[dict[str, str]]:
    """The past messages the last LLM request carried (between the system prompt and the new text)."""
    return fake.requests[-1]["messages"][1:-1]


def exchange(user: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": user}, {"role": "assistant", "content": REPLY}]


def sessions_check(agent: Service) -> dict[str, Any]:
    """/ready's answer must stay 200 whatever the store does; its `sessions` check."""
    ready = httpx.get(f"{agent.url}/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    return ready.json()["checks"]["sessions"]


def store_errors(agent: Service, operation: str) -> float:
    """The agent's count of failed store calls of `operation`."""
    text = httpx.get(f"{agent.url}/metrics").text
    series = f'vibevoice_agent_session_store_errors_total{{operation="{operation}"}} '
    return sum(float(line.removeprefix(series)) for line in text.splitlines() if line.startswith(series))


def test_two_agents_sharing_a_store_hold_one_conversation(
    store: RedisServer, sine_tts: Service, start_agent: StartAgent, fake_llm: tuple[FakeOpenAI, str]
) -> None:
    fake, url = fake_llm
    shared = store_env(store)
    with (
        start_agent(sine_tts.url, *openai_flags(url), env=shared) as a,
        start_agent(sine_tts.url, *openai_flags(url), env=shared) as b,
    ):
        say(a, "My boat is called Petrel.", "harbour")
        say(b, "What is my boat called?", "harbour")
        assert history_sent(fake) == exchange("My boat is called Petrel.")
        say(a, "Thanks.", "harbour")
        assert history_sent(fake) == exchange("My boat is called Petrel.") + exchange(
            "What is my boat called?"
        )
        assert sessions_check(b) == {"ok": True, "detail": f"redis {store.url}: reachable"}
    # The other side of the toggle: without a store each agent knows only its own turns.
    with (
        start_agent(sine_tts.url, *openai_flags(url), env=LLM_KEY) as a,
        start_agent(sine_tts.url, *openai_flags(url), env=LLM_KEY) as b,
    ):
        say(a, "My boat is called Petrel.", "harbour")
        say(b, "What is my boat called?", "harbour")
        assert history_sent(fake) == []
        assert sessions_check(b)["detail"] == "memory (this process only)"


def test_histories_are_capped_and_expire(
    store: RedisServer, sine_tts: Service, start_agent: StartAgent, fake_llm: tuple[FakeOpenAI, str]
) -> None:
    fake, url = fake_llm
    flags = (*openai_flags(url), "--history-messages", "4", "--session-ttl-s", "2")
    key = HISTORY_PREFIX + "short-memory"
    with start_agent(sine_tts.url, *flags, env=store_env(store)) as agent, store.client() as redis:
        for n in range(3):
            say(agent, f"Turn {n}.", "short-memory")
        assert redis.llen(key) == 4
        assert 0 < redis.ttl(key) <= 2
        say(agent, "Turn 3.", "short-memory")
        assert history_sent(fake) == exchange("Turn 1.") + exchange("Turn 2.")
        assert wait_for(lambda: not redis.exists(key), timeout=30)
        say(agent, "Anyone there?", "short-memory")
        assert history_sent(fake) == []


def test_a_store_outage_leaves_turns_answered_and_the_agent_ready(
    sine_tts: Service, start_agent: StartAgent, fake_llm: tuple[FakeOpenAI, str]
) -> None:
    fake, url = fake_llm
    flags = (*openai_flags(url), "--session-store-timeout-s", "0.5")
    with redis_server() as own, start_agent(sine_tts.url, *flags, env=store_env(own)) as agent:
        say(agent, "The key is under the blue pot.", "outage")

        # The store hangs (the port accepts, nothing answers): turns wait for it no longer than its
        # timeout, and go on without their history.
        with own.paused():
            say(agent, "Where is the key?", "outage")
            assert history_sent(fake) == []
            check = sessions_check(agent)
            assert check["ok"] is False
            assert "no answer in 0.5 s" in check["detail"]
        assert store_errors(agent, "read") == 1
        say(agent, "Where was it again?", "outage")  # back: the history from before is there
        assert history_sent(fake)[:2] == exchange("The key is under the blue pot.")

        # The store dies, with everything in it.
        own.kill()
        say(agent, "Is anyone keeping notes?", "outage")
        assert history_sent(fake) == []
        assert sessions_check(agent)["ok"] is False
        assert store_errors(agent, "read") == 2
        assert store_errors(agent, "record") >= 1
        assert "the turn goes on without its history" in agent.output()

        # Back (empty, on the same port): the conversation's history builds up again.
        own.start()
        assert wait_for(lambda: sessions_check(agent)["ok"], timeout=30)
        say(agent, "The key is in the drawer now.", "outage")
        say(agent, "Where is the key?", "outage")
        assert history_sent(fake) == exchange("The key is in the drawer now.")


def test_the_rate_limit_is_shared_and_counted_per_pod_while_the_store_is_down(
    sine_tts: Service, start_agent: StartAgent, fake_llm: tuple[FakeOpenAI, str]
) -> None:
    _, url = fake_llm
    with redis_server() as own:
        env = {
            **store_env(own),
            "VIBEVOICE_AGENT_API_KEYS": "alpha",
            "VIBEVOICE_AGENT_RATE_LIMIT_PER_MINUTE": "1",  # no refill during the test
            "VIBEVOICE_AGENT_RATE_LIMIT_BURST": "2",
        }
        alpha = {"Authorization": "Bearer alpha"}
        with (
            start_agent(sine_tts.url, *openai_flags(url), env=env) as a,
            start_agent(sine_tts.url, *openai_flags(url), env=env) as b,
        ):
            say(a, "One.", "rates", alpha)
            say(b, "Two.", "rates", alpha)
            for agent in (a, b):  # the burst of 2 is spent across both agents
                refused = httpx.post(f"{agent.url}/v1/agent/turn", json={"text": "Three."}, headers=alpha)
                assert refused.status_code == 429
                assert refused.json()["error"]["code"] == "rate_limit_exceeded"
            own.kill()
            say(a, "Four.", "rates", alpha)  # a's own bucket, untouched so far, takes over
            assert store_errors(a, "rate_limit") == 1
            assert "the key's rate is counted in this pod" in a.output()


def test_the_store_password_comes_from_the_environment_and_shows_nowhere(
    store: RedisServer, sine_tts: Service, start_agent: StartAgent
) -> None:
    in_url = {"VIBEVOICE_AGENT_SESSION_STORE_URL": store.url_with_password}
    with start_agent(sine_tts.url, "--llm", "scripted", env=in_url) as agent:
        say(agent, "Hello.", "secretive")
        say(agent, "Hello again.", "secretive")
        with store.client() as redis:
            assert redis.llen(HISTORY_PREFIX + "secretive") == 4
        assert sessions_check(agent)["ok"] is True
        assert store.password not in httpx.get(f"{agent.url}/ready").text
        assert store.password not in agent.output()
    wrong = {**store_env(store), "VIBEVOICE_AGENT_SESSION_STORE_PASSWORD": "not-the-password"}
    with start_agent(sine_tts.url, "--llm", "scripted", env=wrong) as agent:
        say(agent, "Hello.", "secretive")
        assert sessions_check(agent)["ok"] is False
        assert "not-the-password" not in agent.output()
    flag = subprocess.run(
        [str(SCRIPTS / "vibevoice-agent"), "--session-store-url", store.url_with_password],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert flag.returncode == 2
    assert "VIBEVOICE_AGENT_SESSION_STORE_URL" in flag.stderr
    assert store.password not in flag.stderr + flag.stdout
