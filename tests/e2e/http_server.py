#!/usr/bin/env python3
"""A small HTTP server for the fetch tests (tests/e2e/test_fetch.sh).

    http_server.py ROOT PORTFILE LOGFILE [--drop NAME] [--no-range NAME]

Serves the files under ROOT on 127.0.0.1 (port chosen by the OS, written to
PORTFILE once listening). Supports "Range: bytes=N-" (206 with
Content-Range), answers 404 for missing files and 416 for a range past the
end. --drop NAME: the first GET of /NAME sends the headers with the full
length, then about half the body, then closes the connection (an
interrupted transfer). --no-range NAME: /NAME ignores Range (always 200).
Every request is logged to LOGFILE as "PATH RANGE-HEADER-OR-NONE STATUS".
"""
import http.server
import os
import sys


def main():
    root, portfile, logfile = sys.argv[1:4]
    drop, norange = set(), set()
    args = sys.argv[4:]
    for i in range(0, len(args), 2):
        (drop if args[i] == "--drop" else norange).add(args[i + 1])
    dropped = set()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def log(self, status):
            with open(logfile, "a") as f:
                f.write("%s %s %d\n" % (self.path, self.headers.get("Range", "none").replace(" ", ""), status))

        def do_GET(self):
            name = self.path.lstrip("/")
            path = os.path.join(root, name)
            if "/" in name or not os.path.isfile(path):
                self.log(404)
                body = b"not found\n"
                self.send_response(404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            data = open(path, "rb").read()
            start = 0
            rng = self.headers.get("Range")
            if rng and name not in norange:
                assert rng.startswith("bytes=") and rng.endswith("-"), rng
                start = int(rng[6:-1])
                if start >= len(data):
                    self.log(416)
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % len(data))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.log(206)
                self.send_response(206)
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
            else:
                self.log(200)
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            if name in drop and name not in dropped:
                dropped.add(name)
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # clients that hang up (the tests make them) are not errors

    srv = Server(("127.0.0.1", 0), Handler)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()


if __name__ == "__main__":
    main()
