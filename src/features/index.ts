import type { Sample } from "../data/types.js";

/** The two feature sets: the 8 summary numbers of the original contract, or the per-key vector. */
export type FeatureSetName = "summary" | "timings";
export const FEATURE_SETS: readonly FeatureSetName[] = ["summary", "timings"];

/** The four timing kinds, in the order the original contract lists them. */
export const TIMING_KINDS = ["HT", "PPT", "RRT", "RPT"] as const;
export type TimingKind = (typeof TIMING_KINDS)[number];

/** Column names of the summary set, `HT.Mean`, `HT.STD`, … in contract order. */
export const SUMMARY_NAMES: readonly string[] = TIMING_KINDS.flatMap((k) => [`${k}.Mean`, `${k}.STD`]);

/** The four interval series of one sample: HT has n entries, the others n − 1. */
export interface Intervals {
  HT: number[];
  PPT: number[];
  RRT: number[];
  RPT: number[];
}

/** Hold, press–press, release–release and release–press intervals of consecutive keys. */
export function intervals(sample: Pick<Sample, "press" | "release">): Intervals {
  const { press: p, release: r } = sample;
  const n = p.length;
  const HT = new Array<number>(n);
  const PPT = new Array<number>(Math.max(0, n - 1));
  const RRT = new Array<number>(Math.max(0, n - 1));
  const RPT = new Array<number>(Math.max(0, n - 1));
  for (let i = 0; i < n; i++) {
    HT[i] = r[i]! - p[i]!;
    if (i + 1 < n) {
      PPT[i] = p[i + 1]! - p[i]!;
      RRT[i] = r[i + 1]! - r[i]!;
      RPT[i] = p[i + 1]! - r[i]!;
    }
  }
  return { HT, PPT, RRT, RPT };
}

/** Mean and population standard deviation (the seed's numpy `std`, ddof 0). */
export function meanStd(values: ArrayLike<number>): [number, number] {
  const n = values.length;
  if (n === 0) return [NaN, NaN];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i]!;
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = values[i]! - mean;
    ss += d * d;
  }
  return [mean, Math.sqrt(ss / n)];
}

/** The 8 summary numbers: HT, PPT, RRT, RPT × (mean, population std). */
export function extractSummary(sample: Pick<Sample, "press" | "release">): number[] {
  const iv = intervals(sample);
  return TIMING_KINDS.flatMap((k) => meanStd(iv[k]));
}

/** The per-key vector: HT of each key, then PPT, RRT and RPT of each consecutive pair. */
export function extractTimings(sample: Pick<Sample, "press" | "release">): number[] {
  const iv = intervals(sample);
  return [...iv.HT, ...iv.PPT, ...iv.RRT, ...iv.RPT];
}

/** Length of the timings vector of a sample of `keys` keys. */
export function timingsLength(keys: number): number {
  return keys + 3 * (keys - 1);
}

/**
 * Stable column names of the timings vector: `HT.0`, `PPT.0` … or, when key names are known,
 * `HT.0.period`, `PPT.0.period.t` (the index keeps names unique when a key repeats).
 */
export function timingsNames(keys: number, keyNames?: readonly string[]): string[] {
  const k = (i: number) => (keyNames ? `.${keyNames[i]}` : "");
  const names: string[] = [];
  for (let i = 0; i < keys; i++) names.push(`HT.${i}${k(i)}`);
  for (const kind of ["PPT", "RRT", "RPT"] as const) {
    for (let i = 0; i + 1 < keys; i++) names.push(`${kind}.${i}${k(i)}${k(i + 1)}`);
  }
  return names;
}

/** Feature vector of one sample in the named set. */
export function extractFeatures(sample: Pick<Sample, "press" | "release">, set: FeatureSetName): number[] {
  return set === "summary" ? extractSummary(sample) : extractTimings(sample);
}

/** Column names of the named set for samples of `keys` keys. */
export function featureNames(set: FeatureSetName, keys: number, keyNames?: readonly string[]): string[] {
  return set === "summary" ? [...SUMMARY_NAMES] : timingsNames(keys, keyNames);
}
