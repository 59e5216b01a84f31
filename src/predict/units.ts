// Timings typed in the wrong unit still parse: a sample in seconds where milliseconds are expected holds
// keys for 0.1 "ms", one in ms where seconds are expected for 100 "s". Neither is an error (a fast
// typist's holds are short), but both answer nonsense, so they are a warning that says the fix.

/** Below this median hold time (ms) a sample looks like it was given in seconds. */
export const SECONDS_LIKE_HOLD_MS = 2;
/** Above this median hold time (ms) a sample looks like it was given in ms where seconds were expected. */
export const MS_LIKE_HOLD_MS = 5000;

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * A warning when a sample's times look like the wrong unit, else undefined. `layout` is the unit the
 * input was read in: "ms" (JSON requests, wide and events CSV) or "s" (the derived CMU layout, converted
 * to ms on reading).
 */
export function unitWarning(
  sample: { press: readonly number[]; release: readonly number[] },
  layout: "ms" | "s" = "ms",
): string | undefined {
  const n = Math.min(sample.press.length, sample.release.length);
  if (n < 2) return undefined;
  const holds: number[] = [];
  for (let i = 0; i < n; i++) holds.push(sample.release[i]! - sample.press[i]!);
  const hold = median(holds);
  const span = sample.press[n - 1]! - sample.press[0]!;
  if (layout === "ms" && hold > 0 && hold < SECONDS_LIKE_HOLD_MS && span < 60) {
    return `the times look like seconds (median hold ${round(hold)} ms): times here are milliseconds, so multiply them by 1000`;
  }
  if (hold > MS_LIKE_HOLD_MS) {
    return layout === "s"
      ? `the times look like milliseconds (median hold ${round(hold / 1000)} s): the H./DD./UD. layout is in seconds, so divide them by 1000`
      : `the times look like microseconds or another unit (median hold ${round(hold)} ms): times here are milliseconds`;
  }
  return undefined;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
