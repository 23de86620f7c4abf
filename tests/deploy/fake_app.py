"""A stand-in for `streamlit run streamlit_app.py` in the supervisor's tests (tests/deploy): starts in
a blink, takes the same --server.port / --server.address options, answers /_stcore/health with
"ok", grows by 150 MB on /grow, keeps /hold open (a byte every 0.2 s, like a tab's websocket) until the client goes, and says
which port answered anything else; FAKE_APP_START_DELAY_S delays its start. When the file named by FAKE_APP_CRASH_FILE exists it writes a
line and exits 3 at once (a process that keeps crashing)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

GROWN: list[bytes] = []
PORT: list[int] = []


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        if self.path == "/grow":
            GROWN.append(b"x" * (150 * 1024 * 1024))  # written, so resident
        if self.path == "/hold":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b".")
                    self.wfile.flush()
                    time.sleep(0.2)  # a long-lived connection, like a tab's websocket
            except OSError:
                return
        body = b"ok" if self.path == "/_stcore/health" else f"fake app on {PORT[0]}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server.port", dest="port", type=int, required=True)
    parser.add_argument("--server.address", dest="address", default="127.0.0.1")
    args = parser.parse_args()
    crash = os.environ.get("FAKE_APP_CRASH_FILE")
    if crash and Path(crash).exists():
        print(f"boom: told to crash by {crash}", flush=True)
        sys.exit(3)
    PORT.append(args.port)
    time.sleep(float(os.environ.get("FAKE_APP_START_DELAY_S", "0")))  # a slow start (model loading)
    server = ThreadingHTTPServer((args.address, args.port), Handler)
    server.daemon_threads = True
    print(f"fake app listening on {args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
