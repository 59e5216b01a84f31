import { KeystrokeError } from "../errors.js";
import type { Layout } from "./types.js";

/** Names a label column may have, compared without regard to case. */
export const LABEL_COLUMNS: readonly string[] = ["UserID", "user", "subject"];

/** What the reader learned from the header, before any sample. */
export interface DatasetHeader {
  layout: Layout;
  /** The label column's name as written in the input (e.g. `UserID`); undefined when unlabelled. */
  labelColumn?: string;
  /** Keys per sample when the layout fixes it (wide, derived); undefined for events. */
  keys: number | undefined;
  /** Key names when the layout has them (derived). */
  keyNames?: string[];
}

/** Column positions of a wide header: press-i and release-i for every key i. */
export interface WidePlan {
  layout: "wide";
  label?: number;
  press: number[];
  release: number[];
}

/** Column positions of a derived (CMU) header: H per key, DD and optional UD per consecutive pair. */
export interface DerivedPlan {
  layout: "derived";
  label?: number;
  session?: number;
  rep?: number;
  keyNames: string[];
  hold: number[];
  dd: number[];
  /** -1 where the UD column is absent. */
  ud: number[];
}

/** Column positions of an events header. */
export interface EventsPlan {
  layout: "events";
  label?: number;
  sample: number;
  key: number;
  press: number;
  release: number;
}

export type ColumnPlan = WidePlan | DerivedPlan | EventsPlan;

/** A detected header: the public part and where each needed column sits. */
export interface DetectedHeader {
  header: DatasetHeader;
  plan: ColumnPlan;
  columns: string[];
}

const LAYOUT_HELP =
  "expected one of: wide (press-0,release-0,…,press-N,release-N and an optional UserID/user/subject column); " +
  "derived, as the CMU benchmark (subject,sessionIndex,rep,H.<key>,DD.<key>.<next>,UD.<key>.<next>,…, in seconds); " +
  "events (user,sample,key,press,release; `session` may stand for `sample`)";

/** Detects the layout from the header cells; throws BAD_HEADER naming the layouts when none fits. */
export function detectHeader(cells: readonly string[], file: string): DetectedHeader {
  const columns = cells.map((c) => c.trim());
  const lower = columns.map((c) => c.toLowerCase());
  const place = { file, line: 1 };
  const wide = lower.some((c) => /^press-\d+$/.test(c) || /^release-\d+$/.test(c));
  const derived = !wide && lower.some((c) => c.startsWith("h."));
  // A typed text repeats keys (`.xat17padn` has two a's), so the derived layout's timing columns may repeat:
  // they are read by position. Any other repeated column is an error.
  const dup = columns.find(
    (c, i) =>
      c !== "" && lower.indexOf(c.toLowerCase()) !== i && !(derived && isTimingColumn(c.toLowerCase())),
  );
  if (dup !== undefined)
    throw new KeystrokeError("BAD_HEADER", `column "${dup}" appears twice in the header`, place);

  if (wide) return detectWide(columns, lower, file);
  if (derived) return detectDerived(columns, lower, file);
  if (lower.includes("press") && lower.includes("release") && lower.includes("key"))
    return detectEvents(columns, lower, file);
  const shown = columns.slice(0, 8).join(",") + (columns.length > 8 ? ",…" : "");
  throw new KeystrokeError("BAD_HEADER", `unrecognised header "${shown}"; ${LAYOUT_HELP}`, place);
}

function isTimingColumn(lower: string): boolean {
  return lower.startsWith("h.") || lower.startsWith("dd.") || lower.startsWith("ud.");
}

function findLabel(lower: readonly string[]): number | undefined {
  const wanted = LABEL_COLUMNS.map((l) => l.toLowerCase());
  const i = lower.findIndex((c) => wanted.includes(c));
  return i < 0 ? undefined : i;
}

function detectWide(columns: string[], lower: string[], file: string): DetectedHeader {
  const press: number[] = [];
  const release: number[] = [];
  for (let i = 0; i < lower.length; i++) {
    const m = /^(press|release)-(\d+)$/.exec(lower[i]!);
    if (m) (m[1] === "press" ? press : release)[Number(m[2])] = i;
  }
  const n = Math.max(press.length, release.length);
  const missing: string[] = [];
  for (let k = 0; k < n; k++) {
    if (press[k] === undefined) missing.push(`press-${k}`);
    if (release[k] === undefined) missing.push(`release-${k}`);
  }
  if (missing.length) {
    throw new KeystrokeError(
      "BAD_HEADER",
      `wide layout lacks column(s) ${missing.slice(0, 6).join(", ")}${missing.length > 6 ? ", …" : ""}`,
      { file, line: 1 },
      {
        suggestion: "a wide header has press-i and release-i for every key i from 0 to N",
      },
    );
  }
  if (n < 2)
    throw new KeystrokeError(
      "BAD_HEADER",
      "wide layout needs at least 2 keys (press-0,release-0,press-1,release-1)",
      { file, line: 1 },
    );
  const label = findLabel(lower);
  return {
    header: { layout: "wide", keys: n, ...(label !== undefined ? { labelColumn: columns[label] } : {}) },
    plan: { layout: "wide", press, release, ...(label !== undefined ? { label } : {}) },
    columns,
  };
}

function detectDerived(columns: string[], lower: string[], file: string): DetectedHeader {
  const place = { file, line: 1 };
  const keyNames: string[] = [];
  const hold: number[] = [];
  columns.forEach((c, i) => {
    if (lower[i]!.startsWith("h.")) {
      keyNames.push(c.slice(2));
      hold.push(i);
    }
  });
  if (keyNames.length < 2)
    throw new KeystrokeError("BAD_HEADER", "derived layout needs H.<key> columns for at least 2 keys", place);
  // Key names may themselves hold dots (CMU's `Shift.r`), so pair columns are looked up by the name they must have.
  // A pair that occurs twice in the text (a repeated digraph) has two columns of that name: the j-th occurrence
  // of the pair takes the j-th such column, in header order.
  const byName = new Map<string, number[]>();
  lower.forEach((c, i) => {
    const list = byName.get(c);
    if (list) list.push(i);
    else byName.set(c, [i]);
  });
  const used = new Map<string, number>();
  const take = (name: string): number | undefined => {
    const j = used.get(name) ?? 0;
    used.set(name, j + 1);
    return byName.get(name)?.[j];
  };
  const dd: number[] = [];
  const ud: number[] = [];
  const missing: string[] = [];
  for (let k = 0; k + 1 < keyNames.length; k++) {
    const pair = `${keyNames[k]}.${keyNames[k + 1]}`;
    const d = take(`dd.${pair}`.toLowerCase());
    if (d === undefined) missing.push(`DD.${pair}`);
    else dd.push(d);
    ud.push(take(`ud.${pair}`.toLowerCase()) ?? -1);
  }
  // a timing column that no key or pair of the text claims is a misnamed or repeated column, not data to drop
  for (const [name, list] of byName) {
    if (!name.startsWith("dd.") && !name.startsWith("ud.")) continue;
    const taken = used.get(name) ?? 0;
    if (list.length > taken && taken > 0) {
      throw new KeystrokeError(
        "BAD_HEADER",
        `column "${columns[list[taken]!]}" appears ${list.length} times but the H.<key> columns make that pair ${taken} time(s)`,
        place,
      );
    }
  }
  if (missing.length) {
    throw new KeystrokeError(
      "BAD_HEADER",
      `derived layout lacks column(s) ${missing.slice(0, 6).join(", ")}${missing.length > 6 ? ", …" : ""}`,
      place,
      {
        suggestion:
          "each H.<key> must be followed by DD.<key>.<next> (press–press, seconds) for the next key in typing order",
      },
    );
  }
  const label = findLabel(lower);
  const session = lower.indexOf("sessionindex");
  const rep = lower.indexOf("rep");
  return {
    header: {
      layout: "derived",
      keys: keyNames.length,
      keyNames,
      ...(label !== undefined ? { labelColumn: columns[label] } : {}),
    },
    plan: {
      layout: "derived",
      keyNames,
      hold,
      dd,
      ud,
      ...(label !== undefined ? { label } : {}),
      ...(session >= 0 ? { session } : {}),
      ...(rep >= 0 ? { rep } : {}),
    },
    columns,
  };
}

function detectEvents(columns: string[], lower: string[], file: string): DetectedHeader {
  let sample = lower.indexOf("sample");
  if (sample < 0) sample = lower.indexOf("session");
  if (sample < 0) {
    throw new KeystrokeError(
      "BAD_HEADER",
      "events layout lacks a `sample` (or `session`) column",
      { file, line: 1 },
      { suggestion: "events header: user,sample,key,press,release" },
    );
  }
  const label = findLabel(lower);
  return {
    header: {
      layout: "events",
      keys: undefined,
      ...(label !== undefined ? { labelColumn: columns[label] } : {}),
    },
    plan: {
      layout: "events",
      sample,
      key: lower.indexOf("key"),
      press: lower.indexOf("press"),
      release: lower.indexOf("release"),
      ...(label !== undefined ? { label } : {}),
    },
    columns,
  };
}
