"""Run the stand-in OPA REST server (tests/opa_rest.py: OPA's Go engine behind OPA's REST API)
until SIGTERM, writing its URL to the file named on the command line.

There is no ``opa`` binary on these machines; this stands in for ``opa run --server`` in the
benchmark harness. It is a threaded stdlib HTTP/1.0 server (one request per connection), so its
figures are pessimistic for OPA itself: see bench/README.md.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.opa_rest import serve_opa_rest


def main(url_file: Path) -> None:
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with serve_opa_rest() as opa:
        url_file.write_text(opa.url)
        done.wait()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
