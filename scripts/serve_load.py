#!/usr/bin/env python3
"""Load generator for `duquant serve` on loopback (standard library only): N concurrent clients, each sending
streaming /v1/completions requests one after another until the request count or the time bound is reached.
Prints one JSON object: aggregate generated tokens/s (all completion tokens / wall time from the first send
to the last end: prompt reading included), aggregate decode tokens/s (N × the streams' decode rate after their
first token: Σ (events − 1) / Σ (last event − first event), i.e. N / the mean inter-token latency), time to first
token and inter-token latency percentiles (ms; a stream event ≈ one token), errors. Usage: serve_load.py --port P --concurrency N [--requests R] [--prompt-words W] [--max-tokens D]
[--max-seconds S]"""
import argparse, http.client, json, threading, time


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--concurrency", type=int, required=True)
    ap.add_argument("--requests", type=int, default=0, help="total (default: 2 per client)")
    ap.add_argument("--prompt-words", type=int, default=24)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--max-seconds", type=float, default=120)
    a = ap.parse_args()
    total = a.requests or 2 * a.concurrency
    lock = threading.Lock()
    state = {"next": 0, "tokens": 0, "done": 0, "errors": 0, "ttft": [], "itl": [], "end": 0.0,
             "decode_events": 0, "decode_s": 0.0}
    t0 = time.monotonic()

    def client(ci):
        while True:
            with lock:
                if state["next"] >= total or time.monotonic() - t0 > a.max_seconds:
                    return
                i = state["next"]
                state["next"] += 1
            words = " ".join(f"w{(i * 7 + k) % 97}" for k in range(a.prompt_words))
            body = json.dumps({"prompt": f"Request {i}: {words}", "max_tokens": a.max_tokens, "temperature": 0,
                               "stream": True})
            try:
                conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=600)
                sent = time.monotonic()
                conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
                r = conn.getresponse()
                if r.status != 200:
                    raise RuntimeError(f"status {r.status}")
                first, last, usage, ttft, itl = None, None, 0, None, []
                for raw in r:
                    line = raw.decode().strip()
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    j = json.loads(line[6:])
                    now = time.monotonic()
                    if "usage" in j:
                        usage = j["usage"]["completion_tokens"]
                    if j["choices"][0].get("text"):
                        if first is None:
                            first = now
                            ttft = now - sent
                        else:
                            itl.append(now - last)
                        last = now
                conn.close()
                with lock:
                    state["tokens"] += usage
                    state["done"] += 1
                    if ttft is not None:
                        state["ttft"].append(ttft)
                    state["itl"].extend(itl)
                    state["decode_events"] += len(itl)
                    state["decode_s"] += sum(itl)
                    state["end"] = max(state["end"], time.monotonic())
            except Exception:  # noqa: BLE001 - counted, reported
                with lock:
                    state["errors"] += 1

    ts = [threading.Thread(target=client, args=(c,)) for c in range(a.concurrency)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = max(state["end"] - t0, 1e-9)
    ms = lambda x: None if x is None else round(1000 * x, 2)
    print(json.dumps({
        "concurrency": a.concurrency, "requests": state["done"], "errors": state["errors"],
        "completion_tokens": state["tokens"], "wall_s": round(wall, 3),
        "tokens_per_s": round(state["tokens"] / wall, 3),
        "decode_tokens_per_s": (round(a.concurrency * state["decode_events"] / state["decode_s"], 3)
                                if state["decode_s"] > 0 else None),
        "ttft_ms": {"p50": ms(pct(state["ttft"], 50)), "p99": ms(pct(state["ttft"], 99))},
        "itl_ms": {"p50": ms(pct(state["itl"], 50)), "p99": ms(pct(state["itl"], 99))},
    }))


if __name__ == "__main__":
    main()
