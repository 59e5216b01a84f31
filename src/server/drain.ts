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
  active: number;
  quietSince: number;
  bytesRead: number;
}

/**
 * Starts tracking `server` (call before it listens). Node's own close() destroys every connection that has
 * no request in progress at that instant, which resets a keep-alive client whose next request is already on
 * the wire; the drain instead lets each connection carry one more request, answered with Connection: close.
 */
export function trackConnections(server: Server): Drainer {
  const conns = new Map<Socket, Conn>();
  const responses = new Set<ServerResponse>();
  let draining = false;
  // the requests in flight when the drain began; the report counts them apart from later arrivals
  let atStart = new Set<ServerResponse>();
  let answeredWhileDraining = 0;
  let cut = 0;

  server.on("connection", (socket: Socket) => {
    conns.set(socket, { active: 0, quietSince: performance.now(), bytesRead: 0 });
    socket.once("close", () => conns.delete(socket));
  });
  // prepended so the response is tracked before the framework's handler can answer it
  server.prependListener("request", (req: IncomingMessage, res: ServerResponse) => {
    const conn = conns.get(req.socket);
    if (conn) conn.active++;
    responses.add(res);
    if (draining) res.setHeader("connection", "close");
    res.once("close", () => {
      responses.delete(res);
      if (conn) {
        conn.active--;
        conn.quietSince = performance.now();
      }
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
      atStart = new Set(responses);
      // these answers are the last on their connections
      for (const res of atStart) if (!res.headersSent) res.setHeader("connection", "close");
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
          } else if (conn.active === 0 && now - conn.quietSince >= quietMs) {
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
