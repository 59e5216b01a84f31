import { afterEach, describe, expect, it } from "vitest";
import {
  Agent,
  createServer,
  request,
  type IncomingHttpHeaders,
  type RequestListener,
  type Server,
} from "node:http";
import { connect, type AddressInfo } from "node:net";
import { trackConnections, type Drainer } from "../../src/server/drain.js";

// The drain on a bare node:http server: what it answers, what it closes, and when it gives up.
interface Answer {
  status: number | string;
  headers: IncomingHttpHeaders;
}

const agents: Agent[] = [];
const servers: Server[] = [];
afterEach(() => {
  for (const a of agents.splice(0)) a.destroy();
  for (const s of servers.splice(0)) s.closeAllConnections();
});

async function serve(
  handler: RequestListener,
): Promise<{ server: Server; drainer: Drainer; port: number; close: () => Promise<void> }> {
  const server = createServer(handler);
  const drainer = trackConnections(server);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  // the second close sees the listener already shut: its error only says so
  const close = () => new Promise<void>((r) => server.close(() => r()));
  return { server, drainer, port: (server.address() as AddressInfo).port, close };
}

function get(port: number, agent: Agent, path = "/"): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path, agent }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on("error", (e: NodeJS.ErrnoException) => resolve({ status: e.code ?? e.message, headers: {} }));
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("trackConnections().drain", () => {
  it("answers the request in flight with Connection: close, then refuses new connections", async () => {
    const { drainer, port, close } = await serve((_req, res) => setTimeout(() => res.end("done"), 200));
    const agent = new Agent({ keepAlive: true });
    agents.push(agent);
    const pending = get(port, agent);
    await sleep(50);
    const report = await drainer.drain(close, { quietMs: 50 });
    const a = await pending;
    expect(a.status).toBe(200);
    expect(a.headers.connection).toBe("close");
    expect(report).toMatchObject({ inFlight: 1, answered: 1, cut: 0 });
    expect((await get(port, new Agent())).status).toBe("ECONNREFUSED");
  });

  it("lets a keep-alive connection carry its next request during the drain, and closes an idle one once quiet", async () => {
    const { drainer, port, close } = await serve((_req, res) => res.end("ok"));
    const busy = new Agent({ keepAlive: true, maxSockets: 1 });
    const idle = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(busy, idle);
    expect((await get(port, busy)).headers.connection).toBe("keep-alive");
    expect((await get(port, idle)).status).toBe(200);
    const draining = drainer.drain(close, { quietMs: 400, graceMs: 5000 });
    // sent on the already-open connection after the drain began, inside the quiet time
    const next = await get(port, busy);
    expect(next.status).toBe(200);
    expect(next.headers.connection).toBe("close");
    const report = await draining;
    expect(report).toMatchObject({ inFlight: 0, answeredWhileDraining: 1, idleClosed: 1, cut: 0 });
    expect(report.ms).toBeGreaterThanOrEqual(400);
    expect(report.ms).toBeLessThan(2000);
  });

  it("cuts a request that never ends at the hard deadline, and says so", async () => {
    const { drainer, port, close } = await serve(() => undefined);
    const agent = new Agent({ keepAlive: true });
    agents.push(agent);
    const pending = get(port, agent);
    await sleep(50);
    const report = await drainer.drain(close, { quietMs: 20, graceMs: 100, forceAfterMs: 300 });
    expect(report).toMatchObject({ inFlight: 1, answered: 0, cut: 1 });
    expect(report.ms).toBeGreaterThanOrEqual(290);
    expect((await pending).status).toBe("ECONNRESET");
  });

  it("counts every request in flight when it begins, two pipelined on one connection and one on another", async () => {
    const { drainer, port, close } = await serve((_req, res) => setTimeout(() => res.end("done"), 150));
    // two requests written at once on one socket: Node answers them in order, both in flight meanwhile
    const raw = connect(port, "127.0.0.1");
    let text = "";
    raw.setEncoding("utf8");
    raw.on("data", (d: string) => (text += d));
    const rawClosed = new Promise((r) => raw.on("close", r));
    raw.write("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    const agent = new Agent({ keepAlive: true });
    agents.push(agent);
    const other = get(port, agent);
    await sleep(50);
    const report = await drainer.drain(close, { quietMs: 50 });
    expect((await other).status).toBe(200);
    await rawClosed;
    expect(text.match(/HTTP\/1\.1 200/g)).toHaveLength(2);
    expect(report).toMatchObject({ inFlight: 3, answered: 3, cut: 0 });
  });

  it("only closes the app when the server never listened", async () => {
    const server = createServer();
    const drainer = trackConnections(server);
    let closed = 0;
    const report = await drainer.drain(async () => void closed++);
    expect(closed).toBe(1);
    expect(report).toMatchObject({ inFlight: 0, answered: 0, idleClosed: 0 });
  });
});
