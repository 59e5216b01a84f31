import { describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseRequest, readRequests } from "../../src/predict/index.js";
import { ROOT } from "../helpers/cli.js";

const dir = resolve(ROOT, "fixtures");
const have = existsSync(resolve(dir, "requests.ndjson"));

describe.skipIf(!have)("the request fixtures", () => {
  it("each single-request fixture is a valid request of the expected kind", () => {
    const kinds: Record<string, string> = {
      "request-rf.json": "summary",
      "request-svm.json": "summary",
      "request-xgb.json": "summary",
      "request-timings.json": "timings",
      "request-keystrokes.json": "timings",
    };
    for (const [file, kind] of Object.entries(kinds)) {
      const input = readRequests(readFileSync(resolve(dir, file), "utf8"), file);
      expect(input.form, file).toBe("single");
      if (input.form === "single") expect(parseRequest(input.value).kind, file).toBe(kind);
    }
  });

  it("requests.ndjson reads as NDJSON, one request per line", () => {
    const text = readFileSync(resolve(dir, "requests.ndjson"), "utf8");
    const input = readRequests(text);
    expect(input.form).toBe("ndjson");
    if (input.form !== "ndjson") return;
    expect(input.lines).toHaveLength(text.split("\n").filter((l) => l.trim()).length);
    for (const l of input.lines) expect(l.error).toBeUndefined();
  });
});
