import { describe, expect, it } from "vitest";
import { parseWorkers, RateCounters } from "../../src/server/cluster.js";
import { availableParallelism } from "node:os";

describe("serve --workers helpers", () => {
  it("parses a worker count or auto, naming the flag otherwise", () => {
    expect(parseWorkers("2")).toBe(2);
    expect(parseWorkers("auto")).toBe(availableParallelism());
    for (const bad of ["0", "65", "-1", "two", "1.5", ""])
      expect(() => parseWorkers(bad)).toThrow(/flag --workers/);
  });

  it("counts requests per key in fixed windows, like the plugin's local store, and sweeps expired windows", () => {
    const c = new RateCounters();
    try {
      expect(c.incr("a", 1000, 0)).toEqual({ current: 1, ttl: 1000 });
      expect(c.incr("a", 1000, 400)).toEqual({ current: 2, ttl: 600 });
      expect(c.incr("b", 1000, 500)).toEqual({ current: 1, ttl: 1000 });
      // a new window starts once the old one is over
      expect(c.incr("a", 1000, 1000)).toEqual({ current: 1, ttl: 1000 });
      expect(c.size).toBe(2);
      c.sweep(1600);
      expect(c.size).toBe(1);
      c.sweep(2000);
      expect(c.size).toBe(0);
    } finally {
      c.stop();
    }
  });
});
