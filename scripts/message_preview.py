#!/usr/bin/env python3
"""A Slack message (Block Kit JSON, as sagealarm posts it) as an HTML page that looks like Slack's
client draws it: header, sections (mrkdwn: *bold*, `code`, ```blocks```, <url|links>, <!date…>),
fields, context lines, buttons, the uploaded chart. For the README's picture:

    python3 scripts/message_preview.py .demo/slack.jsonl out.html [--chart .demo/chart.png]
    chromium --headless --hide-scrollbars --window-size=760,1500 --screenshot=docs/slack-message.png out.html

Only the first message of the JSON-lines file is drawn. Text is HTML-escaped before any markup
is applied, so nothing in an alarm can inject HTML here either.
"""

import html
import json
import os
import re
import sys
import time


def mrkdwn(text):
    t = html.escape(text, quote=False)
    # Slack's own escapes come back as characters (html.escape made &gt; into &amp;gt;).
    t = t.replace("&amp;gt;", "&gt;").replace("&amp;lt;", "&lt;").replace("&amp;amp;", "&amp;")
    blocks = []

    def keep_pre(m):
        blocks.append(m.group(1))
        return f"\x00{len(blocks) - 1}\x00"

    t = re.sub(r"```(.*?)```", keep_pre, t, flags=re.S)
    t = re.sub(r"`([^`\n]+)`", r"<code>\1</code>", t)
    t = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"<b>\1</b>", t)
    t = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"<i>\1</i>", t)
    t = re.sub(r"&lt;!date\^\d+\^[^|]*\|([^&]*)&gt;", r"\1", t)
    t = re.sub(r"&lt;(https?://[^|&]*)\|([^&]*)&gt;", r'<a href="#">\2</a>', t)
    t = re.sub(r"&lt;@(U\w+)&gt;", r'<span class="mention">@\1</span>', t)
    t = t.replace("\n", "<br>")
    return re.sub(r"\x00(\d+)\x00", lambda m: f"<pre>{blocks[int(m.group(1))]}</pre>", t)


def block(b):
    kind = b.get("type")
    if kind == "header":
        return f'<div class="header">{html.escape(b["text"]["text"])}</div>'
    if kind == "section":
        out = ""
        if b.get("text"):
            out += f'<div class="section">{mrkdwn(b["text"]["text"])}</div>'
        if b.get("fields"):
            out += '<div class="fields">' + "".join(f"<div>{mrkdwn(f['text'])}</div>" for f in b["fields"]) + "</div>"
        return out
    if kind == "context":
        items = " ".join(mrkdwn(e.get("text", "")) for e in b.get("elements", []))
        return f'<div class="context">{items}</div>'
    if kind == "actions":
        buttons = "".join(
            f'<span class="button {e.get("style", "")}">{html.escape(e["text"]["text"])}</span>' for e in b.get("elements", []) if e.get("text")
        )
        return f'<div class="actions">{buttons}</div>'
    if kind == "divider":
        return "<hr>"
    return ""


STYLE = """
body { font-family: -apple-system, "Segoe UI", "Noto Sans", Lato, Helvetica, Arial, sans-serif; font-size: 15px;
       color: #1d1c1d; background: #fff; margin: 0; padding: 16px 20px; width: 720px; }
.who { display: flex; align-items: baseline; gap: 8px; margin-bottom: 4px; }
.who b { font-size: 15px; } .app { background: #e8e8e8; color: #616061; font-size: 10px; padding: 1px 3px; border-radius: 2px; }
.time { color: #616061; font-size: 12px; }
.avatar { float: left; width: 36px; height: 36px; border-radius: 4px; background: #2c7a7b; color: #fff; text-align: center;
          line-height: 36px; font-weight: 700; margin-right: 8px; }
.msg { margin-left: 44px; }
.header { font-size: 18px; font-weight: 700; margin: 4px 0 8px; }
.section { margin: 6px 0; line-height: 1.46; }
.fields { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 16px; margin: 8px 0; line-height: 1.4; }
.context { color: #616061; font-size: 12.5px; margin: 6px 0; }
pre { font-family: Monaco, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12px; background: #f8f8f8;
      border: 1px solid #e2e2e2; border-radius: 4px; padding: 8px; margin: 4px 0; white-space: pre-wrap; word-break: break-all; }
code { font-family: Monaco, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12px; color: #c01343;
       background: #f6f6f6; border: 1px solid #e2e2e2; border-radius: 3px; padding: 0 3px; }
.actions { margin: 8px 0; display: flex; flex-wrap: wrap; gap: 8px; }
.button { border: 1px solid #c7c7c7; border-radius: 4px; padding: 3px 12px; font-size: 13px; font-weight: 700; }
.button.primary { background: #007a5a; color: #fff; border-color: #007a5a; }
.mention { background: #e8f5fa; color: #1264a3; }
a { color: #1264a3; text-decoration: none; }
img.chart { max-width: 560px; border: 1px solid #e2e2e2; border-radius: 6px; margin-top: 6px; }
"""


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        msg = json.loads(f.readline())
    chart = sys.argv[sys.argv.index("--chart") + 1] if "--chart" in sys.argv else None
    body = "".join(block(b) for b in msg.get("blocks", []))
    if chart:
        # Absolute: the page may be written anywhere.
        body += f'<img class="chart" src="file://{html.escape(os.path.abspath(chart))}">'
    page = f"""<!doctype html><html><head><meta charset="utf-8"><style>{STYLE}</style></head><body>
<div class="avatar">sa</div><div class="msg"><div class="who"><b>sagealarm</b><span class="app">APP</span>
<span class="time">{time.strftime("%H:%M", time.gmtime())}</span></div>{body}</div></body></html>"""
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
