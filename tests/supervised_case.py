"""A child for the supervisor's tests (tests/test_supervisor.py), run as `python -m tests.supervised_case MODE`.

oom      writes an error line as the runtime writes them, then allocates memory until the kernel kills it
signal   waits for SIGTERM and says so on stdout
"""

import signal
import sys
import time

mode = sys.argv[1]
if mode == "oom":
    sys.stderr.write("E1205 10:00:00.000000   123 x.cc:1] an error the runtime survives\n")
    sys.stderr.flush()
    hog = []
    while True:
        hog.append(bytearray(1 << 26))  # touched pages: 64 MiB a time
elif mode == "signal":
    got = []
    signal.signal(signal.SIGTERM, lambda s, _: got.append(s))
    deadline = time.time() + 60
    while not got and time.time() < deadline:
        time.sleep(0.01)
    print(f"got {signal.Signals(got[0]).name}" if got else "no signal", flush=True)
