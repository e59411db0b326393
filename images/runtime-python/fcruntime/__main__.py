import signal
import sys

from .server import serve


def _stop(signum, frame):
    sys.exit(0)


signal.signal(signal.SIGTERM, _stop)
serve()
