// The container's HEALTHCHECK: exits 0 when GET /health on this host answers 2xx within 2 s, else 1.
const port = process.env.PORT ?? "8000";
const url = `http://127.0.0.1:${port}/health`;
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  process.exitCode = res.ok ? 0 : 1;
  if (!res.ok) process.stderr.write(`${url}: HTTP ${res.status}\n`);
} catch (e) {
  process.stderr.write(`${url}: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
