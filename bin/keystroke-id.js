#!/usr/bin/env node
import cluster from "node:cluster";
import { main } from "../dist/cli.js";

main(process.argv).then((code) => {
  process.exitCode = code;
  // a `serve --workers` worker: the IPC channel to the primary would keep the process alive once done
  if (cluster.isWorker) cluster.worker.disconnect();
});
