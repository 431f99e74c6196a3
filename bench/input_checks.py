"""Benchmark: what the per-frame defences cost on /ws (issue 7.5/7.6).

Per client frame the server now takes a token from the connection's bucket and parses with
``loads_checked`` (depth and lone-surrogate walk) before pydantic. Prints microseconds per
frame for typical frames, plain ``json.loads`` beside them, the full parse, the bucket, and
how fast a 60 KB nested-array frame is refused.

    python bench/input_checks.py --seconds 1
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "server"))

from simultan.core.ratelimit import Rate, take  # noqa: E402
from simultan.errors import ProtocolError  # noqa: E402
from simultan.protocol.messages import loads_checked, parse_client_message  # noqa: E402
from simultan.ratelimit import Throttle  # noqa: E402

FRAMES = {
    "raise_hand": json.dumps({"type": "raise_hand", "raised": True, "request_id": "r12"}),
    "booth_chat (ja, 300 chars)": json.dumps(
        {"type": "booth_chat", "booth": "ja", "text": "通訳ブースのメモです。" * 30, "request_id": "r9"},
        ensure_ascii=False,
    ),
    "timeline reorder (40 ids)": json.dumps(
        {"type": "timeline", "action": "reorder", "base_version": 7,
         "order": [f"item-{n}" for n in range(40)], "request_id": "r3"}
    ),
}  # fmt: skip
NESTED = "[" * 30_000 + "]" * 30_000


def per_call_us(fn: Callable[[], object], seconds: float) -> float:
    n, start = 0, time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(200):
            fn()
        n += 200
    return (time.perf_counter() - start) / n * 1e6


def refuse_nested() -> None:
    try:
        parse_client_message(NESTED)
    except ProtocolError:
        return
    raise AssertionError("nested frame was accepted")


def main() -> int:
    args = argparse.ArgumentParser()
    args.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    seconds = args.parse_args().seconds
    print(f"python {platform.python_version()}, {seconds:.1f} s per figure")
    print(f"{'frame':32} {'json.loads':>11} {'checked':>9} {'full parse':>11}  (µs/frame)")
    for name, text in FRAMES.items():
        plain = per_call_us(lambda t=text: json.loads(t), seconds)
        checked = per_call_us(lambda t=text: loads_checked(t), seconds)
        full = per_call_us(lambda t=text: parse_client_message(t), seconds)
        print(f"{name:32} {plain:11.2f} {checked:9.2f} {full:11.2f}")
    rate = Rate(10.0, 40)
    state = {"bucket": None, "now": 0.0}

    def pure_take() -> None:
        state["now"] += 0.2  # always refilled: the admitted path
        state["bucket"], _ = take(state["bucket"], rate, state["now"])  # type: ignore[arg-type]

    throttle = Throttle(Rate(1e9, 10**9), "messages")
    print(f"bucket take (pure core): {per_call_us(pure_take, seconds):.2f} µs")
    print(
        f"Throttle.check (driver, monotonic clock): {per_call_us(throttle.check, seconds):.2f} µs"
    )
    print(f"60 KB nested frame refused in {per_call_us(refuse_nested, seconds) / 1000:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
