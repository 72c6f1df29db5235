#!/usr/bin/env python3
"""Prints a Slack Block Kit message as a person would read it, plus a Block Kit Builder link."""
import html
import json
import re
import sys
import urllib.parse


def human(s):
    """What Slack would display: our date tokens by their fallback, entities decoded."""
    return html.unescape(re.sub(r"<!date\^\d+\^[^|]*\|([^>]*)>", r"\1", s))


for line in open(sys.argv[1]):
    msg = json.loads(line)
    print("─" * 78)
    print("notification text:", human(msg.get("text", "")))
    print("─" * 78)
    for b in msg.get("blocks", []):
        t = b.get("type")
        if t == "header":
            print("\033[1m" + b["text"]["text"] + "\033[0m")
        elif t == "section":
            if "text" in b:
                print(human(b["text"]["text"]))
            for f in b.get("fields", []):
                print("  " + human(f["text"]).replace("\n", ": ", 1))
        elif t == "context":
            for e in b["elements"]:
                print("  \033[2m" + human(e.get("text", "")) + "\033[0m")
        elif t == "actions":
            print("  buttons: " + " | ".join(e["text"]["text"] for e in b["elements"]))
        print()
    builder = "https://app.slack.com/block-kit-builder/#" + urllib.parse.quote(json.dumps({"blocks": msg["blocks"]}))
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as f:
            f.write(builder + "\n")
        print("Block Kit Builder link (%d chars) written to %s — open it to see the message as Slack draws it" % (len(builder), sys.argv[2]))
    else:
        print("Block Kit Builder: %s" % builder)
