#!/usr/bin/env bash
# foreground-held: how long N concurrent foreground requests take when the
# mail server holds each message for DELAY. It shows how many sends one web
# process keeps in flight: N × DELAY when it sends one at a time, DELAY
# when it sends them all at once. Any server that speaks offload's HTTP API
# and takes --addr and --smtp can be measured, e.g.
#
#   scripts/foreground-held.sh ./offload serve --strategy foreground --loop node
#   scripts/foreground-held.sh node reference/node/1-foreground.js
#
# Environment: N (default 40), DELAY (default 200ms), OFFLOAD (the offload
# binary that runs the sink; default ./offload, built when missing).
set -euo pipefail
n=${N:-40}
delay=${DELAY:-200ms}
offload=${OFFLOAD:-./offload}
[ $# -gt 0 ] || { echo "usage: $0 SERVER-COMMAND... (it gets --addr and --smtp appended)" >&2; exit 2; }
[ -x "$offload" ] || go build -o "$offload" ./cmd/offload
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
smtp=127.0.0.1:$(port) sinkhttp=127.0.0.1:$(port) web=127.0.0.1:$(port)
log=$(mktemp -d)
"$offload" sink --addr "$smtp" --http "$sinkhttp" --delay "$delay" >"$log/sink.log" 2>&1 & sink=$!
"$@" --addr "$web" --smtp "$smtp" >"$log/web.log" 2>&1 & srv=$!
trap 'kill $srv $sink 2>/dev/null; wait 2>/dev/null; rm -rf "$log"' EXIT
for _ in $(seq 100); do
	curl -sf "http://$sinkhttp/stats" >/dev/null 2>&1 && curl -sf "http://$web/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done
# One process, one thread per request, all started together: spawning a
# curl per request would cost more than the wait being measured.
read -r took ok < <(python3 - "$web" "$n" "$$" <<'PY'
import sys, threading, time, urllib.request
web, n, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
codes, go = [], threading.Barrier(n + 1)
def post(i):
    req = urllib.request.Request(f"http://{web}/jobs", method="POST",
        data=b'{"to":"you@example.org","subject":"held","text":"hello"}',
        headers={"Content-Type": "application/json", "Idempotency-Key": f"held-{i}-{tag}"})
    go.wait()
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            codes.append(r.status)
    except Exception as e:
        codes.append(getattr(e, "code", 0))
threads = [threading.Thread(target=post, args=(i,)) for i in range(n)]
for t in threads: t.start()
go.wait(); start = time.monotonic()
for t in threads: t.join()
print(f"{time.monotonic() - start:.2f}", codes.count(200))
PY
)
printf '%d concurrent foreground requests, sink holding each mail %s: %s s, %d answered 200\n' "$n" "$delay" "$took" "$ok"
