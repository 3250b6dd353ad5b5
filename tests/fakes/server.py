"""``python -m tests.fakes.server PORT``: moto_server on 127.0.0.1 with the tests' moto shims installed,
for clients in other processes (an installed ``dbscale`` script) that need moto as strict as AWS."""

from __future__ import annotations

import sys

from moto.server import ThreadedMotoServer

from .cloudformation import install_cloudformation_shims
from .moto_shims import install_moto_shims


def main() -> None:
    """Serve on the port given as the only argument until killed."""
    install_moto_shims()
    install_cloudformation_shims()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
    server.start()
    print("ready", flush=True)
    try:
        server._thread.join()  # type: ignore[union-attr]
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
