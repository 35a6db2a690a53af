"""HTTP clients: a logged-in session per client over http.client, and the load runner.

Each client is one thread with its own session cookie, sending its next request as soon as
the previous answer is read (a closed loop; a think time adds a pause in between). Gunicorn's
sync workers close the connection after each answer; http.client reconnects by itself.
"""

from __future__ import annotations

import http.client
import itertools
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from common import progress

from .pages import PageRequest

TIMEOUT = 120
CSRF_FIELD = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


class Session:
    """One browser: a cookie jar and a connection to the server."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.cookies: dict[str, str] = {}
        self.connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Response:
        headers = {"Host": self.host, "Accept-Encoding": "identity"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = urlencode(form).encode() if form is not None else None
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            return self._send(method, path, body, headers)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # A kept-alive connection the server had already closed: once more, afresh.
            self.connection.close()
            return self._send(method, path, body, headers)

    def _send(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> Response:
        self.connection.request(method, path, body=body, headers=headers)
        answer = self.connection.getresponse()
        content = answer.read()
        self._remember(answer.headers.get_all("Set-Cookie") or [])
        return Response(answer.status, answer.headers, content)

    def _remember(self, set_cookies: list[str]) -> None:
        for header in set_cookies:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value

    def login(self, username: str, password: str) -> None:
        form_page = self.request("GET", "/login/")
        match = CSRF_FIELD.search(form_page.body)
        if form_page.status != 200 or match is None:
            raise RuntimeError(f"login form: status {form_page.status}, no CSRF token")
        answer = self.request(
            "POST",
            "/login/",
            {
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": match.group(1).decode(),
            },
        )
        if answer.status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"login as {username} failed: status {answer.status}")

    def close(self) -> None:
        self.connection.close()


@dataclass(frozen=True)
class Sample:
    page: str
    user: str
    millis: float
    status: int
    problem: str  # "" when the answer was right


@dataclass
class Client:
    session: Session
    username: str
    requests: Sequence[PageRequest]
    position: Iterator[int] = field(init=False)

    def __post_init__(self) -> None:
        self.position = itertools.cycle(range(len(self.requests)))

    def next_request(self) -> PageRequest:
        return self.requests[next(self.position)]

    def fetch(self, request: PageRequest) -> Sample:
        started = time.perf_counter()
        try:
            answer = self.session.request("GET", request.path)
        except (OSError, http.client.HTTPException) as exc:
            millis = (time.perf_counter() - started) * 1000
            # A timed-out exchange leaves the connection mid-request: start the next afresh.
            self.session.connection.close()
            return Sample(request.page, self.username, millis, 0, f"{request.path}: {exc!r}")
        millis = (time.perf_counter() - started) * 1000
        return Sample(request.page, self.username, millis, answer.status, check(request, answer))


def check(request: PageRequest, answer: Response) -> str:
    """What is wrong with the answer, or "" if it is the page expected."""
    if answer.status != 200:
        return f"{request.path}: status {answer.status}"
    for expected in request.expect:
        if expected.encode() not in answer.body:
            return f"{request.path}: missing {expected!r}"
    for forbidden in request.forbid:
        if forbidden.encode() in answer.body:
            return f"{request.path}: shows {forbidden!r}"
    return ""


@dataclass
class LoadResult:
    samples: list[Sample]
    seconds: float

    @property
    def problems(self) -> list[str]:
        return [sample.problem for sample in self.samples if sample.problem]


class Budget:
    """The shared allowance of requests and time, taken one request at a time."""

    def __init__(self, requests: int, seconds: float) -> None:
        self.left = requests
        self.deadline = time.monotonic() + seconds
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            if self.left <= 0 or time.monotonic() >= self.deadline:
                return False
            self.left -= 1
            return True


def run_load(
    clients: Sequence[Client], requests: int, seconds: float, label: str, think: float = 0.0
) -> LoadResult:
    """Every client in its own thread until ``requests`` are answered or ``seconds`` pass;
    each waits ``think`` seconds between an answer and its next request."""
    budget = Budget(requests, seconds)
    samples: list[Sample] = []
    lock = threading.Lock()
    bar = progress(total=requests, desc=label, unit="req")

    def work(client: Client) -> None:
        while budget.take():
            sample = client.fetch(client.next_request())
            with lock:
                samples.append(sample)
                bar.update()
            if think:
                time.sleep(think)

    threads = [threading.Thread(target=work, args=(client,), daemon=True) for client in clients]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    bar.close()
    return LoadResult(samples, elapsed)
