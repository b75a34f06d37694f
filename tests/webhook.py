"""A real local HTTP server standing in for a Slack incoming webhook, scriptable to fail."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Shaped like a real webhook: the path is the secret part.
HOOK_PATH = "/services/T0AUDITOR/B0AUDITOR/s3cr3tT0k3nV4lu3"


class Webhook:
    """A scripted webhook: answers each POST with the next scripted reply (default 200 "ok")
    and records what it received. A reply of "hang" holds the request past the client timeout."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.replies: list[tuple[int, dict[str, str], str] | str] = []
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True  # a hung handler must not block shutdown
        self.url = f"http://127.0.0.1:{self.server.server_port}{HOOK_PATH}"

    def reset(self) -> None:
        self.release.set()  # free any request still hanging from the previous test
        with self.lock:
            self.requests.clear()
            self.replies.clear()
        self.release = threading.Event()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with webhook.lock:
                    webhook.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    reply = webhook.replies.pop(0) if webhook.replies else (200, {}, "ok")
                if isinstance(reply, str):  # "hang"
                    webhook.release.wait(10)
                    return
                status, headers, text = reply
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text.encode())))
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler
