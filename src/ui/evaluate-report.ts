import type { Label } from "../data/types.js";
import type { ModelEvaluation } from "../metrics/index.js";
import type { VerificationEvaluation } from "../verify/index.js";
import { formatNumber, renderTable } from "./table.js";
import { color } from "./terminal.js";

/** The (true, predicted) pairs confused most often (metrics' topConfusions, passed in so this file loads no metrics code). */
export type TopConfusions = (
  e: ModelEvaluation["evaluation"],
  n: number,
) => Array<{ actual: Label; predicted: Label; count: number }>;

const pct = (v: number | null | undefined) =>
  v === null || v === undefined || !Number.isFinite(v) ? "—" : `${(v * 100).toFixed(1)}%`;

/** The human form of an evaluation: one table of models, their confusions, and the verification detectors; fitted to the terminal. */
export function formatEvaluation(
  dataset: { file: string; rows: number; users: number },
  models: readonly ModelEvaluation[],
  verification: VerificationEvaluation | undefined,
  topConfusions: TopConfusions,
  stream: NodeJS.WriteStream = process.stdout,
  rowsNote?: string,
): string {
  const c = color(stream);
  const out: string[] = [c.bold(`${dataset.file}: ${dataset.rows} samples, ${dataset.users} users`)];
  // which rows the scores are on: held out, or seen in training (never called held-out)
  if (rowsNote) out.push(rowsNote);
  if (models.length) {
    const cv = models.some((m) => m.cv);
    const reject = models.some((m) => m.evaluation.reject);
    const head = [
      "model",
      "features",
      "accuracy",
      "top-3",
      "balanced",
      "macro P",
      "macro R",
      "macro F1",
      "unseen",
      "most wrong users",
    ];
    if (reject)
      head.splice(
        8,
        0,
        `acc. p≥${models.find((m) => m.evaluation.reject)!.evaluation.reject!.threshold}`,
        "rejected",
      );
    const score = (m: ModelEvaluation, k: "accuracy" | "top3" | "balancedAccuracy" | "macroF1") =>
      m.cv ? `${pct(m.cv.mean[k])} ± ${pct(m.cv.sd[k])}` : pct(m.evaluation[k]);
    const rows = models.map((m) => {
      const e = m.evaluation;
      const row: Array<string | number> = [
        m.algorithm,
        m.featureSet,
        score(m, "accuracy"),
        score(m, "top3"),
        score(m, "balancedAccuracy"),
        pct(e.macroPrecision),
        pct(e.macroRecall),
        score(m, "macroF1"),
        e.unseenSamples,
        e.mostWrong
          .slice(0, 3)
          .map((u) => `${u.user} (${pct(u.accuracy)})`)
          .join(", ") || "—",
      ];
      if (reject) row.splice(8, 0, pct(e.reject?.accuracy), pct(e.reject?.rejectedShare));
      return row;
    });
    // what goes first when the terminal is narrow: the long list of users, then the finer scores
    const last = head.length - 1;
    const dropOrder = [
      last,
      head.indexOf("macro P"),
      head.indexOf("macro R"),
      head.indexOf("unseen"),
      head.indexOf("top-3"),
      head.indexOf("balanced"),
    ];
    out.push(renderTable(head, rows, stream, { dropOrder }));
    if (cv)
      out.push(
        c.dim(
          `mean ± sd over ${models[0]!.cv!.k} folds; macro P/R and most-wrong users from pooled out-of-fold predictions`,
        ),
      );
    for (const m of models) out.push(confusionText(m, topConfusions, stream));
  }
  if (verification) {
    const rows = Object.entries(verification.detectors).map(([name, d]) => [
      name === verification.best ? `${name} (best)` : name,
      `${pct(d.eer.mean)} ± ${pct(d.eer.sd)}`,
      pct(d.zeroMissFar),
    ]);
    out.push(c.bold(`verification (${verification.protocol.users} users)`));
    out.push(renderTable(["detector", "EER (mean ± sd)", "zero-miss FAR"], rows, stream, { dropOrder: [2] }));
  }
  return out.join("\n");
}

/** The confusion matrix itself for a few users; the most confused pairs when it is too wide for a terminal. */
function confusionText(m: ModelEvaluation, topConfusions: TopConfusions, stream: NodeJS.WriteStream): string {
  const { labels, matrix } = m.evaluation.confusion;
  const title = `confusion ${m.algorithm} ${m.featureSet}`;
  if (labels.length <= 12) {
    return `${title} (rows true, columns predicted)\n${renderTable(
      ["", ...labels.map(String)],
      matrix.map((row, i) => [String(labels[i]), ...row]),
      stream,
    )}`;
  }
  const pairs = topConfusions(m.evaluation, 5);
  if (pairs.length === 0) return `${title}: no confusions`;
  return `${title}, most confused: ${pairs.map((p) => `${p.actual}→${p.predicted} ×${formatNumber(p.count)}`).join(", ")}`;
}
