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
