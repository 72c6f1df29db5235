#!/usr/bin/env python3
"""Local stand-ins for Slack's webhook, Slack's Web API and PagerDuty's Events API, on loopback only.

Answers like the real services (webhook: 200 "ok"; Web API: 200 {"ok": true, "channel", "ts"},
or {"ok": false, "error": "not_authed"} without a bot token; PagerDuty: 202 JSON) and appends
every body it receives, one JSON object per line, to OUT_DIR/<slack|slack-api|pagerduty>.jsonl
(Web API lines: {"method", "body"}). The chart upload flow answers too (files.getUploadURLExternal,
the upload URL, files.completeUploadExternal); an uploaded PNG is saved as OUT_DIR/<file id>.png.
Usage: local_receivers.py PORT OUT_DIR
"""
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

PORT = int(sys.argv[1])
OUT = sys.argv[2]


LOCK = threading.Lock()
NEXT_TS = [int(time.time())]


def web_api(method, body, authorization):
    """chat.postMessage answers a new ts; chat.update the message's own; the file methods theirs."""
    if not authorization.startswith("Bearer xoxb-"):
        return {"ok": False, "error": "not_authed"}
    if method == "files.getUploadURLExternal":
        with LOCK:
            NEXT_TS[0] += 1
            file_id = "F%d" % NEXT_TS[0]
        return {"ok": True, "upload_url": "http://127.0.0.1:%d/upload/%s" % (PORT, file_id), "file_id": file_id}
    if method == "files.completeUploadExternal":
        return {"ok": True, "files": json.loads(body.get("files", "[]"))}
    if method == "chat.update":
        return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts")}
    with LOCK:
        NEXT_TS[0] += 1
        ts = "%d.000100" % NEXT_TS[0]
    return {"ok": True, "channel": body.get("channel"), "ts": ts}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path.startswith("/upload/"):
            file_id = os.path.basename(self.path)
            with open(os.path.join(OUT, file_id + ".png"), "wb") as f:
                f.write(body)
            with LOCK, open(os.path.join(OUT, "slack-api.jsonl"), "ab") as f:
                f.write(json.dumps({"method": "upload", "body": {"file_id": file_id, "bytes": len(body)}}).encode() + b"\n")
            reply = b"OK - %d" % len(body)
            self.send_response(200)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
            return
        if self.path.startswith("/api/"):
            method = self.path[len("/api/"):]
            if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                parsed = dict(urllib.parse.parse_qsl(body.decode()))
            else:
                parsed = json.loads(body)
            answer = web_api(method, parsed, self.headers.get("Authorization", ""))
            with LOCK, open(os.path.join(OUT, "slack-api.jsonl"), "ab") as f:
                f.write(json.dumps({"method": method, "body": parsed, "answer": answer}).encode() + b"\n")
            reply = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
            return
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
