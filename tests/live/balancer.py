"""A round-robin TCP balancer on 127.0.0.1 for the live tier: one address, several real backends.

Each accepted connection goes to the next backend in turn, as uvicorn's workers share one listening socket
or a Service spreads connections over its pods. Bytes are copied both ways until either side closes.
Threads only; ``close()`` stops accepting and ends every open connection.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
from collections.abc import Sequence
from urllib.parse import urlsplit

#: Seconds a backend connect may take before the client's connection is dropped.
CONNECT_TIMEOUT_S = 5.0
CHUNK = 65536


class Balancer:
    def __init__(self, backends: Sequence[str]) -> None:
        if not backends:
            raise ValueError("a balancer needs at least one backend URL")
        self.backends = [_address(url) for url in backends]
        self._turn = itertools.cycle(range(len(self.backends)))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.connections = [0] * len(self.backends)
        self._acceptor = threading.Thread(target=self._accept, name="balancer-accept", daemon=True)
        self._acceptor.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                _shut(sock)
            self._sockets.clear()
        self._acceptor.join(timeout=5)

    def __enter__(self) -> Balancer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            index = next(self._turn)
            self.connections[index] += 1
            threading.Thread(target=self._serve, args=(client, self.backends[index]), daemon=True).start()

    def _serve(self, client: socket.socket, backend: tuple[str, int]) -> None:
        try:
            upstream = socket.create_connection(backend, timeout=CONNECT_TIMEOUT_S)
        except OSError:
            _shut(client)
            return
        upstream.settimeout(None)
        with self._lock:
            if self._closed.is_set():
                _shut(client)
                _shut(upstream)
                return
            self._sockets.update((client, upstream))
        pump = threading.Thread(target=_copy, args=(upstream, client), daemon=True)
        pump.start()
        _copy(client, upstream)
        pump.join()
        with self._lock:
            self._sockets.difference_update((client, upstream))
        _shut(client)
        _shut(upstream)


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if not parts.hostname or not parts.port:
        raise ValueError(f"backend URL {url!r} needs a host and a port")
    return parts.hostname, parts.port


def _copy(source: socket.socket, target: socket.socket) -> None:
    """Copy until ``source`` ends, then half-close ``target`` so its peer sees the end too."""
    try:
        while chunk := source.recv(CHUNK):
            target.sendall(chunk)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
