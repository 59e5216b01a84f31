// The SVM's input scaling, stored with the model: an optional signed log (timings are skewed, and the
// release–press interval can be negative when keys overlap), then per-feature standardisation.

/** How raw features are transformed before standardising. */
export type SvmTransform = "signed-log" | "none";
export const SVM_TRANSFORMS: readonly SvmTransform[] = ["signed-log", "none"];

/** Per-feature scaling: transform, then (v − mean) / std, with std 0 taken as 1. */
export interface SvmScaler {
  transform: SvmTransform;
  /** Units below which the signed log is about linear: sign(v) · ln(1 + |v| / logScale). */
  logScale: number;
  mean: number[];
  std: number[];
}

/** sign(v) · ln(1 + |v| / s): monotone, odd, linear near 0 and logarithmic for large |v|. */
export function signedLog(v: number, s: number): number {
  return v < 0 ? -Math.log1p(-v / s) : Math.log1p(v / s);
}

function transformValue(v: number, transform: SvmTransform, logScale: number): number {
  return transform === "signed-log" ? signedLog(v, logScale) : v;
}

/** Learns the mean and population std of each transformed feature over the rows. */
export function fitScaler(X: ArrayLike<number>[], transform: SvmTransform, logScale: number): SvmScaler {
  const d = X[0]?.length ?? 0;
  const n = X.length;
  const mean = new Array<number>(d).fill(0);
  const std = new Array<number>(d).fill(0);
  for (const row of X) for (let f = 0; f < d; f++) mean[f]! += transformValue(row[f]!, transform, logScale);
  for (let f = 0; f < d; f++) mean[f] = mean[f]! / n;
  for (const row of X) {
    for (let f = 0; f < d; f++) {
      const diff = transformValue(row[f]!, transform, logScale) - mean[f]!;
      std[f]! += diff * diff;
    }
  }
  for (let f = 0; f < d; f++) {
    const s = Math.sqrt(std[f]! / n);
    // a constant feature carries nothing; dividing by 1 keeps it finite
    std[f] = s > 0 && Number.isFinite(s) ? s : 1;
  }
  return { transform, logScale, mean, std };
}

/** Scales one row into `out` (allocated when not given). */
export function applyScaler(
  s: SvmScaler,
  row: ArrayLike<number>,
  out: Float64Array = new Float64Array(s.mean.length),
): Float64Array {
  const { mean, std } = s;
  if (s.transform === "signed-log") {
    const ls = s.logScale;
    for (let f = 0; f < mean.length; f++) out[f] = (signedLog(row[f]!, ls) - mean[f]!) / std[f]!;
  } else {
    for (let f = 0; f < mean.length; f++) out[f] = (row[f]! - mean[f]!) / std[f]!;
  }
  return out;
}
