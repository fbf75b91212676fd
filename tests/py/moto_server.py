"""Starts a moto server (local AWS endpoints) for Floe's integration tests.

    python tests/py/moto_server.py

Listens on 127.0.0.1 on a free port, prints exactly one line to stdout,
`moto listening on http://127.0.0.1:PORT`, and serves until SIGTERM/SIGINT or
until its stdin closes (so it dies with the test process that started it).

Two patches make moto behave like AWS where Floe relies on it:
- Glue `UpdateTable` with a `VersionId` that is not the table's current version
  fails with ConcurrentModificationException (stock moto ignores VersionId), so
  a Glue catalog's optimistic concurrency can be tested; with `SkipArchive` it
  keeps no copy of the previous version (stock moto ignores SkipArchive). When
  the file named by FLOE_MOTO_LOSE_UPDATE_TABLE exists, the next update is made
  and then answered with a 500, as if its answer were lost (the file is removed).
- SQS `ReceiveMessage` picks messages under a lock, so two concurrent receivers
  never get the same message (stock moto checks and marks them without one).
"""

import logging
import os
import signal
import sys
import threading
import time

from moto.core.exceptions import JsonRESTError
from moto.glue.responses import GlueResponse
from moto.server import ThreadedMotoServer
from moto.sqs.models import SQSBackend

# --- Glue: UpdateTable honours VersionId --------------------------------------
# moto.glue.models.FakeTable keeps every version in `versions` ({"1": input, ...})
# and the current one in `_current_version` (an int, bumped by `update`).
# GlueResponse.update_table reads DatabaseName and TableInput and calls
# backend.update_table, never looking at VersionId: check it first, under a lock
# so that two concurrent updates with the same VersionId cannot both pass.
_glue_lock = threading.Lock()
_update_table = GlueResponse.update_table


def _update_table_checked(self):
    version = self.parameters.get("VersionId")
    with _glue_lock:
        if version is not None:
            table = self.glue_backend.get_table(
                self.parameters.get("DatabaseName"), self.parameters["TableInput"]["Name"]
            )
            if str(version) != str(table._current_version):
                raise JsonRESTError(
                    "ConcurrentModificationException",
                    f"Update table failed due to concurrent modifications: VersionId "
                    f"{version} is not the current version {table._current_version}.",
                )
        answer = _update_table(self)
        lose = os.environ.get("FLOE_MOTO_LOSE_UPDATE_TABLE")
        if lose and os.path.exists(lose):
            # The update is done but its answer is lost, as on a dropped
            # connection: the SDK retries, and the retry meets the new VersionId.
            os.remove(lose)
            lost = JsonRESTError("InternalServiceException", "the answer was lost (test)")
            lost.code = 500
            raise lost
        if self.parameters.get("SkipArchive"):
            # As Glue does: the previous definition is not kept as a version.
            table = self.glue_backend.get_table(
                self.parameters.get("DatabaseName"), self.parameters["TableInput"]["Name"]
            )
            table.versions.pop(str(table._current_version - 1), None)
        return answer


GlueResponse.update_table = _update_table_checked

# --- SQS: one receiver at a time picks messages --------------------------------
# SQSBackend.receive_message checks `message.visible` and then marks the message
# received, with no lock between: under the threaded server two long polls can
# both take it. Run each pick with wait 0 under a lock, and long-poll outside it
# (Queue.wait_for_messages wakes on a send, or after at most a second).
_sqs_lock = threading.Lock()
_receive_message = SQSBackend.receive_message


def _receive_message_locked(self, queue_name, count, wait_seconds_timeout, *args, **kwargs):
    deadline = time.time() + wait_seconds_timeout
    while True:
        with _sqs_lock:
            got = _receive_message(self, queue_name, count, 0, *args, **kwargs)
        left = deadline - time.time()
        if got or left <= 0:
            return got
        self.get_queue(queue_name).wait_for_messages(min(1.0, left))


SQSBackend.receive_message = _receive_message_locked


def main() -> None:
    # werkzeug logs every request to stderr: keep only warnings and errors.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(f"moto listening on http://{host}:{port}", flush=True)

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())

    def watch_stdin() -> None:
        sys.stdin.read()  # returns at EOF: the parent closed it or died
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    done.wait()
    server.stop()


if __name__ == "__main__":
    main()
