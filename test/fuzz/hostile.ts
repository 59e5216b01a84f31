import fc from "fast-check";
import { extractSummary } from "../../src/features/index.js";
import { createRng } from "../../src/util/random.js";
import { KEYS, syntheticSample } from "../server/trained.js";

// Hostile request bodies for the fuzz tests. Requests are built as a small JSON syntax tree rather than
// as JS objects, because the interesting inputs are ones JSON.stringify cannot produce: own `__proto__`
// keys, duplicate keys, 1e999, lone surrogates, thousands of nesting levels.

/** JSON text spliced in as is. */
export class Raw {
  constructor(readonly text: string) {}
}
/** An object as an ordered list of entries, so keys may repeat and may be `__proto__`. */
export class Obj {
  constructor(readonly entries: Array<[string, Node]>) {}
}
export type Node = null | boolean | number | string | Raw | Obj | Node[];

/** The JSON text of a tree. */
export function render(n: Node): string {
  if (n instanceof Raw) return n.text;
  if (n instanceof Obj)
    return `{${n.entries.map(([k, v]) => `${JSON.stringify(k)}:${render(v)}`).join(",")}}`;
  if (Array.isArray(n)) return `[${n.map(render).join(",")}]`;
  // JSON.stringify writes NaN and ±Infinity as null; keep them hostile instead
  if (typeof n === "number" && !Number.isFinite(n))
    return Number.isNaN(n) ? "NaN" : n > 0 ? "1e999" : "-1e999";
  return JSON.stringify(n);
}

const obj = (o: Record<string, Node>): Obj => new Obj(Object.entries(o));

/** Literal JSON tokens JSON.stringify would never write (and some invalid ones, which must be a 400 too). */
export const RAW_TOKENS = [
  "1e999",
  "-1e999",
  "1e308",
  "-1e308",
  "1.7976931348623157e308",
  "5e-324",
  "-0",
  "1e-400",
  "123456789012345678901234567890",
  "9007199254740993",
  '"\\ud800"',
  '"\\udfff\\ud800"',
  '"\ud800"',
  '"\\u0000"',
  '"\u202eRTL\u202c"',
  '"\uFEFF12"',
  '"1e999"',
  '"12"',
  '" 12 "',
  '"0x1F"',
  '"Infinity"',
  '"NaN"',
  '{"__proto__":{"polluted":"yes"}}',
  '{"constructor":{"prototype":{"polluted":"yes"}}}',
  '{"prototype":{"polluted":"yes"}}',
  '{"__proto__":[]}',
  "NaN",
  "Infinity",
  "-Infinity",
  "undefined",
  "01",
  "1.",
  ".5",
  "+1",
  "0x10",
  "'single'",
  "[1,]",
  '{"a":1,}',
];

const HOSTILE_KEYS = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "press",
  "release",
  "keystrokes",
  "key",
  "Model",
  "HT",
  "PPT",
  "RRT",
  "RPT",
  "Mean",
  "STD",
  "UserID",
  "",
  "\u0000",
  "\ud800",
  "\u202e",
];

const HOSTILE_STRINGS = [
  "",
  "0",
  "12.5",
  " 7",
  "1e3",
  "NaN",
  "Infinity",
  "-1",
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "rf",
  "XGB",
  "svm ",
  "\u202eRTL",
  "a\u0000b",
  "\ud800",
  "\udc00x",
  "😀",
  "é",
  "\uFEFF1",
];

/** `[[[…]]]` or `{"a":{"a":…}}` this many levels deep. */
export function deep(depth: number, kind: "array" | "object"): Raw {
  return kind === "array"
    ? new Raw("[".repeat(depth) + "]".repeat(depth))
    : new Raw('{"a":'.repeat(depth) + "1" + "}".repeat(depth));
}

/** An array of `n` keys' worth of numbers (ascending, so only the count is wrong). */
export function longArray(n: number, step = 1): Raw {
  let s = "[";
  for (let i = 0; i < n; i++) s += (i ? "," : "") + i * step;
  return new Raw(s + "]");
}

/** Values that replace a field: wrong types, odd numbers and strings, raw tokens, deep and long things. */
export const hostileValue: fc.Arbitrary<Node> = fc.oneof(
  { arbitrary: fc.constantFrom<Node>(null, true, false, [], new Obj([]), ...HOSTILE_STRINGS), weight: 4 },
  { arbitrary: fc.constantFrom(...RAW_TOKENS).map((t) => new Raw(t)), weight: 4 },
  { arbitrary: fc.double(), weight: 2 },
  { arbitrary: fc.integer(), weight: 1 },
  { arbitrary: fc.string({ unit: "binary", maxLength: 24 }), weight: 1 },
  { arbitrary: fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { maxLength: 8 }), weight: 1 },
  {
    arbitrary: fc
      .tuple(fc.constantFrom(2, 100, 513, 3000), fc.constantFrom<"array" | "object">("array", "object"))
      .map(([d, k]) => deep(d, k)),
    weight: 1,
  },
  { arbitrary: fc.constantFrom(10_000, 4097, 4096).map((n) => longArray(n)), weight: 1 },
);

export const hostileKey: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...HOSTILE_KEYS), weight: 4 },
  { arbitrary: fc.string({ unit: "binary", maxLength: 12 }), weight: 1 },
);

/** A claimed user: mostly enrolled ones (1…4), else unknown, odd or hostile ids. */
export const claim: fc.Arbitrary<Node> = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 4 }), weight: 6 },
  {
    arbitrary: fc.constantFrom<Node>(
      "1",
      "2",
      " 1",
      "1.0",
      "01",
      99,
      -1,
      0,
      "__proto__",
      "constructor",
      "toString",
      "hasOwnProperty",
      "",
      "\ud800",
      new Raw("1e999"),
      new Raw("1e308"),
      new Raw("-0"),
      null,
      [],
      new Obj([]),
    ),
    weight: 3,
  },
  { arbitrary: fc.string({ unit: "binary", maxLength: 300 }), weight: 1 },
);

const MODELS: Node[] = ["RF", "SVM", "XGB", "rf", "svm", "xgb"];

/** A valid request of one of the three forms (contract summary, press/release, keystrokes), for user 1…4. */
export const validRequest: fc.Arbitrary<Obj> = fc
  .record({
    form: fc.constantFrom("summary", "arrays", "keystrokes"),
    user: fc.integer({ min: 1, max: 4 }),
    seed: fc.integer({ min: 1, max: 1_000_000 }),
    keys: fc.oneof(
      { arbitrary: fc.constant(KEYS), weight: 4 },
      { arbitrary: fc.integer({ min: 2, max: 30 }), weight: 1 },
    ),
    model: fc.option(fc.constantFrom(...MODELS), { nil: undefined }),
  })
  .map(({ form, user, seed, keys, model }) => {
    const s = syntheticSample(user, createRng(seed), keys);
    const head: Record<string, Node> = model === undefined ? {} : { Model: model };
    if (form === "summary") {
      const v = extractSummary(s);
      const part = (i: number) => obj({ Mean: v[2 * i]!, STD: v[2 * i + 1]! });
      return obj({ ...head, HT: part(0), PPT: part(1), RRT: part(2), RPT: part(3) });
    }
    if (form === "arrays") return obj({ ...head, press: s.press, release: s.release });
    return obj({
      ...head,
      keystrokes: s.press.map((p, i) =>
        obj({ key: "abcdefghijklmnopqrstuvwxyz0123"[i % 30]!, press: p, release: s.release[i]! }),
      ),
    });
  });

/** A valid verification request: raw timings of KEYS keys plus a claim. */
export const validVerify: fc.Arbitrary<Obj> = fc
  .record({
    user: fc.integer({ min: 1, max: 4 }),
    seed: fc.integer({ min: 1, max: 1_000_000 }),
    claim,
    asKeystrokes: fc.boolean(),
  })
  .map(({ user, seed, claim, asKeystrokes }) => {
    const s = syntheticSample(user, createRng(seed));
    const body: Array<[string, Node]> = asKeystrokes
      ? [["keystrokes", s.press.map((p, i) => obj({ press: p, release: s.release[i]! }))]]
      : [
          ["press", s.press],
          ["release", s.release],
        ];
    return new Obj([...body, ["UserID", claim]]);
  });

/** One change to a tree, applied at the `at`-th node (mod the node count). */
export type Mutation =
  | { op: "replace"; at: number; value: Node }
  | { op: "delete"; at: number }
  | { op: "add"; at: number; key: string; value: Node }
  | { op: "wrap"; at: number; inArray: boolean }
  | { op: "numeric-string"; at: number }
  | { op: "scale"; at: number; by: number };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  {
    arbitrary: fc.record({ op: fc.constant("replace" as const), at: fc.nat(), value: hostileValue }),
    weight: 5,
  },
  { arbitrary: fc.record({ op: fc.constant("delete" as const), at: fc.nat() }), weight: 2 },
  {
    arbitrary: fc.record({
      op: fc.constant("add" as const),
      at: fc.nat(),
      key: hostileKey,
      value: hostileValue,
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({ op: fc.constant("wrap" as const), at: fc.nat(), inArray: fc.boolean() }),
    weight: 1,
  },
  { arbitrary: fc.record({ op: fc.constant("numeric-string" as const), at: fc.nat() }), weight: 2 },
  {
    arbitrary: fc.record({
      op: fc.constant("scale" as const),
      at: fc.nat(),
      by: fc.constantFrom(1e300, -1, 1e15, 1e12, 1e9, 1e-300, 0.5, 2 ** 53, -1e308),
    }),
    weight: 2,
  },
);

interface Slot {
  get(): Node;
  set(n: Node): void;
  remove(): void;
}

function slots(root: { v: Node }): Slot[] {
  const out: Slot[] = [];
  const walk = (get: () => Node, set: (n: Node) => void, remove: () => void) => {
    out.push({ get, set, remove });
    const n = get();
    if (n instanceof Obj) {
      n.entries.forEach((e) => {
        walk(
          () => e[1],
          (x) => (e[1] = x),
          () => {
            const i = n.entries.indexOf(e);
            if (i >= 0) n.entries.splice(i, 1);
          },
        );
      });
    } else if (Array.isArray(n)) {
      n.forEach((_, i) => {
        walk(
          () => n[i]!,
          (x) => (n[i] = x),
          () => n.splice(i, 1),
        );
      });
    }
  };
  walk(
    () => root.v,
    (x) => (root.v = x),
    () => (root.v = null),
  );
  return out;
}

function clone(n: Node): Node {
  if (n instanceof Obj) return new Obj(n.entries.map(([k, v]) => [k, clone(v)]));
  if (Array.isArray(n)) return n.map(clone);
  return n;
}

/** Applies the mutations in order to a copy of the tree. */
export function mutate(tree: Node, mutations: readonly Mutation[]): Node {
  const root = { v: clone(tree) };
  for (const m of mutations) {
    const all = slots(root);
    const s = all[m.at % all.length]!;
    const cur = s.get();
    switch (m.op) {
      // values are copied in: fast-check hands out the same constant objects again, and later mutations must not grow them
      case "replace":
        s.set(clone(m.value));
        break;
      case "delete":
        s.remove();
        break;
      case "add":
        if (cur instanceof Obj) cur.entries.push([m.key, clone(m.value)]);
        else if (Array.isArray(cur)) cur.push(clone(m.value));
        else s.set(new Obj([[m.key, clone(m.value)]]));
        break;
      case "wrap":
        s.set(m.inArray ? [cur] : new Obj([["value", cur]]));
        break;
      case "numeric-string":
        if (typeof cur === "number") s.set(String(cur));
        break;
      case "scale":
        if (typeof cur === "number") s.set(cur * m.by);
        break;
    }
  }
  return root.v;
}

/** Text damage: cut it short, drop, insert or swap characters, or splice in a raw token. */
export type TextDamage =
  | { op: "truncate"; at: number }
  | { op: "insert"; at: number; text: string }
  | { op: "drop"; at: number; n: number }
  | { op: "splice"; at: number; token: string };

export const textDamage: fc.Arbitrary<TextDamage> = fc.oneof(
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    op: fc.constant("insert" as const),
    at: fc.nat(),
    text: fc.oneof(
      fc.constantFrom(
        ",",
        "]",
        "}",
        "[",
        "{",
        '"',
        "\\",
        "\n",
        "\u0000",
        "\ud800",
        "\u2028",
        ":",
        "-",
        "e",
        "9".repeat(400),
      ),
      fc.string({ unit: "binary", maxLength: 4 }),
    ),
  }),
  fc.record({ op: fc.constant("drop" as const), at: fc.nat(), n: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ op: fc.constant("splice" as const), at: fc.nat(), token: fc.constantFrom(...RAW_TOKENS) }),
);

/** Applies text damage at positions taken mod the text's length. */
export function damage(text: string, ds: readonly TextDamage[]): string {
  let t = text;
  for (const d of ds) {
    const at = t.length === 0 ? 0 : d.at % t.length;
    if (d.op === "truncate") t = t.slice(0, at);
    else if (d.op === "insert") t = t.slice(0, at) + d.text + t.slice(at);
    else if (d.op === "drop") t = t.slice(0, at) + t.slice(at + d.n);
    else t = t.slice(0, at) + d.token + t.slice(at);
  }
  return t;
}

/** Content types a client might send; only the JSON ones (and NDJSON) are accepted. */
export const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { arbitrary: fc.constant("application/json"), weight: 6 },
  {
    arbitrary: fc.constantFrom(
      undefined,
      "application/json; charset=utf-8",
      "application/JSON",
      "Application/Json ; charset=UTF-8",
      "application/json; charset=latin1",
      "application/json; charset=utf-16",
      "application/x-ndjson",
      "application/json, text/plain",
      "application/jsonx",
      "text/json",
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=xyz",
      "application/octet-stream",
      "",
      ";",
      "application/",
      "*/*",
      "application/json;;;",
      'application/json; charset="utf-8"',
    ),
    weight: 3,
  },
);

/** Query strings for /predict: ?top in and out of range, repeated, odd encodings, prototype keys. */
export const query: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constant(""), weight: 6 },
  {
    arbitrary: fc.constantFrom(
      "?top=1",
      "?top=3",
      "?top=1000",
      "?top=1001",
      "?top=0",
      "?top=-1",
      "?top=1e3",
      "?top=2.5",
      "?top=abc",
      "?top=",
      "?top=1&top=2",
      "?top[]=1",
      "?top=%00",
      "?top=%E0%A4%A",
      "?%ZZ=1",
      "?__proto__=1",
      "?__proto__[polluted]=yes",
      "?constructor[prototype][polluted]=yes",
      "?top=9999999999999999999999",
      "?top=Infinity",
      "?top=NaN",
      "?top=%F0%9F%98%80",
      "?" + "a=1&".repeat(2000),
    ),
    weight: 3,
  },
  {
    arbitrary: fc.string({ unit: "grapheme-ascii", maxLength: 30 }).map((s) => "?" + encodeURIComponent(s)),
    weight: 1,
  },
);
