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
import os
import socket

from gunicorn.workers.sync import StopWaiting, SyncWorker


class _Named:
    """What a request is told of the listening socket it came through: its
    address, which a closed socket no longer knows."""

    def __init__(self, name):
        self._name = name

    def getsockname(self):
        return self._name


class DrainingSyncWorker(SyncWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._names = {id(listener): listener.getsockname() for listener in self.sockets}
        self._queued: list = []

    def handle_exit(self, sig, frame):
        super().handle_exit(sig, frame)
        self._stop_listening()

    def _stop_listening(self) -> None:
        for listener in self.sockets:
            while True:
                try:
                    client, address = listener.accept()
                except OSError:  # nothing left in the queue
                    break
                self._queued.append((listener, client, address))
            # Put a socket that listens to nothing in place of this process's
            # copy of the listening one: the kernel closes that copy, and
            # every use of the listener left in gunicorn's loop stays harmless.
            with socket.socket(listener.family, listener.type) as nothing:
                os.dup2(nothing.fileno(), listener.fileno())

    # The signal may come at any point of the run loop: past its check of
    # ``alive``, neither an accept nor a wait may go on.

    def accept(self, listener):
        if not self.alive:
            raise BlockingIOError(errno.EAGAIN, "stopping")
        try:
            super().accept(listener)
        except OSError as error:  # the listener was replaced meanwhile
            if self.alive:
                raise
            raise BlockingIOError(errno.EAGAIN, "stopping") from error

    def wait(self, timeout):
        if not self.alive:
            raise StopWaiting
        return super().wait(timeout)

    def handle(self, listener, client, address):
        super().handle(_Named(self._names[id(listener)]), client, address)

    def run(self):
        super().run()
        queued, self._queued = self._queued, []
        for listener, client, address in queued:
            client.setblocking(True)
            self.handle(listener, client, address)
