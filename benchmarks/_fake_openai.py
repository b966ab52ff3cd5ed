"""The fake OpenAI-compatible server the writer and automation benchmarks call through the real `openai` client.

It answers chat completions with an article that follows the prompt's outline at the prompt's target length
(or, for an image-prompt request, a featured and in-article image prompts) and image generations with a PNG,
each after a fixed `latency`, and counts the calls it answered.
"""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SENTENCE = "Good espresso starts with fresh beans and a careful grind every single time."


def _article(user: str) -> dict:
    """An article following the prompt's outline at the prompt's target length."""
    title = user.split("\n", 1)[0].removeprefix("Title: ")
    outline = re.search(r"Outline:\n(.*?)\nPrimary keyword:", user, re.S)
    headings = []
    for line in (outline.group(1).splitlines() if outline else []):
        match = re.match(r"\s*H([23]) (.+)", line)
        if match:
            headings.append((int(match.group(1)), match.group(2)))
    headings = headings or [(2, "Overview")]
    target = int(re.search(r"\(target (\d+)\)", user).group(1))
    per = max(1, target // len(headings) // len(SENTENCE.split()))
    body = "".join(f"<h{level}>{text}</h{level}><p>{' '.join([SENTENCE] * per)}</p>" for level, text in headings)
    return {"title": title, "meta_title": title[:60], "meta_description": f"All about {title}."[:160],
            "slug": "", "excerpt": f"A guide to {title}.", "body_html": body}


def _image_prompts(user: str) -> dict:
    title = user.split("\n", 1)[0].removeprefix("Title: ")
    headings = re.findall(r"^- (.+)$", user, re.M) or [""]
    count = int(re.search(r"exactly (\d+) in-article", user).group(1))
    image = {"prompt": f"A photo for {title}", "alt": f"Photo for {title}"[:300], "caption": "A photo"}
    return {"featured": image, "in_article": [{**image, "after_heading": headings[n % len(headings)]}
                                              for n in range(count)]}


_PNGS: dict[str, bytes] = {}


def _png(size: str) -> bytes:
    if size not in _PNGS:
        from PIL import Image

        width, height = (int(x) for x in size.split("x"))
        out = io.BytesIO()
        Image.new("RGB", (width, height), (150, 90, 40)).save(out, "PNG")
        _PNGS[size] = out.getvalue()
    return _PNGS[size]


def fake_openai(latency: float) -> tuple[ThreadingHTTPServer, dict]:
    """A threaded server answering chat completions and image generations after a fixed delay; counts calls."""
    calls = {"chat": 0, "images": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle's algorithm on, the body waits for the client's
        # delayed ACK of the headers (about 40 ms per answer), a stall of this server, not of the product.
        disable_nagle_algorithm = True

        def do_POST(self):  # noqa: N802 (http.server naming)
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            time.sleep(latency)
            if self.path.endswith("/images/generations"):
                with lock:
                    calls["images"] += 1
                answer = {"created": 0, "output_format": "png", "data": [
                    {"b64_json": base64.b64encode(_png(request.get("size", "1024x1024"))).decode()}]}
            else:
                with lock:
                    calls["chat"] += 1
                user = next(m["content"] for m in request["messages"] if m["role"] == "user")
                content = _image_prompts(user) if "after_heading" in user else _article(user)
                answer = {"id": "chatcmpl-bench", "object": "chat.completion", "created": 0,
                          "model": request["model"], "choices": [{"index": 0, "finish_reason": "stop", "message": {
                              "role": "assistant", "content": json.dumps(content)}}],
                          "usage": {"prompt_tokens": 900, "completion_tokens": 1200, "total_tokens": 2100}}
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, calls
