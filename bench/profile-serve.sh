#!/usr/bin/env bash
# Where a served request's CPU goes: `perf record` on a running `keystroke-id serve` (started with
# --perf-basic-prof so JIT-compiled JavaScript has names) while wrk sends one route's requests, then the
# samples summed by owner: the model's own code, the rest of ours, fastify, prom-client, Node's JavaScript,
# V8 built-ins, other native code and the kernel (socket writes and TCP on loopback); and V8's garbage
# collections during the same seconds (--trace-gc): how many, and their pauses.
#
#   npm run build && bash bench/profile-serve.sh MODELS_DIR BODY_FILE [ROUTE] [SECONDS]
#
# MODELS_DIR: a models directory (bench/servers.mjs trainSummaryModels writes one); BODY_FILE: the request
# body (an original-contract body for /predict). ROUTE: predict (default) or verify (then pass --store S in
# KID_SERVE_FLAGS and a verification body; bench/wrk-verify.lua varies it per request). Needs perf and wrk.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: bash bench/profile-serve.sh MODELS_DIR BODY_FILE [predict|verify] [SECONDS]" >&2
  exit 2
fi
models=$1
body=$2
route=${3:-predict}
secs=${4:-6}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
script=$root/../shared/anchors/wrk-post.lua
[ "$route" = verify ] && script=$here/wrk-verify.lua
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
port=$((20000 + RANDOM % 20000))
# shellcheck disable=SC2086
node --perf-basic-prof --trace-gc "$root/bin/keystroke-id.js" serve --models-dir "$models" --port "$port" \
  --no-watch --log-level warn ${KID_SERVE_FLAGS:-} >"$tmp/gc.txt" 2>"$tmp/serve.err" &
pid=$!
for _ in $(seq 50); do grep -q "listening on" "$tmp/serve.err" && break; sleep 0.2; done
url=http://127.0.0.1:$port/$route
# warm-up, so the profile holds optimised code only
BODY_FILE=$body wrk -t1 -c16 -d2s -s "$script" "$url" >/dev/null
gc_from=$(wc -l <"$tmp/gc.txt")
perf record -F 2999 -g -p "$pid" -o "$tmp/perf.data" -- sleep "$secs" 2>/dev/null &
rec=$!
BODY_FILE=$body wrk -t1 -c16 -d"${secs}s" -s "$script" "$url" | grep -E "Requests/sec"
wait "$rec" || true
# the GC lines of the measured seconds: "... ms: Scavenge 54.6 (72.5) -> 40.0 (73.0) MB, 2.63 / 0.69 ms ..."
tail -n +"$((gc_from + 1))" "$tmp/gc.txt" | awk -v secs="$secs" '
  / ms: (Scavenge|Mark-Compact|Mark-sweep)/ {
    kind = ($0 ~ / ms: Scavenge/) ? "scavenge" : "mark-compact"
    if (match($0, /MB, [0-9.]+ \/ [0-9.]+ ms/)) { split(substr($0, RSTART + 4, RLENGTH - 4), a, " "); p = a[1] + 0 } else p = 0
    n[kind]++; sum[kind] += p; if (p > mx[kind]) mx[kind] = p }
  END { printf "garbage collections in the %s s measured (pause ms: main-thread time, as V8 prints it):\n", secs
    for (k in n) printf "  %-12s %5d, %.1f per s, pause mean %.2f ms, max %.2f ms, %.1f%% of the time\n", k, n[k], n[k] / secs, sum[k] / n[k], mx[k], sum[k] / (secs * 10) }'
perf report -i "$tmp/perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null | grep "%" >"$tmp/flat.txt"
echo "share of the server's sampled CPU, by owner:"
awk '{ p = $1; sub("%", "", p); k = $2; $1 = ""; $2 = ""; s = $0; c = "other native (libc, libuv, node C++)"
  if (k == "[k]") c = "kernel (socket writes, TCP on loopback)"
  else if (s ~ /dist\/models\//) c = "model code (dist/models)"
  else if (s ~ /\/dist\//) c = "the rest of ours (dist/)"
  else if (s ~ /node_modules\/(fastify|find-my-way|fast-json-stringify|avvio|@fastify)/) c = "fastify"
  else if (s ~ /prom-client/) c = "prom-client"
  else if (s ~ /sqlite3/) c = "SQLite (better-sqlite3)"
  else if (s ~ /JS:.*node:/) c = "Node (JavaScript)"
  else if (s ~ /Builtins_|v8::|Json/) c = "V8 built-ins, IC stubs, GC"
  sum[c] += p }
  END { for (c in sum) printf "%6.1f%%  %s\n", sum[c], c }' "$tmp/flat.txt" | sort -rn
echo "top symbols:"
awk '{ $NF = ""; $(NF - 1) = ""; print }' "$tmp/flat.txt" | head -12 | cut -c1-140
