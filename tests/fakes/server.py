"""moto_server on 127.0.0.1 for clients in other processes (an installed ``dbscale`` script).

* :func:`moto_server`: start one (plain moto, or with the tests' moto shims) on a free port, yield its
  endpoint, stop it afterwards; the one way the tests start a server.
* ``python -m tests.fakes.server PORT``: the server with the shims installed (what ``shims=True`` runs).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def moto_server(*, shims: bool = False, start_timeout: float = 30.0) -> Iterator[str]:
    """A moto server process on a free port: its endpoint URL while the block runs.

    ``shims=False`` is moto as users run it (``python -m moto.server``); ``shims=True`` adds the
    tests' fakes that make moto as strict as AWS (:mod:`tests.fakes.moto_shims`, :mod:`.cloudformation`).
    """
    port = free_port()
    command = (
        [sys.executable, "-m", "tests.fakes.server", str(port)]
        if shims
        else [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    )
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    """Serve on the port given as the only argument, with the shims, until killed."""
    from moto.server import ThreadedMotoServer

    from .cloudformation import install_cloudformation_shims
    from .moto_shims import install_moto_shims

    install_moto_shims()
    install_cloudformation_shims()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
    server.start()
    try:
        server._thread.join()  # type: ignore[union-attr]
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
