"""Host loopback ports made reachable from the pod network namespace.

Inside the pods' namespace 127.0.0.1 is the namespace's own loopback, but pods
must reach the API server, which listens on the host's 127.0.0.1 only. The
agent opens a listening socket *inside* the namespace (a socket stays in the
namespace it was created in, so one short thread enters the namespace to
create it) and copies each accepted connection to the same port on the host's
loopback. So `KUBERNETES_SERVICE_HOST=127.0.0.1` and the API server's
certificate work unchanged, the control plane keeps binding loopback only, and
there is no extra process to start, watch or clean up: the listeners end with
the agent.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
import threading
from collections.abc import Iterable

from kubetune.localdev.node.netns import in_namespace

log = logging.getLogger(__name__)

BUFFER = 65536
CONNECT_TIMEOUT_SECONDS = 10


def _listen(port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    return listener


class LoopbackForwarder:
    """127.0.0.1:<port> in the namespace -> <target host>:<port> on the host, for each port."""

    def __init__(self, netns_fd: int, ports: Iterable[int], target_host: str = "127.0.0.1") -> None:
        self.netns_fd = netns_fd
        self.ports = sorted(set(ports))
        self.target_host = target_host
        self._listeners: list[socket.socket] = []
        self._open: set[socket.socket] = set()
        self._mutex = threading.Lock()
        self._stopped = False

    def start(self) -> LoopbackForwarder:
        for port in self.ports:
            listener = in_namespace(self.netns_fd, functools.partial(_listen, port))
            self._listeners.append(listener)
            threading.Thread(target=self._accept, args=(listener, port), name=f"forward-{port}", daemon=True).start()
        return self

    def stop(self) -> None:
        with self._mutex:
            self._stopped = True
            sockets = [*self._listeners, *self._open]
            self._listeners.clear()
            self._open.clear()
        for sock in sockets:
            # shutdown() wakes a thread blocked in accept() or recv(); close() alone would not.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket, port: int) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError as error:
                if not self._stopped:
                    log.warning("forwarder of port %d stopped accepting: %s", port, error)
                return
            try:
                upstream = socket.create_connection((self.target_host, port), timeout=CONNECT_TIMEOUT_SECONDS)
            except OSError as error:
                log.warning("forwarding port %d to the host: %s", port, error)
                client.close()
                continue
            upstream.settimeout(None)
            with self._mutex:
                if self._stopped:
                    client.close()
                    upstream.close()
                    return
                self._open.update((client, upstream))
            halves = [2]  # copy threads still running; the last one closes both sockets
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._copy, args=(source, sink, halves), name=f"forward-{port}-copy",
                                 daemon=True).start()

    def _copy(self, source: socket.socket, sink: socket.socket, halves: list[int]) -> None:
        how = socket.SHUT_WR  # end of stream: half-close, the other direction may still carry the response
        try:
            while data := source.recv(BUFFER):
                sink.sendall(data)
        except OSError:
            how = socket.SHUT_RDWR  # a reset: wake the other direction's thread too
            with contextlib.suppress(OSError):
                source.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sink.shutdown(how)
        with self._mutex:
            halves[0] -= 1
            if halves[0] > 0:
                return
            self._open.discard(source)
            self._open.discard(sink)
        source.close()
        sink.close()
