"""A stand-in Kubernetes API server for the CNI end-to-end test, started inside the test's node
network namespace: GET of an object path answers the object from a JSON file ({path: object}),
re-read on every request so the test can delete a pod; a missing object answers 404 with a
Status object, a wrong bearer token 401, as the real API server does. Every request path is
appended to a log file, so the test can tell which calls needed the API."""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.kube import failure_status


def make_handler(objects: Path, token: str, log: Path):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server hook
            path = self.path.split("?", 1)[0]
            with log.open("a") as out:
                out.write(path + "\n")
            if self.headers.get("Authorization") != f"Bearer {token}":
                self.answer(401, failure_status(401, "Unauthorized", "Unauthorized"))
                return
            found = json.loads(objects.read_text()).get(path)
            if found is None:
                parts = path.rstrip("/").split("/")
                self.answer(404, failure_status(404, "NotFound", f'{parts[-2]} "{parts[-1]}" not found'))
                return
            self.answer(200, found)

        def answer(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args):  # noqa: A002 - the http.server signature
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--objects", type=Path, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--ready", type=Path, required=True)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.objects, args.token, args.log))
    args.ready.write_text("ready\n")
    server.serve_forever()


if __name__ == "__main__":
    main()
