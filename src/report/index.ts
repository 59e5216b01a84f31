import { KeystrokeError } from "../errors.js";
import { writeFileAtomic } from "../util/fs.js";
import type { ClassifierEvaluation, FoldScores } from "../metrics/index.js";
import {
  accuracyBars,
  DET_TICKS,
  detTransform,
  heatmap,
  importanceBars,
  lineChart,
  perUserBars,
  PALETTE,
  type AccuracyBar,
  type Series,
} from "./charts.js";
import { esc, pct } from "./svg.js";
import { REPORT_CSS, REPORT_SCRIPT } from "./style.js";

/** One model (algorithm × feature set) as the report shows it. */
export interface ReportModel {
  algorithm: string;
  featureSet: string;
  /** On the test file, or pooled out-of-fold predictions under cross-validation. */
  evaluation: ClassifierEvaluation;
  /** Mean ± sd over folds under cross-validation. */
  cv?: { mean: FoldScores; sd: FoldScores };
  importance?: ReadonlyArray<{ name: string; value: number }>;
}

/** One verification detector as the report draws it (the shape evaluateVerification returns). */
export interface ReportDetector {
  eer: { mean: number; sd: number };
  zeroMissFar?: number;
  roc: ReadonlyArray<{ threshold: number; far: number; frr: number }>;
  eerPoint: { far: number; frr: number };
}

/** Everything the HTML report shows. */
export interface ReportInput {
  title?: string;
  /** The labelled file evaluated. */
  source: string;
  dataset: { rows: number; users: number };
  /** Number of folds when the models were cross-validated, absent for a held-out evaluation. */
  cvFolds?: number;
  /** What was run, for the subtitle (which rows were scored); the default is derived from cvFolds and models. */
  mode?: string;
  models: readonly ReportModel[];
  verification?: { detectors: Record<string, ReportDetector>; best: string };
  rejectBelow?: number;
  /** ISO time shown in the header; set it in tests for a stable file. */
  generatedAt?: string;
}

const SERIES_COLORS: Record<string, string> = { timings: PALETTE[0]!, summary: PALETTE[1]! };

function modelName(m: ReportModel): string {
  return `${m.algorithm} · ${m.featureSet}`;
}

function figure(title: string, caption: string, body: string, extra = ""): string {
  return `<figure class="card${extra}"><figcaption><h3>${esc(title)}</h3><p>${caption}</p></figcaption>${body}</figure>`;
}

function legend(items: ReadonlyArray<{ label: string; color: string; dash?: boolean }>): string {
  return `<div class="legend">${items
    .map(
      (i) =>
        `<span class="key"><i class="${i.dash ? "dash" : ""}" style="--c:${i.color}"></i>${esc(i.label)}</span>`,
    )
    .join("")}</div>`;
}

function metricsTable(models: readonly ReportModel[]): string {
  const cv = models.some((m) => m.cv);
  const cell = (m: ReportModel, k: keyof FoldScores, v: number) =>
    m.cv ? `${pct(m.cv.mean[k])}<small> ± ${pct(m.cv.sd[k])}</small>` : pct(v);
  const rows = models.map((m) => {
    const e = m.evaluation;
    const worst =
      e.mostWrong
        .slice(0, 3)
        .map((u) => `${esc(u.user)} <small>(${pct(u.accuracy, 0)})</small>`)
        .join(", ") || "—";
    return `<tr><th scope="row">${esc(m.algorithm)} <span class="fs">${esc(m.featureSet)}</span></th><td>${cell(m, "accuracy", e.accuracy)}</td><td>${cell(m, "top3", e.top3)}</td><td>${cell(m, "balancedAccuracy", e.balancedAccuracy)}</td><td>${pct(e.macroPrecision)}</td><td>${pct(e.macroRecall)}</td><td>${cell(m, "macroF1", e.macroF1)}</td><td>${e.unseenSamples ? `<span class="warn">${e.unseenSamples}</span>` : "0"}</td><td class="worst">${worst}</td></tr>`;
  });
  return `<table class="metrics"><thead><tr><th>model</th><th>accuracy</th><th>top-3</th><th>balanced</th><th>macro P</th><th>macro R</th><th>macro F1</th><th>unseen</th><th>most wrong users</th></tr></thead><tbody>${rows.join("")}</tbody></table>${
    cv
      ? `<p class="note">Mean ± standard deviation over folds; precision, recall and the lists below are from the pooled out-of-fold predictions.</p>`
      : ""
  }`;
}

function verificationSection(v: NonNullable<ReportInput["verification"]>): string {
  const names = Object.keys(v.detectors);
  const color = (i: number) => PALETTE[(i + 2) % PALETTE.length]!;
  // one curve per detector, its points (FAR, FRR) drawn as `y` of FRR: ROC draws 1 − FRR, DET the FRR itself
  const curves = (y: (frr: number) => number): Series[] =>
    names.map((n, i) => {
      const d = v.detectors[n]!;
      return {
        name: n,
        color: color(i),
        points: [...d.roc]
          .sort((a, b) => a.far - b.far || b.frr - a.frr)
          .map((p) => [p.far, y(p.frr)] as [number, number]),
        marker: { x: d.eerPoint.far, y: y(d.eerPoint.frr), label: `EER ${pct(d.eer.mean, 2)}` },
      };
    });
  const roc = curves((frr) => 1 - frr);
  const det = curves((frr) => frr);
  const unit = {
    domain: [0, 1] as [number, number],
    ticks: [0, 0.2, 0.4, 0.6, 0.8, 1],
    format: (x: number) => pct(x, 0),
  };
  const detAxis = {
    domain: [0.001, 0.5] as [number, number],
    ticks: DET_TICKS,
    format: (x: number) => (x < 0.01 ? pct(x, 1) : pct(x, 0)),
    transform: detTransform,
  };
  const rows = names
    .map((n) => {
      const d = v.detectors[n]!;
      return `<tr${n === v.best ? ' class="best"' : ""}><th scope="row">${esc(n)}</th><td>${pct(d.eer.mean, 2)}<small> ± ${pct(d.eer.sd, 2)}</small></td><td>${pct(d.zeroMissFar, 1)}</td></tr>`;
    })
    .join("");
  const keys = legend(names.map((n, i) => ({ label: n === v.best ? `${n} (best)` : n, color: color(i) })));
  return `<section><h2>Verification</h2><p class="lede">Each user against everyone else: how often an impostor is let in (FAR) against how often the real user is turned away (FRR). The dot marks the equal error rate.</p>
<div class="grid two">${figure("ROC", "Genuine acceptance against false acceptance.", keys + lineChart("roc", "ROC curves", roc, { ...unit, title: "false acceptance rate" }, { ...unit, title: "genuine acceptance rate" }, [{ from: [0, 0], to: [1, 1], label: "chance" }]))}
${figure("DET", "Both error rates on normal-deviate axes; closer to the corner is better.", keys + lineChart("det", "DET curves", det, { ...detAxis, title: "false acceptance rate" }, { ...detAxis, title: "false rejection rate" }, [{ from: [0.001, 0.001], to: [0.5, 0.5], label: "EER line" }]))}</div>
<table class="metrics narrow"><thead><tr><th>detector</th><th>EER (mean ± sd over users)</th><th>FAR at zero misses</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

/** Renders the evaluation as one self-contained HTML page: inline CSS, inline SVG charts, a small tooltip script. */
export function renderReport(input: ReportInput): string {
  const models = [...input.models].sort((a, b) => b.evaluation.accuracy - a.evaluation.accuracy);
  const best = models[0];
  const title = input.title ?? "Who is typing? Model evaluation";
  const mode =
    input.mode ??
    (input.cvFolds
      ? `${input.cvFolds}-fold stratified cross-validation`
      : input.models.length
        ? "evaluation of trained models"
        : "verification evaluation");
  const parts: string[] = [];
  parts.push(
    `<header><p class="kicker">keystroke-id report</p><h1>${esc(title)}</h1><p class="meta">${esc(input.source)} · ${input.dataset.rows} samples · ${input.dataset.users} users · ${esc(mode)}${
      input.generatedAt ? ` · ${esc(input.generatedAt)}` : ""
    }</p></header>`,
  );
  if (best) {
    const tiles = [
      ["best accuracy", pct(best.evaluation.accuracy), modelName(best)],
      ["top-3 accuracy", pct(best.evaluation.top3), modelName(best)],
      ["balanced accuracy", pct(best.evaluation.balancedAccuracy), modelName(best)],
    ];
    if (input.verification) {
      const d = input.verification.detectors[input.verification.best];
      if (d) tiles.push(["verification EER", pct(d.eer.mean, 2), input.verification.best]);
    }
    parts.push(
      `<div class="tiles">${tiles.map(([k, v, s]) => `<div class="tile"><span class="k">${esc(k)}</span><span class="v">${v}</span><span class="s">${esc(s)}</span></div>`).join("")}</div>`,
    );
    const featureSets = [...new Set(models.map((m) => m.featureSet))];
    const colors = Object.fromEntries(
      featureSets.map((s, i) => [s, SERIES_COLORS[s] ?? PALETTE[(i + 2) % PALETTE.length]!]),
    );
    const bars: AccuracyBar[] = input.models.map((m) => ({
      group: m.algorithm,
      series: m.featureSet,
      value: m.cv ? m.cv.mean.accuracy : m.evaluation.accuracy,
      sd: m.cv?.sd.accuracy,
      tip: `${modelName(m)}: ${pct(m.cv ? m.cv.mean.accuracy : m.evaluation.accuracy)}${m.cv ? ` ± ${pct(m.cv.sd.accuracy)}` : ""}, top-3 ${pct(m.evaluation.top3)}`,
    }));
    parts.push(
      `<section><h2>Identification</h2><p class="lede">Which of the ${input.dataset.users} users typed each sample.${
        models.some((m) => m.evaluation.unseenSamples)
          ? " Samples of users a model never saw count as errors."
          : ""
      }</p>`,
    );
    parts.push(
      figure(
        "Accuracy by model and feature set",
        input.cvFolds
          ? "Mean over folds; whiskers show one standard deviation."
          : "Share of samples whose user is predicted correctly.",
        legend(featureSets.map((s) => ({ label: s, color: colors[s]! }))) + accuracyBars(bars, colors),
      ),
    );
    parts.push(metricsTable(models));
    const cov: Series[] = models.map((m) => ({
      name: modelName(m),
      color:
        PALETTE[
          ["SVM", "RF", "XGB"].indexOf(m.algorithm) >= 0 ? ["SVM", "RF", "XGB"].indexOf(m.algorithm) + 2 : 0
        ]!,
      dash: m.featureSet === "summary",
      points: m.evaluation.coverage.map((p) => [p.coverage, p.accuracy] as [number, number]),
      marker:
        m.evaluation.reject && m.evaluation.reject.accuracy !== null
          ? {
              x: m.evaluation.reject.coverage,
              y: m.evaluation.reject.accuracy,
              label: `p ≥ ${m.evaluation.reject.threshold}: ${pct(m.evaluation.reject.accuracy)} at ${pct(m.evaluation.reject.coverage)} coverage`,
            }
          : undefined,
    }));
    const unit = {
      domain: [0, 1] as [number, number],
      ticks: [0, 0.2, 0.4, 0.6, 0.8, 1],
      format: (x: number) => pct(x, 0),
    };
    const rejectNote =
      input.rejectBelow !== undefined ? ` Dots mark the reject threshold p = ${input.rejectBelow}.` : "";
    parts.push(
      `<div class="grid two">${figure(
        "Accuracy against coverage",
        `Reject samples whose top probability is below a threshold: fewer answers, more of them right.${rejectNote}`,
        legend(cov.map((s) => ({ label: s.name, color: s.color, dash: s.dash }))) +
          lineChart(
            "coverage",
            "accuracy against coverage",
            cov,
            { ...unit, title: "coverage (share of samples answered)" },
            { ...unit, title: "accuracy on answered samples" },
          ),
      )}${figure(
        `Confusion matrix — ${modelName(best)}`,
        "Rows are true users, columns predictions; blue cells are recognised samples, orange ones mistakes. Hover for users.",
        legend([
          { label: "recognised", color: "#2f64a8" },
          { label: "mistaken", color: "#d9622b" },
        ]) + heatmap(best.evaluation.confusion, modelName(best).replace(/ · /, "-")),
      )}</div>`,
    );
    parts.push(
      figure(
        `Accuracy per user — ${modelName(best)}`,
        `${
          best.evaluation.mostWrong.length
            ? `Hardest: ${best.evaluation.mostWrong
                .slice(0, 5)
                .map((u) => `user ${esc(u.user)} (${pct(u.accuracy, 0)})`)
                .join(", ")}.`
            : "Every user recognised."
        }${
          best.evaluation.unseenUsers.length
            ? ` Never seen in training: ${best.evaluation.unseenUsers.map((u) => esc(u.user)).join(", ")}.`
            : ""
        }`,
        legend([
          { label: "all recognised", color: "#3b6fb6" },
          { label: "half or more", color: "#8fb3de" },
          { label: "under half", color: "#e8a06a" },
          { label: "never", color: "#c7443f" },
        ]) + perUserBars(best.evaluation.perUser),
      ),
    );
    const rf = models.filter((m) => m.importance && m.importance.length);
    if (rf.length) {
      parts.push(
        `<div class="grid two">${rf.map((m) => figure(`Feature importance — ${modelName(m)}`, "Mean decrease in impurity, top 15 features.", importanceBars(m.importance!, modelName(m).replace(/ · /, "-")))).join("")}</div>`,
      );
    }
    const others = models.slice(1);
    if (others.length) {
      parts.push(
        `<details><summary>Confusion matrices of the other models (${others.length})</summary><div class="grid two">${others
          .map((m) =>
            figure(
              modelName(m),
              `accuracy ${pct(m.evaluation.accuracy)}`,
              heatmap(m.evaluation.confusion, modelName(m).replace(/ · /, "-")),
            ),
          )
          .join("")}</div></details>`,
      );
    }
    parts.push(`</section>`);
  }
  if (input.verification) parts.push(verificationSection(input.verification));
  parts.push(`<footer>Generated by keystroke-id. Self-contained: no network access needed to view.</footer>`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title><style>${REPORT_CSS}</style></head>
<body><main>${parts.join("\n")}</main><div id="tip" role="tooltip" hidden></div><script>${REPORT_SCRIPT}</script></body></html>
`;
}

/** Writes the report atomically: to a temporary file beside the target, then renamed over it. */
export async function writeReport(file: string, input: ReportInput): Promise<void> {
  const html = renderReport(input);
  try {
    await writeFileAtomic(file, html);
  } catch (e) {
    throw new KeystrokeError(
      "IO",
      `cannot write the report: ${(e as Error).message}`,
      { file },
      { cause: e },
    );
  }
}
