/**
 * keystroke-id/recorder: records key press and release times in an <input> or <textarea> and gives them in
 * the exact JSON that POST /predict, /verify, /enroll and /auto/:id accept.
 *
 * Dependency-free and self-contained: this one file is the browser ES module, and (wrapped by
 * src/recorder/script.ts) the single-file script that defines the global `KeystrokeRecorder`. It imports
 * nothing at run time and uses only structural types, so it also compiles and runs under Node (the unit
 * tests drive it with Node's own EventTarget).
 */

/** One recorded keystroke: times in ms on the `performance.now()` clock. */
export interface RecordedKeystroke {
  key?: string;
  press: number;
  release: number;
}

/** The raw-timings request body the server accepts. */
export interface KeystrokeSample {
  keystrokes: RecordedKeystroke[];
}

/** What the `key` field holds: the character (`key`), the physical key (`code`), a coarse class, or nothing. */
export type KeyNaming = "key" | "code" | "class" | "none";

/** What a correction (Backspace or Delete) does to the attempt. */
export type BackspacePolicy = "drop" | "keep-last";

/** Options of createRecorder; every one has a default. */
export interface RecorderOptions {
  /**
   * What `key` holds. Default: `"key"` for ordinary fields and `"class"` for password fields; a password
   * field gets `"key"` or `"code"` only with `recordPasswordKeys: true`.
   */
  keys?: KeyNaming;
  /** Allow `keys: "key"` or `"code"` on a password field (default false: classes only). */
  recordPasswordKeys?: boolean;
  /**
   * `"drop"` (default): a correction makes the attempt unusable until reset(). `"keep-last"`: a correction
   * discards the attempt, and once the field is empty again the next clean attempt is recorded.
   */
  backspace?: BackspacePolicy;
  /** The key that ends an attempt and emits `sample` (not recorded); null: none. Default "Enter". */
  submitKey?: string | null;
  /** Fewest keystrokes of a usable sample (default 2, the server's minimum). */
  minKeys?: number;
  /** The clock, in ms; default: the event's own timeStamp (same clock as performance.now()), else performance.now(). */
  now?: () => number;
}

/** Why a sample is not usable, or what happened while it was typed. */
export type QualityIssue = "too-few-keys" | "paste" | "corrected" | "composition" | "focus-lost";

/** How trustworthy the current sample is. */
export interface RecorderQuality {
  /** The sample can be sent: sample() returns it. */
  usable: boolean;
  /** Keystrokes in the sample. */
  keys: number;
  /** Everything that makes it unusable (empty when usable). */
  issues: QualityIssue[];
  /** Text was pasted or dropped into the field (never recorded as typing). */
  pasted: boolean;
  /** Auto-repeat events ignored (a held key counts once, with its whole hold time). */
  autoRepeats: number;
  /** Corrections (Backspace/Delete) in this attempt. */
  corrections: number;
  /** Keys skipped because they came through IME composition or a virtual keyboard (keyCode 229). */
  composed: number;
  /** Keys still held down (not in the sample until released). */
  pending: number;
}

/** The `sample` event's payload: the sample (null when unusable) and its quality. */
export interface SampleEvent {
  sample: KeystrokeSample | null;
  quality: RecorderQuality;
}

/** A recorder attached to one field. */
export interface KeystrokeRecorder {
  /** The current attempt as the server's JSON, or null when quality().usable is false. */
  sample(): KeystrokeSample | null;
  /** Forgets everything recorded; the next key starts a new attempt. */
  reset(): void;
  /** The current attempt's quality. */
  quality(): RecorderQuality;
  /** Calls `listener` when an attempt ends (submit key); returns a function that unsubscribes. */
  on(event: "sample", listener: (e: SampleEvent) => void): () => void;
  /** Removes every listener from the field. */
  destroy(): void;
}

/** The parts of a KeyboardEvent the recorder reads. */
interface KeyEventLike {
  key?: string;
  code?: string;
  keyCode?: number;
  repeat?: boolean;
  isComposing?: boolean;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
  timeStamp?: number;
  preventDefault?(): void;
}

/** The parts of an <input> or <textarea> the recorder uses. */
export interface FieldLike {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- DOM and Node EventTargets type their listeners differently
  addEventListener(type: string, listener: (event: any) => void): void;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  removeEventListener(type: string, listener: (event: any) => void): void;
  value?: string;
  type?: string;
}

/** Keys that never count as typing: navigation, focus and shortcut modifiers. */
const IGNORED_KEYS = new Set([
  "Tab",
  "Escape",
  "Control",
  "Meta",
  "Alt",
  "AltGraph",
  "OS",
  "ArrowLeft",
  "ArrowRight",
  "ArrowUp",
  "ArrowDown",
  "Home",
  "End",
  "PageUp",
  "PageDown",
  "CapsLock",
  "NumLock",
  "ScrollLock",
  "ContextMenu",
  "Unidentified",
  "Process",
  "Dead",
]);
const CORRECTION_KEYS = new Set(["Backspace", "Delete"]);

/** The coarse class of a key: enough for the features (which use only times), never the character. */
export function keyClass(key: string): string {
  if (key === " ") return "space";
  if (key === "Shift") return "shift";
  if (key.length === 1) {
    if (/\p{L}/u.test(key)) return "letter";
    if (/\p{N}/u.test(key)) return "digit";
    return "symbol";
  }
  return "other";
}

interface Pending {
  id: string;
  key: string;
  code: string;
  press: number;
}

/** Attaches a recorder to an input or textarea; see RecorderOptions for the rules it follows. */
export function createRecorder(element: FieldLike, options: RecorderOptions = {}): KeystrokeRecorder {
  if (!element || typeof element.addEventListener !== "function")
    throw new TypeError("createRecorder needs an input or textarea element");
  const isPassword = String(element.type ?? "").toLowerCase() === "password";
  let naming: KeyNaming = options.keys ?? (isPassword ? "class" : "key");
  if (isPassword && !options.recordPasswordKeys && (naming === "key" || naming === "code")) naming = "class";
  const policy: BackspacePolicy = options.backspace ?? "drop";
  const submitKey = options.submitKey === undefined ? "Enter" : options.submitKey;
  const minKeys = Math.max(2, options.minKeys ?? 2);
  const clock = options.now;
  const perf = (globalThis as { performance?: { now(): number } }).performance;
  const timeOf = (e: KeyEventLike): number => {
    if (clock) return clock();
    if (typeof e.timeStamp === "number" && Number.isFinite(e.timeStamp) && e.timeStamp > 0)
      return e.timeStamp;
    return perf ? perf.now() : Date.now();
  };

  let done: RecordedKeystroke[] = [];
  let pending = new Map<string, Pending>();
  let pasted = false;
  let autoRepeats = 0;
  let corrections = 0;
  let composed = 0;
  let composing = false;
  let focusLost = false;
  /** keep-last: a correction spoilt this attempt; the next one starts when the field is empty. */
  let waitingForEmpty = false;
  const listeners: Array<(e: SampleEvent) => void> = [];

  const clear = () => {
    done = [];
    pending = new Map();
    pasted = false;
    autoRepeats = 0;
    corrections = 0;
    composed = 0;
    focusLost = false;
    waitingForEmpty = false;
  };

  const nameOf = (p: Pending): string | undefined => {
    if (naming === "none") return undefined;
    if (naming === "code") return p.code || keyClass(p.key);
    if (naming === "class") return keyClass(p.key);
    return p.key;
  };

  const onKeyDown = (e: KeyEventLike) => {
    const key = e.key ?? "";
    if (composing || e.isComposing || e.keyCode === 229) {
      composed++;
      return;
    }
    if (submitKey !== null && key === submitKey) {
      emit();
      return;
    }
    if (CORRECTION_KEYS.has(key)) {
      corrections++;
      if (policy === "keep-last") {
        done = [];
        pending = new Map();
        waitingForEmpty = true;
      }
      return;
    }
    if (IGNORED_KEYS.has(key) || e.ctrlKey || e.metaKey) return;
    if (waitingForEmpty) return;
    const id = e.code || key;
    if (e.repeat || pending.has(id)) {
      autoRepeats++;
      return;
    }
    pending.set(id, { id, key, code: e.code ?? "", press: timeOf(e) });
  };

  const onKeyUp = (e: KeyEventLike) => {
    const id = e.code || e.key || "";
    const p = pending.get(id);
    // a key pressed before the field had focus, or skipped at keydown, has no press here: nothing to record
    if (!p) return;
    pending.delete(id);
    const release = Math.max(p.press, timeOf(e));
    const name = nameOf(p);
    const k: RecordedKeystroke =
      name === undefined
        ? { press: round(p.press), release: round(release) }
        : { key: name, press: round(p.press), release: round(release) };
    // keys released out of order still go in press order (the server requires it)
    let i = done.length;
    while (i > 0 && done[i - 1]!.press > k.press) i--;
    done.splice(i, 0, k);
  };

  const onPaste = () => {
    pasted = true;
  };
  const onCompositionStart = () => {
    composing = true;
  };
  const onCompositionEnd = () => {
    composing = false;
  };
  const onBlur = () => {
    // keys held while focus left will be released elsewhere: their release time is unknown
    if (pending.size > 0) focusLost = true;
    pending = new Map();
  };
  const onInput = () => {
    if (element.value === "") {
      if (policy === "keep-last" && waitingForEmpty) {
        done = [];
        pending = new Map();
        pasted = false;
        corrections = 0;
        composed = 0;
        autoRepeats = 0;
        focusLost = false;
        waitingForEmpty = false;
      }
    }
  };

  const quality = (): RecorderQuality => {
    const issues: QualityIssue[] = [];
    if (pasted) issues.push("paste");
    if (composed > 0) issues.push("composition");
    if (focusLost) issues.push("focus-lost");
    if (waitingForEmpty || (policy === "drop" && corrections > 0)) issues.push("corrected");
    if (done.length < minKeys) issues.push("too-few-keys");
    return {
      usable: issues.length === 0,
      keys: done.length,
      issues,
      pasted,
      autoRepeats,
      corrections,
      composed,
      pending: pending.size,
    };
  };

  const sample = (): KeystrokeSample | null =>
    quality().usable ? { keystrokes: done.map((k) => ({ ...k })) } : null;

  const emit = () => {
    const event: SampleEvent = { sample: sample(), quality: quality() };
    for (const l of listeners.slice()) l(event);
  };

  const handlers: Array<[string, (e: KeyEventLike) => void]> = [
    ["keydown", onKeyDown],
    ["keyup", onKeyUp],
    ["paste", onPaste],
    ["drop", onPaste],
    ["compositionstart", onCompositionStart],
    ["compositionend", onCompositionEnd],
    ["blur", onBlur],
    ["input", onInput],
  ];
  for (const [type, fn] of handlers) element.addEventListener(type, fn);

  return {
    sample,
    reset: clear,
    quality,
    on(event, listener) {
      if (event !== "sample") throw new TypeError(`unknown event "${String(event)}" (events: sample)`);
      listeners.push(listener);
      return () => {
        const i = listeners.indexOf(listener);
        if (i >= 0) listeners.splice(i, 1);
      };
    },
    destroy() {
      for (const [type, fn] of handlers) element.removeEventListener(type, fn);
      listeners.length = 0;
    },
  };
}

function round(t: number): number {
  return Math.round(t * 1000) / 1000;
}
