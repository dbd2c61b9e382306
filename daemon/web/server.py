"""The web pages on uvicorn, in a thread of the daemon, beside ``/metrics``.

``/metrics`` stays on prometheus_client's own server (``[metrics]``): it is scraped from
the network, while the kiosk is for the screen on the station itself, so each has its own
address and port, and either can be off.  The socket is bound here, before the thread
starts, so a port in use is an ``OSError`` the daemon logs and records while ingest goes on
(uvicorn would exit the process).  The server runs its own event loop; the ingest workers
never wait for it, and a page costs one status snapshot per second per open screen.
"""

from __future__ import annotations

import asyncio
import socket
import threading

import uvicorn


class WebServer:
    def __init__(self, app, *, bind: str, port: int, stopping: threading.Event) -> None:
        self.app = app
        self.stopping = stopping  # ends the event streams, so shutdown does not wait on them
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((bind, port))
            self.sock.listen(64)
        except OSError:
            self.sock.close()
            raise
        host, self.port = self.sock.getsockname()[:2]
        self.url = f"http://{f'[{host}]' if family == socket.AF_INET6 else host}:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(
            app, log_config=None, access_log=False, lifespan="off",
            timeout_graceful_shutdown=3))
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="web", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout)
        self.sock.close()
