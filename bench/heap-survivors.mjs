// What a running server allocates that outlives young-generation collections: preload it with
// `NODE_OPTIONS="--import ./bench/heap-survivors.mjs"`, send SIGUSR2 to start V8's sampling heap profiler
// (objects a minor GC collects are left out; promoted objects that a major GC collects later are kept),
// and SIGUSR2 again to stop: the allocation sites, by their last four frames, are written to
// $HEAP_SURVIVORS_OUT (default heap-survivors.txt in the working directory), largest first.
//
//   NODE_OPTIONS="--import $PWD/bench/heap-survivors.mjs" node bin/keystroke-id.js serve … &
//   (load it with wrk) kill -USR2 PID; sleep 5; kill -USR2 PID
import { Session } from "node:inspector";
import { writeFileSync } from "node:fs";

const session = new Session();
session.connect();
let sampling = false;
process.on("SIGUSR2", () => {
  if (!sampling) {
    sampling = true;
    session.post("HeapProfiler.enable", () =>
      session.post("HeapProfiler.startSampling", {
        samplingInterval: 1024,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: false,
      }),
    );
    return;
  }
  sampling = false;
  session.post("HeapProfiler.stopSampling", (err, result) => {
    if (err) return;
    const bySite = new Map();
    const walk = (node, stack) => {
      const cf = node.callFrame;
      const frame = `${cf.functionName || "(anonymous)"} ${cf.url.split("/").slice(-2).join("/")}:${cf.lineNumber + 1}`;
      const here = [...stack, frame];
      if (node.selfSize) {
        const site = here.slice(-4).join(" < ");
        bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
      }
      for (const child of node.children) walk(child, here);
    };
    walk(result.profile.head, []);
    const total = [...bySite.values()].reduce((a, b) => a + b, 0);
    const lines = [...bySite]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 40)
      .map(([site, bytes]) => `${(bytes / 1e3).toFixed(0).padStart(8)} KB  ${site}`);
    writeFileSync(
      process.env.HEAP_SURVIVORS_OUT ?? "heap-survivors.txt",
      `sampled, outliving minor GCs: ${(total / 1e6).toFixed(1)} MB\n${lines.join("\n")}\n`,
    );
  });
});
