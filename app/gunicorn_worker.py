"""gunicorn's sync worker, made to stop without dropping a connection.

Told to stop (SIGTERM), gunicorn's own sync worker finishes the request in
hand and exits; its master has closed its copy of the listening socket, but
the socket goes on listening while any worker still holds one. Connections
that arrive meanwhile wait in the kernel's queue, unanswered, and are reset
when the last worker exits. nginx has sent each its request by then, so it
does not pass a POST on to another instance: the client gets a 502 for a
request no instance saw (docs/operations.md, "Growing past one machine").

This worker stops listening the moment it is told to stop: it takes the
connections already queued, closes its copy of the listening socket, and
serves those connections before it exits. Once every process of the instance
has done so, the kernel refuses new connections at once, and nginx passes
them to another instance, POSTs included, as their request was never sent.
"""

from __future__ import annotations

import errno

from gunicorn.workers.sync import StopWaiting, SyncWorker


class _Closed:
    """Stands in for a closed listening socket: a request accepted through it
    is still told the address it came to."""

    def __init__(self, name):
        self._name = name

    def getsockname(self):
        return self._name


class DrainingSyncWorker(SyncWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._queued: list = []

    def handle_exit(self, sig, frame):
        super().handle_exit(sig, frame)
        self._stop_listening()

    def _stop_listening(self) -> None:
        for listener in self.sockets:
            real = listener.sock
            if isinstance(real, _Closed):
                continue
            while True:
                try:
                    client, address = real.accept()
                except OSError:  # nothing left in the queue
                    break
                self._queued.append((listener, client, address))
            listener.sock = _Closed(real.getsockname())
            real.close()

    # The signal may come between the run loop's check of ``alive`` and its
    # next accept or wait: neither may touch the closed socket.

    def accept(self, listener):
        if not self.alive:
            raise BlockingIOError(errno.EAGAIN, "stopping")
        super().accept(listener)

    def wait(self, timeout):
        if not self.alive:
            raise StopWaiting
        return super().wait(timeout)

    def run(self):
        super().run()
        queued, self._queued = self._queued, []
        for listener, client, address in queued:
            client.setblocking(True)
            self.handle(listener, client, address)
