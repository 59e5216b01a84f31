import { describe, expect, it } from "vitest";
import { KeystrokeError } from "../../src/errors.js";
import { findJsonFault, parseJson } from "../../src/predict/index.js";

describe("findJsonFault", () => {
  it("finds nothing wrong in valid JSON", () => {
    for (const t of ['{"a":[1,-2.5e3,true,false,null,"x\\u00e9\\n"]}', " [ ] ", "0", '"s"']) {
      expect(findJsonFault(t), t).toBeNull();
      expect(() => JSON.parse(t)).not.toThrow();
    }
  });

  it("points at the first bad character, by line and column", () => {
    expect(findJsonFault('{"a":}')).toMatchObject({ offset: 5, line: 1, column: 6 });
    expect(findJsonFault('{\n  "a": 1,\n  "b" 2\n}')).toMatchObject({
      line: 3,
      column: 7,
      reason: expect.stringContaining("':'"),
    });
    expect(findJsonFault('{"a":1')).toMatchObject({ reason: "unexpected end of input" });
    expect(findJsonFault("{'a':1}")).toMatchObject({ column: 2 });
    expect(findJsonFault("[1,]")).toMatchObject({ column: 4 });
    expect(findJsonFault('{"a":1} x')).toMatchObject({ column: 9 });
    expect(findJsonFault("01")).toMatchObject({ column: 2 });
  });

  it("agrees with JSON.parse about validity on a set of broken texts", () => {
    for (const t of ["{", "[1 2]", '{"a":tru}', '"\\x"', "-", "1.", "1e", '{"a":1,}', "nul", '"\u0001"']) {
      expect(() => JSON.parse(t), t).toThrow();
      expect(findJsonFault(t), t).not.toBeNull();
    }
  });
});

describe("parseJson", () => {
  it("throws BAD_JSON with the line and column", () => {
    try {
      parseJson('{\n"HT": {"Mean": 1,, "STD": 2}}', { file: "req.json" });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(KeystrokeError);
      expect((e as KeystrokeError).code).toBe("BAD_JSON");
      expect((e as KeystrokeError).message).toMatch(/^req\.json:2: invalid JSON at column 18/);
    }
  });
});
