import type { TrainReport } from "../train/run.js";
import { renderTable } from "./table.js";
import { color } from "./terminal.js";

/** The human form of a training report: a table of model × feature set, and where it went. */
export function formatTrainReport(r: TrainReport, stream: NodeJS.WriteStream = process.stdout): string {
  const c = color(stream);
  const pct = (v: number | null) => (v === null ? "—" : `${(v * 100).toFixed(1)}%`);
  const rows = r.models.map((m) => [
    m.model === r.best ? c.green(m.model) : m.model,
    m.features,
    pct(m.accuracy),
    m.macroF1 === null ? "—" : m.macroF1.toFixed(3),
    m.seconds.toFixed(2),
    formatBytes(m.bytes),
  ]);
  const lines = [
    `${r.data.rows} samples of ${r.data.users} users from ${r.data.name}` +
      (r.holdout.rows > 0
        ? `; scores below on ${r.holdout.rows} held-out rows (${(r.holdout.share * 100).toFixed(1)}%, stratified by user)` +
          (r.fitted.refitOnAll
            ? `; the models written were then refitted on all ${r.fitted.rows} rows`
            : `; the models written were fitted on the other ${r.fitted.rows} rows (${(r.fitted.share * 100).toFixed(1)}%)`)
        : "; nothing held out, no scores"),
    renderTable(["model", "features", "accuracy", "macro-F1", "fit s", "size"], rows, stream),
    `best: ${r.best}; written to ${r.out}/ as version ${r.version} (kept: ${r.versions.join(", ")}) in ${r.wallSeconds.toFixed(1)} s` +
      (r.verification
        ? `; ${r.verification.enrolled} user(s) enrolled for verification (${r.verification.detector}; ${r.verification.kept} already enrolled, kept) in ${r.verification.store}`
        : ""),
    ...(r.openSet ?? []).map(
      (o) =>
        `open set (${o.features}): threshold ${o.threshold.toFixed(3)} for a target FIR of ${pct(o.targetFir)}; on the training rows it rejects ${pct(o.strangersRejected)} of leave-one-user-out strangers and ${pct(o.knownRejected)} of known users' samples`,
    ),
  ];
  return lines.join("\n") + "\n";
}

/** 1536 → "1.5 KB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
