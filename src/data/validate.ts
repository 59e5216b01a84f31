/**
 * The largest time (in ms, either sign) a sample may hold: beyond 2^53 ms a time has no millisecond
 * precision, so it is no real timing, and the bound keeps every derived feature (sums and squares of
 * thousands of them) a finite number.
 */
export const MAX_TIME = Number.MAX_SAFE_INTEGER;

/** One problem in a raw sample: which key (0-based), which time, and a message a person can act on. */
export interface SampleProblem {
  /** Key index the problem sits at; -1 for the sample as a whole. */
  index: number;
  which: "press" | "release" | "sample";
  message: string;
}

/**
 * Checks one raw sample and returns the first problem, or undefined when it is usable: times present and
 * finite and within ±MAX_TIME, at least 2 keys, no release before its press, no press earlier than the previous key's press.
 */
export function findSampleProblem(
  press: ArrayLike<number>,
  release: ArrayLike<number>,
): SampleProblem | undefined {
  if (press.length !== release.length) {
    return {
      index: -1,
      which: "sample",
      message: `has ${press.length} press times but ${release.length} release times`,
    };
  }
  for (let i = 0; i < press.length; i++) {
    const p = press[i]!;
    const r = release[i]!;
    if (typeof p !== "number" || !Number.isFinite(p))
      return { index: i, which: "press", message: `press time of key ${i} is missing or not a number` };
    if (typeof r !== "number" || !Number.isFinite(r))
      return { index: i, which: "release", message: `release time of key ${i} is missing or not a number` };
    if (Math.abs(p) > MAX_TIME)
      return { index: i, which: "press", message: `press time of key ${i} is beyond ±${MAX_TIME} ms` };
    if (Math.abs(r) > MAX_TIME)
      return { index: i, which: "release", message: `release time of key ${i} is beyond ±${MAX_TIME} ms` };
    if (r < p)
      return {
        index: i,
        which: "release",
        message: `key ${i} is released (${r}) before it is pressed (${p})`,
      };
    if (i > 0 && p < press[i - 1]!)
      return {
        index: i,
        which: "press",
        message: `key ${i} is pressed (${p}) before the previous key (${press[i - 1]})`,
      };
  }
  if (press.length < 2)
    return { index: -1, which: "sample", message: `has ${press.length} key(s); a sample needs at least 2` };
  return undefined;
}

/** Validates one raw sample (press/release arrays) the same way rows are validated; returns a message or undefined. */
export function validateSample(press: number[], release: number[]): string | undefined {
  if (!Array.isArray(press) || !Array.isArray(release)) return "press and release must be arrays of numbers";
  return findSampleProblem(press, release)?.message;
}
