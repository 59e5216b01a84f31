import { describe, expect, it, vi } from "vitest";

describe("importing the library", () => {
  it("prints nothing and does not exit", async () => {
    const out = vi.spyOn(process.stdout, "write");
    const err = vi.spyOn(process.stderr, "write");
    const exit = vi.spyOn(process, "exit");
    const lib = await import("../src/index.js");
    expect(Object.keys(lib).length).toBeGreaterThan(0);
    expect(out).not.toHaveBeenCalled();
    expect(err).not.toHaveBeenCalled();
    expect(exit).not.toHaveBeenCalled();
  });
});
