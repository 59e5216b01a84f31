import { describe, expect, it } from "vitest";
import { createRecorder, keyClass, type RecorderOptions } from "../../src/recorder/recorder.js";
import { parseRequest } from "../../src/predict/request.js";
import { readRecorderScript, scriptFromModule } from "../../src/recorder/script.js";
import { runInNewContext } from "node:vm";

/** A field made of Node's own EventTarget, driven with a clock the test sets. */
class Field extends EventTarget {
  value = "";
  constructor(readonly type = "text") {
    super();
  }
}

function setup(options: RecorderOptions = {}, type = "text") {
  const field = new Field(type);
  let t = 1000;
  const rec = createRecorder(field, { now: () => t, ...options });
  const fire = (type: string, props: Record<string, unknown> = {}) =>
    field.dispatchEvent(Object.assign(new Event(type), props));
  const code = (key: string) => (key.length === 1 ? `Key${key.toUpperCase()}` : key);
  const at = (ms: number) => {
    t = ms;
  };
  const down = (key: string, ms: number, extra: Record<string, unknown> = {}) => {
    at(ms);
    fire("keydown", { key, code: code(key), ...extra });
  };
  const up = (key: string, ms: number) => {
    at(ms);
    fire("keyup", { key, code: code(key) });
  };
  /** Types `text` with the given hold and gap, from `start`. */
  const type_ = (text: string, start: number, hold = 80, gap = 150) => {
    [...text].forEach((k, i) => {
      down(k, start + i * gap);
      up(k, start + i * gap + hold);
      field.value += k;
    });
  };
  return { field, rec, fire, down, up, type: type_ };
}

describe("createRecorder", () => {
  it("records press and release times in the exact form /verify accepts", () => {
    const { rec, type } = setup();
    type("abc", 1000);
    const s = rec.sample();
    expect(s).toEqual({
      keystrokes: [
        { key: "a", press: 1000, release: 1080 },
        { key: "b", press: 1150, release: 1230 },
        { key: "c", press: 1300, release: 1380 },
      ],
    });
    const req = parseRequest(JSON.parse(JSON.stringify(s)));
    expect(req).toEqual({
      kind: "timings",
      press: [1000, 1150, 1300],
      release: [1080, 1230, 1380],
      keys: ["a", "b", "c"],
    });
    expect(rec.quality()).toMatchObject({ usable: true, keys: 3, issues: [] });
  });

  it("keeps press order when keys are released out of order (rollover)", () => {
    const { rec, down, up } = setup();
    down("a", 100);
    down("b", 150);
    up("b", 200); // b released first
    up("a", 260);
    expect(rec.sample()!.keystrokes).toEqual([
      { key: "a", press: 100, release: 260 },
      { key: "b", press: 150, release: 200 },
    ]);
  });

  it("counts a held key once with its whole hold, ignoring auto-repeat", () => {
    const { rec, down, up } = setup();
    down("a", 100);
    down("a", 600, { repeat: true });
    down("a", 633, { repeat: true });
    up("a", 700);
    down("b", 800);
    up("b", 880);
    expect(rec.sample()!.keystrokes).toEqual([
      { key: "a", press: 100, release: 700 },
      { key: "b", press: 800, release: 880 },
    ]);
    expect(rec.quality()).toMatchObject({ usable: true, autoRepeats: 2 });
  });

  it("flags a paste and never records it as typing", () => {
    const { rec, type, fire, down } = setup();
    type("ab", 0);
    down("Control", 500);
    down("v", 520, { ctrlKey: true });
    fire("paste");
    expect(rec.quality()).toMatchObject({ usable: false, pasted: true, keys: 2 });
    expect(rec.quality().issues).toContain("paste");
    expect(rec.sample()).toBeNull();
    rec.reset();
    expect(rec.quality()).toMatchObject({ pasted: false, keys: 0, issues: ["too-few-keys"] });
  });

  it("backspace 'drop' (default): the attempt stays unusable until reset", () => {
    const { rec, type, down, up, field } = setup();
    type("abx", 0);
    down("Backspace", 600);
    up("Backspace", 650);
    field.value = "ab";
    type("c", 700);
    expect(rec.sample()).toBeNull();
    expect(rec.quality()).toMatchObject({ usable: false, corrections: 1, issues: ["corrected"] });
    rec.reset();
    type("ab", 2000);
    expect(rec.sample()!.keystrokes).toHaveLength(2);
  });

  it("backspace 'keep-last': after clearing the field the next clean attempt is recorded", () => {
    const { rec, type, down, fire, field } = setup({ backspace: "keep-last" });
    type("abx", 0);
    down("Backspace", 600);
    type("q", 700); // typed without clearing: not recorded, the attempt is spoilt
    expect(rec.sample()).toBeNull();
    expect(rec.quality().issues).toContain("corrected");
    field.value = "";
    fire("input");
    type("abc", 2000, 70, 120);
    expect(rec.sample()).toEqual({
      keystrokes: [
        { key: "a", press: 2000, release: 2070 },
        { key: "b", press: 2120, release: 2190 },
        { key: "c", press: 2240, release: 2310 },
      ],
    });
  });

  it("skips IME composition and keyCode 229 keys, and flags them", () => {
    const { rec, type, down, up, fire } = setup();
    type("ab", 0);
    down("Process", 400, { keyCode: 229 });
    up("Process", 450);
    fire("compositionstart");
    down("k", 500);
    up("k", 560);
    fire("compositionend");
    expect(rec.quality()).toMatchObject({ usable: false, composed: 2, keys: 2, issues: ["composition"] });
  });

  it("drops keys still held when focus leaves, and flags the attempt", () => {
    const { rec, type, down, up, fire } = setup();
    type("ab", 0);
    expect(rec.quality().usable).toBe(true);
    fire("blur"); // nothing held: no harm
    expect(rec.quality().usable).toBe(true);
    down("c", 500);
    expect(rec.quality().pending).toBe(1);
    fire("blur");
    up("c", 900); // the release happens elsewhere; if it arrives here it has no press
    expect(rec.quality()).toMatchObject({ usable: false, keys: 2, pending: 0, issues: ["focus-lost"] });
  });

  it("never records the characters of a password field unless asked", () => {
    const pw = setup({}, "password");
    pw.type("a1 ", 0);
    pw.down("Shift", 600);
    pw.up("Shift", 650);
    expect(pw.rec.sample()!.keystrokes.map((k) => k.key)).toEqual(["letter", "digit", "space", "shift"]);
    const codes = setup({ keys: "code" }, "password");
    codes.type("ab", 0);
    expect(codes.rec.sample()!.keystrokes.map((k) => k.key)).toEqual(["letter", "letter"]);
    const asked = setup({ keys: "key", recordPasswordKeys: true }, "password");
    asked.type("ab", 0);
    expect(asked.rec.sample()!.keystrokes.map((k) => k.key)).toEqual(["a", "b"]);
    const none = setup({ keys: "none" });
    none.type("ab", 0);
    expect(none.rec.sample()!.keystrokes[0]).toEqual({ press: 0, release: 80 });
  });

  it("emits 'sample' on the submit key, which is not recorded", () => {
    const { rec, type, down } = setup();
    const got: unknown[] = [];
    const off = rec.on("sample", (e) => got.push(e));
    type("ab", 0);
    down("Enter", 500);
    expect(got).toEqual([{ sample: rec.sample(), quality: rec.quality() }]);
    expect(rec.quality().keys).toBe(2);
    off();
    down("Enter", 900);
    expect(got).toHaveLength(1);
    expect(() => rec.on("other" as "sample", () => {})).toThrow(/unknown event/);
  });

  it("ignores shortcuts and navigation keys, and stops listening after destroy", () => {
    const { rec, type, down, up } = setup();
    down("Tab", 0);
    up("Tab", 10);
    down("ArrowLeft", 20);
    up("ArrowLeft", 30);
    type("ab", 100);
    expect(rec.quality().keys).toBe(2);
    rec.destroy();
    type("cd", 1000);
    expect(rec.quality().keys).toBe(2);
  });

  it("classes keys without revealing them", () => {
    expect(["x", "É", "7", "٣", " ", "!", "Shift", "Enter"].map(keyClass)).toEqual([
      "letter",
      "letter",
      "digit",
      "digit",
      "space",
      "symbol",
      "shift",
      "other",
    ]);
  });
});

describe("the <script> build", () => {
  it("defines KeystrokeRecorder.createRecorder from the compiled module (dist/ is built by the test setup)", async () => {
    const script = await readRecorderScript();
    const sandbox: Record<string, unknown> = {};
    sandbox.globalThis = sandbox;
    runInNewContext(script, sandbox);
    const g = sandbox.KeystrokeRecorder as { createRecorder: unknown; keyClass: (k: string) => string };
    expect(typeof g.createRecorder).toBe("function");
    expect(g.keyClass("a")).toBe("letter");
  });

  it("refuses a module it cannot wrap", () => {
    expect(() => scriptFromModule('import x from "y";\nexport function createRecorder() {}')).toThrow(
      /import or export/,
    );
    expect(() => scriptFromModule("export function other() {}")).toThrow(/no createRecorder/);
  });
});
