// The ceilings bench:serve measures our routes against, in the same run with the same wrk settings:
// a fastify hello-world (the framework's own ceiling: parse the JSON body, answer a small object) and
// a raw node:http server doing the same. Each runs in its own process, like `keystroke-id serve`.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./lib.mjs";

const FASTIFY = `
const fastify = require(${JSON.stringify(join(ROOT, "node_modules", "fastify"))})({ logger: false });
fastify.post("/predict", async () => ({ hello: "world" }));
fastify.listen({ port: 0, host: "127.0.0.1" }).then((a) => console.error("listening on " + a));
`;
const RAW = `
const http = require("node:http");
const s = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    JSON.parse(Buffer.concat(chunks).toString() || "{}");
    const body = JSON.stringify({ hello: "world" });
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
});
s.listen(0, "127.0.0.1", () => console.error("listening on http://127.0.0.1:" + s.address().port));
`;

/**
 * Controls: the fastify hello-world with `us` µs of pure computation per request (a spin on the clock),
 * so a route's ratio can be read against what that much work alone costs on this machine.
 */
export function spinningHello(us) {
  return `
const fastify = require(${JSON.stringify(join(ROOT, "node_modules", "fastify"))})({ logger: false });
fastify.post("/predict", async () => {
  const until = performance.now() + ${us / 1000};
  while (performance.now() < until);
  return { hello: "world" };
});
fastify.listen({ port: 0, host: "127.0.0.1" }).then((a) => console.error("listening on " + a));
`;
}

/** Work per request of the controls, µs: about our RF model's share of a served request, and three times it. */
export const CONTROL_SPINS_US = [20, 60];

/** The two ceiling servers: name and script. */
export const CEILINGS = [
  ["fastify hello-world", FASTIFY],
  ["raw node:http", RAW],
];

/** Starts one ceiling server; resolves with { child, url } once it listens. */
export function startCeiling(script) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => {
      err += d;
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) resolve({ child, url: m[1] });
    });
    child.on("exit", (code) => reject(new Error(`ceiling server exited (${code}): ${err}`)));
  });
}
