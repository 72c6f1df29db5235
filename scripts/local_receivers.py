#!/usr/bin/env python3
"""Local stand-ins for Slack's webhook and PagerDuty's Events API, on loopback only.

Answers like the real services (Slack: 200 "ok"; PagerDuty: 202 JSON) and appends every body it
receives, one JSON object per line, to OUT_DIR/<slack|pagerduty>.jsonl.
Usage: local_receivers.py PORT OUT_DIR
"""
import http.server
import json
import os
import sys

PORT = int(sys.argv[1])
OUT = sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        kind = "slack" if self.path.startswith("/slack") else "pagerduty"
        with open(os.path.join(OUT, kind + ".jsonl"), "ab") as f:
            f.write(json.dumps(json.loads(body)).encode() + b"\n")
        if kind == "slack":
            self.send_response(200)
            reply = b"ok"
        else:
            self.send_response(202)
            reply = b'{"status":"success","message":"Event processed"}'
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
