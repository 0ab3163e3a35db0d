"""gunicorn settings for the probe's stack: a worker dies with its master (Linux)."""

import contextlib
import signal

from oms.gunicorn import json_errors

json_errors()  # as in production (gunicorn.conf.py): gunicorn's refusals in JSON


def post_fork(server, worker):
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(
            1, signal.SIGKILL
        )  # PR_SET_PDEATHSIG
