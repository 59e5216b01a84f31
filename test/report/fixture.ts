import { summarizePredictions, type Prediction } from "../../src/metrics/index.js";
import type { ReportInput } from "../../src/report/index.js";
import { createRng } from "../../src/util/random.js";

/** A report input of made-up but plausible results: 3 algorithms × 2 feature sets, 12 users, verification. */
export function syntheticReport(options: { users?: number; withVerification?: boolean } = {}): ReportInput {
  const users = Array.from({ length: options.users ?? 12 }, (_, i) => (i === 3 ? "<b>odd&user</b>" : i + 1));
  const rng = createRng(7);
  const models = (["SVM", "RF", "XGB"] as const).flatMap((algorithm, ai) =>
    (["timings", "summary"] as const).map((featureSet, fi) => {
      const skill = 0.9 - 0.25 * ai - 0.4 * fi;
      const preds: Prediction[] = [];
      users.forEach((u, ui) => {
        for (let r = 0; r < 6; r++) {
          const right = rng() < skill;
          const predicted = right ? u : users[(ui + 1 + Math.floor(rng() * 3)) % users.length]!;
          preds.push({
            actual: u,
            predicted,
            confidence: right ? 0.4 + 0.6 * rng() : 0.2 + 0.5 * rng(),
            rank: right ? 0 : 1 + Math.floor(rng() * 4),
          });
        }
      });
      const evaluation = summarizePredictions(preds, { rejectBelow: 0.5 });
      return {
        algorithm,
        featureSet,
        evaluation,
        ...(algorithm === "RF"
          ? {
              importance: Array.from({ length: featureSet === "summary" ? 8 : 20 }, (_, j) => ({
                name: `F.${j}`,
                value: (j + 1) / 210,
              })),
            }
          : {}),
      };
    }),
  );
  const roc = (shift: number) =>
    Array.from({ length: 101 }, (_, i) => {
      const t = i / 100;
      return { threshold: t, far: Math.pow(1 - t, 1 + shift), frr: Math.pow(t, 2 + shift) };
    });
  const detector = (shift: number, sd: number, zeroMissFar: number) => {
    const curve = roc(shift);
    const eer = curve.reduce((a, b) => (Math.abs(b.far - b.frr) < Math.abs(a.far - a.frr) ? b : a));
    return {
      eer: { mean: (eer.far + eer.frr) / 2, sd },
      zeroMissFar,
      roc: curve,
      eerPoint: { far: eer.far, frr: eer.frr },
    };
  };
  return {
    source: "synthetic.csv",
    dataset: { rows: users.length * 6, users: users.length },
    models,
    rejectBelow: 0.5,
    generatedAt: "2024-01-01T00:00:00Z",
    ...(options.withVerification === false
      ? {}
      : {
          verification: {
            best: "manhattan-robust",
            detectors: {
              "manhattan-scaled": detector(0, 0.08, 0.6),
              "manhattan-robust": detector(2, 0.04, 0.4),
            },
          },
        }),
  };
}
