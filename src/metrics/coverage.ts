import { KeystrokeError } from "../errors.js";

/** One point of the accuracy–coverage trade-off: accept a sample when its top probability ≥ threshold. */
export interface CoveragePoint {
  threshold: number;
  /** Share of samples accepted. */
  coverage: number;
  /** Accuracy on the accepted samples. */
  accuracy: number;
}

/** Identification with a reject option at one threshold. */
export interface RejectResult {
  threshold: number;
  accepted: number;
  rejected: number;
  /** Share of samples rejected (top probability below the threshold). */
  rejectedShare: number;
  coverage: number;
  /** Accuracy on the accepted samples; null when none is accepted. */
  accuracy: number | null;
}

function check(confidence: readonly number[], correct: readonly boolean[]): void {
  if (confidence.length !== correct.length) {
    throw new KeystrokeError(
      "BAD_REQUEST",
      `${confidence.length} probabilities but ${correct.length} outcomes`,
    );
  }
}

/**
 * Accuracy against coverage as the acceptance threshold sweeps the distinct top probabilities, highest
 * first; samples sharing a probability are accepted together, so each point is reachable by some p.
 * `confidence[i]` is sample i's top probability, `correct[i]` whether its prediction was right.
 */
export function coverageCurve(confidence: readonly number[], correct: readonly boolean[]): CoveragePoint[] {
  check(confidence, correct);
  const n = confidence.length;
  const order = confidence.map((_, i) => i).sort((a, b) => confidence[b]! - confidence[a]!);
  const points: CoveragePoint[] = [];
  let accepted = 0;
  let hits = 0;
  for (let i = 0; i < n;) {
    const t = confidence[order[i]!]!;
    while (i < n && confidence[order[i]!] === t) {
      accepted++;
      if (correct[order[i]!]) hits++;
      i++;
    }
    points.push({ threshold: t, coverage: accepted / n, accuracy: hits / accepted });
  }
  return points;
}

/** Accuracy and rejected share when samples whose top probability is below p are rejected. */
export function rejectAt(
  confidence: readonly number[],
  correct: readonly boolean[],
  p: number,
): RejectResult {
  check(confidence, correct);
  if (!(p >= 0 && p <= 1))
    throw new KeystrokeError("BAD_FLAG", `the reject threshold must be a probability in [0, 1], got ${p}`, {
      option: "rejectBelow",
    });
  let accepted = 0;
  let hits = 0;
  for (let i = 0; i < confidence.length; i++) {
    if (confidence[i]! >= p) {
      accepted++;
      if (correct[i]) hits++;
    }
  }
  const n = confidence.length;
  return {
    threshold: p,
    accepted,
    rejected: n - accepted,
    rejectedShare: n === 0 ? NaN : (n - accepted) / n,
    coverage: n === 0 ? NaN : accepted / n,
    accuracy: accepted === 0 ? null : hits / accepted,
  };
}
