"""A small TCP proxy on loopback between the daemon and the S3 server, for "S3 is slow".

It forwards bytes both ways, can hold the upload direction to a rate (bytes per second,
per connection) or stop forwarding altogether (a stall: no error, no answer), and counts the
bytes sent upstream, so a case can wait for "an upload is under way" instead of sleeping.  A
connection whose upstream cannot be reached is closed, as a router would.
"""

from __future__ import annotations

import socket
import threading
import time


class ThrottlingProxy:
    CHUNK = 16 << 10

    def __init__(self, upstream_port: int, *, rate: float | None = None) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.rate = rate
        self.sent_up = 0
        self._cond = threading.Condition()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._closed = False
        self._flowing = threading.Event()
        self._flowing.set()
        self._thread = threading.Thread(target=self._accept, name="proxy", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> ThrottlingProxy:
        self._thread.start()
        return self

    def wait_sent(self, nbytes: int, timeout: float = 60) -> None:
        """Block until ``nbytes`` more than now have gone upstream."""
        with self._cond:
            target = self.sent_up + nbytes
            if not self._cond.wait_for(lambda: self.sent_up >= target, timeout):
                raise AssertionError(f"only {self.sent_up - target + nbytes} of {nbytes} bytes "
                                     f"went to S3 in {timeout} s")

    def hold(self) -> None:
        """Stop forwarding, both ways, connections left open: S3 stalls without an error."""
        self._flowing.clear()

    def release(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self._flowing.set()
        self._closed = True
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() below
        except OSError:
            pass
        self._listener.close()
        with self._cond:
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.close()
            except OSError:
                pass
        self._thread.join(5)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._cond:
                self._conns += [client, server]
            for src, dst, up in ((client, server, True), (server, client, False)):
                threading.Thread(target=self._pump, args=(src, dst, up), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, up: bool) -> None:
        try:
            while data := src.recv(self.CHUNK):
                self._flowing.wait()
                dst.sendall(data)
                if up:
                    with self._cond:
                        self.sent_up += len(data)
                        self._cond.notify_all()
                    if self.rate:
                        time.sleep(len(data) / self.rate)  # pacing bytes, not a wait for events
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
