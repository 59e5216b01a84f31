import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { Server as NetServer, type Socket } from "node:net";

/** What a graceful close did, for the log line `serve` prints on SIGTERM. */
export interface DrainReport {
  /** Requests received (headers read) and not yet answered when the close began. */
  inFlight: number;
  /** How many of those were answered in full. */
  answered: number;
  /** Requests that arrived on already-open connections during the drain and were answered. */
  answeredWhileDraining: number;
  /** Requests whose connection closed before their answer was sent: the client went away, or the hard deadline passed. */
  cut: number;
  /** Idle keep-alive connections closed by the server. */
  idleClosed: number;
  /** Milliseconds from the start of the close to the last connection gone. */
  ms: number;
}

export interface DrainOptions {
  /** An idle keep-alive connection is closed once it has been quiet this long (its client has stopped sending). */
  quietMs?: number;
  /** Longest wait for connections to finish on their own before the HTTP framework closes the rest. */
  graceMs?: number;
  /** Past this, every connection still open is destroyed so that the process can exit. */
  forceAfterMs?: number;
}

export const DRAIN_DEFAULTS: Required<DrainOptions> = { quietMs: 300, graceMs: 5000, forceAfterMs: 10_000 };

/** Tracks an HTTP server's connections and requests so that its close loses no request it has read. */
export interface Drainer {
  /** Stops accepting, answers what was received, closes keep-alive connections cleanly, then runs `closeApp`. */
  drain(closeApp: () => Promise<void>, options?: DrainOptions): Promise<DrainReport>;
}

interface Conn {
  /** Its responses not yet closed, oldest first (more than one when a client pipelines). */
  inFlight: ServerResponse[];
  quietSince: number;
  bytesRead: number;
}

/** Takes `res` out of `list` (a connection's few responses in flight). */
function remove(list: ServerResponse[], res: ServerResponse): void {
  const i = list.indexOf(res);
  if (i >= 0) list.splice(i, 1);
}

/**
 * Starts tracking `server` (call before it listens). Node's own close() destroys every connection that has
 * no request in progress at that instant, which resets a keep-alive client whose next request is already on
 * the wire; the drain instead lets each connection carry one more request, answered with Connection: close.
 */
export function trackConnections(server: Server): Drainer {
  const conns = new Map<Socket, Conn>();
  // The responses in flight are kept per connection, in small arrays, not in one Set of every response. With
  // a Set that gained and lost a response per request, a served `/verify` fell, in most runs, into a state
  // where each young-generation collection promoted about a megabyte of requests and paused several times
  // longer; without it, in none (README, "What kept `/verify`'s requests alive"). Likely why: a Set rebuilds
  // its hash table as entries come and go, and a discarded table that V8 (Node 20) has moved to the old
  // generation keeps its successor, and the responses in it, alive until the next full collection.
  // Responses on a socket the server did not announce (tracking began after it listened) go in `untracked`.
  const untracked: ServerResponse[] = [];
  let draining = false;
  // the requests in flight when the drain began; the report counts them apart from later arrivals
  let atStart = new Set<ServerResponse>();
  let answeredWhileDraining = 0;
  let cut = 0;

  server.on("connection", (socket: Socket) => {
    conns.set(socket, { inFlight: [], quietSince: performance.now(), bytesRead: 0 });
    socket.once("close", () => conns.delete(socket));
  });
  // prepended so the response is tracked before the framework's handler can answer it
  server.prependListener("request", (req: IncomingMessage, res: ServerResponse) => {
    const conn = conns.get(req.socket);
    (conn ? conn.inFlight : untracked).push(res);
    if (draining) res.setHeader("connection", "close");
    res.once("close", () => {
      remove(conn ? conn.inFlight : untracked, res);
      if (conn) conn.quietSince = performance.now();
      if (draining && !atStart.has(res)) {
        if (res.writableFinished) answeredWhileDraining++;
        else cut++;
      }
    });
  });

  return {
    async drain(closeApp, options = {}) {
      const { quietMs, graceMs, forceAfterMs } = { ...DRAIN_DEFAULTS, ...options };
      const t0 = performance.now();
      if (!server.listening) {
        await closeApp();
        return {
          inFlight: 0,
          answered: 0,
          answeredWhileDraining: 0,
          cut: 0,
          idleClosed: 0,
          ms: performance.now() - t0,
        };
      }
      draining = true;
      atStart = new Set(untracked);
      for (const conn of conns.values()) for (const res of conn.inFlight) atStart.add(res);
      // each connection's newest answer is its last; closing after an older one would cut the requests a
      // client pipelined behind it, which the server has already read
      for (const res of untracked) if (!res.headersSent) res.setHeader("connection", "close");
      for (const conn of conns.values()) {
        const last = conn.inFlight[conn.inFlight.length - 1];
        if (last && !last.headersSent) last.setHeader("connection", "close");
      }
      // the net.Server close only stops accepting; http.Server's would also drop connections that look idle
      NetServer.prototype.close.call(server);
      const force = setTimeout(() => server.closeAllConnections(), forceAfterMs);
      force.unref();

      // every connection gets the whole quiet time from the start of the drain: one idle for long may have
      // its next request on the wire right now
      for (const [socket, conn] of conns) {
        conn.bytesRead = socket.bytesRead;
        conn.quietSince = Math.max(conn.quietSince, t0);
      }
      let idleClosed = 0;
      while (conns.size > 0 && performance.now() - t0 < graceMs) {
        await new Promise((r) => setTimeout(r, Math.min(10, quietMs)));
        // after the poll phase: a request already in the socket's buffer has been read by now
        await new Promise((r) => setImmediate(r));
        const now = performance.now();
        for (const [socket, conn] of conns) {
          // bytes read without a whole request yet (a slow client mid-headers) count as activity too
          if (socket.bytesRead !== conn.bytesRead) {
            conn.bytesRead = socket.bytesRead;
            conn.quietSince = now;
          } else if (conn.inFlight.length === 0 && now - conn.quietSince >= quietMs) {
            idleClosed++;
            socket.destroy();
            conns.delete(socket);
          }
        }
      }
      await closeApp();
      clearTimeout(force);
      const answered = [...atStart].filter((r) => r.writableFinished).length;
      return {
        inFlight: atStart.size,
        answered,
        answeredWhileDraining,
        cut: cut + atStart.size - answered,
        idleClosed,
        ms: performance.now() - t0,
      };
    },
  };
}
