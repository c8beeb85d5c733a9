"""A real HTTP server on 127.0.0.1 that answers like the Narou novel API, with injectable faults."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

JST = dt.timezone(dt.timedelta(hours=9))
OF_CODES = {
    "t": "title", "n": "ncode", "w": "writer", "s": "story", "k": "keyword", "bg": "biggenre",
    "g": "genre", "gl": "general_lastup", "nt": "noveltype",
}
GENRES = {1: [101, 102], 2: [201, 202], 3: [301, 302, 303], 4: [401, 402, 403], 99: [9901]}
_HEADS = ["追放された", "転生した", "最弱の", "婚約破棄された", "辺境の", "元勇者の", "無自覚な",
          "引きこもりの", "没落した", "聖女ではない"]
_WHO = ["錬金術師", "令嬢", "魔王", "村人", "剣士", "薬師", "テイマー", "騎士団長", "魔導士", "料理人"]
_TAILS = ["は静かに暮らしたい", "、世界を救う", "の成り上がり", "ですが何か？", "は今日も働く",
          "と七つの鍵", "の気ままな旅", "〜なぜか最強でした〜", "は森で眠る", "の契約"]
_SENTENCES = ["ある日、{who}は見知らぬ森で目を覚ました。", "王都では不穏な噂が広がっていた。",
              "「もう遅い」と{who}は笑った。", "辺境の村には古い祠がある。",
              "{who}の手には一振りの剣だけが残された。", "空に二つ目の月が昇る夜、扉が開く。",
              "仲間と出会い、別れ、それでも歩き続ける。", "これは小さな魔法と大きな嘘の物語。"]
_KEYWORDS = ["異世界転生", "ファンタジー", "R15", "残酷な描写あり", "ほのぼの", "ざまぁ", "恋愛",
             "チート", "スローライフ", "冒険"]


def make_catalogue(size: int, seed: int = 7) -> list[dict[str, Any]]:
    """`size` made-up novels; a third are crowded into one month so slicing has to split there."""
    rng = random.Random(seed)
    start = int(dt.datetime(2012, 1, 1, tzinfo=JST).timestamp())
    end = int(dt.datetime(2024, 12, 31, tzinfo=JST).timestamp())
    burst = int(dt.datetime(2023, 6, 1, tzinfo=JST).timestamp())
    novels = []
    for i in range(1, size + 1):
        who = rng.choice(_WHO)
        title = rng.choice(_HEADS) + who + rng.choice(_TAILS)
        n_sent = rng.choice([0, 1, 2, 3, 5, 8])
        story = "".join(rng.choice(_SENTENCES).format(who=who) for _ in range(n_sent))
        if rng.random() < 0.2:
            story = "\u3000" + story.replace("。", "。\n", 1) + "\n※不定期更新です。https://example.com/x"
        lastup = rng.randint(burst, burst + 30 * 86400) if rng.random() < 0.34 else rng.randint(start, end)
        big = rng.choice(list(GENRES))
        ncode = f"N{i % 10000:04d}{chr(65 + (i // 10000) % 26)}{chr(65 + (i * 7) % 26)}"
        novels.append({
            "title": title, "ncode": ncode, "writer": f"作者{rng.randint(1, 500)}",
            "story": story, "keyword": " ".join(rng.sample(_KEYWORDS, rng.randint(1, 4))),
            "biggenre": big, "genre": rng.choice(GENRES[big]), "lastup": lastup,
            "general_lastup": dt.datetime.fromtimestamp(lastup, JST).strftime("%Y-%m-%d %H:%M:%S"),
            "noveltype": rng.choice([1, 2]),
        })
    return novels


def wire(data: Any) -> bytes:
    """The API's escaping: ASCII-only JSON with `/` written as `\\/`."""
    return json.dumps(data, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode()


@dataclass
class Fault:
    """What to do instead of a normal answer to one request.

    kind: "timeout" (sleep `seconds`, then answer), "500", "503", "429" (with Retry-After
        `retry_after` when set), "drop" (half the body, then close), "reset" (close before
        any answer), "truncated_gzip" (a gzip stream cut short, consistent Content-Length),
        "invalid_json" (a 200 HTML page).
    """

    kind: str
    seconds: float = 0.0
    retry_after: str | None = None


class ApiError(Exception):
    pass


@dataclass
class NarouApiDouble:
    """The server. `faults` maps a request number (1-based, all requests) to a Fault."""

    catalogue: list[dict[str, Any]]
    max_st: int = 2000
    max_lim: int = 500
    faults: dict[int, Fault] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/novelapi/api/"

    def start(self) -> NarouApiDouble:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

            def do_GET(self) -> None:
                double._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- the API ---------------------------------------------------------------------------
    def answer(self, params: dict[str, str]) -> list[dict[str, Any]]:
        if params.get("out") != "json":
            raise ApiError("out: only json is served by this double")
        lim = int(params.get("lim", "20"))
        st = int(params.get("st", "1"))
        if not 1 <= lim <= self.max_lim:
            raise ApiError(f"lim must be between 1 and {self.max_lim}")
        if not 1 <= st <= self.max_st:
            raise ApiError(f"st must be between 1 and {self.max_st}")
        rows = self.catalogue
        if "lastup" in params:
            lo, _, hi = params["lastup"].partition("-")
            a, b = int(lo), int(hi)
            rows = [r for r in rows if a <= r["lastup"] <= b]
        for key in ("genre", "biggenre"):
            if key in params:
                wanted = {int(v) for v in params[key].split("-")}
                rows = [r for r in rows if r[key] in wanted]
        order = params.get("order", "new")
        if order == "new":
            rows = sorted(rows, key=lambda r: (-r["lastup"], r["ncode"]))
        elif order == "old":
            rows = sorted(rows, key=lambda r: (r["lastup"], r["ncode"]))
        elif order == "ncodedesc":
            rows = sorted(rows, key=lambda r: r["ncode"], reverse=True)
        elif order == "lengthdesc":
            rows = sorted(rows, key=lambda r: (-len(r["story"]), r["ncode"]))
        else:
            raise ApiError(f"order {order!r} is not served by this double")
        fields = [OF_CODES[c] for c in params["of"].split("-") if c in OF_CODES] if "of" in params else None
        page = rows[st - 1 : st - 1 + lim]
        out: list[dict[str, Any]] = [{"allcount": len(rows)}]
        for r in page:
            out.append({k: r[k] for k in (fields or [k for k in r if k != "lastup"])})
        return out

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        with self._lock:
            number = len(self.requests) + 1
            params = {k: v[-1] for k, v in parse_qs(urlsplit(h.path).query).items()}
            self.requests.append(params)
            self.user_agents.append(h.headers.get("User-Agent", ""))
            fault = self.faults.get(number)
        if fault and fault.kind == "reset":
            h.connection.shutdown(socket.SHUT_RDWR)
            h.close_connection = True
            return
        if fault and fault.kind == "timeout":
            time.sleep(fault.seconds)
        if fault and fault.kind in {"500", "503", "429"}:
            body = b"<html><body>busy</body></html>"
            h.send_response(int(fault.kind))
            if fault.retry_after is not None:
                h.send_header("Retry-After", fault.retry_after)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return
        try:
            body = wire(self.answer(params))
        except (ApiError, ValueError) as exc:
            body = wire({"error": str(exc)})
            h.send_response(400)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return
        if fault and fault.kind == "invalid_json":
            body = b"<html><head><title>502 Bad Gateway</title></head></html>"
        if "gzip" in params and params["gzip"] != "0":
            body = gzip.compress(body, compresslevel=int(params["gzip"]))
        if fault and fault.kind == "truncated_gzip":
            body = body[: len(body) // 2]
        h.send_response(200)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if fault and fault.kind == "drop":
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            h.connection.shutdown(socket.SHUT_RDWR)
            h.close_connection = True
            return
        h.wfile.write(body)


@contextmanager
def running_double(size: int = 3000, **kwargs: Any) -> Iterator[NarouApiDouble]:
    """Start a double over a `size`-novel catalogue for the duration of a `with` block."""
    double = NarouApiDouble(make_catalogue(size), **kwargs).start()
    try:
        yield double
    finally:
        double.stop()


def main() -> None:
    """`python -m tests.core.narou_api_double [size] [port]`: serve a catalogue for manual tries."""
    import sys

    size = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    double = NarouApiDouble(make_catalogue(size))
    double.start()
    print(double.url, flush=True)
    try:
        threading.Event().wait()
    finally:
        double.stop()


if __name__ == "__main__":
    main()
