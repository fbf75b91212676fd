"""moto for deploy/compose.yaml: S3, SQS and Glue on 0.0.0.0:5000.

Imports tests/py/moto_server.py (mounted next to this file) for its two patches —
Glue UpdateTable honours VersionId (stock moto ignores it, so two workers committing
to one table at once could silently lose a commit) and SQS ReceiveMessage picks
under a lock (stock moto can hand one message to two receivers) — then serves on
all interfaces of the container until SIGTERM/SIGINT.
"""

import logging
import signal
import threading

import moto_server  # noqa: F401  (applies the patches on import)
from moto.server import ThreadedMotoServer


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="0.0.0.0", port=5000, verbose=False)
    server.start()
    print("moto listening on http://0.0.0.0:5000", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    server.stop()


if __name__ == "__main__":
    main()
