import type { ConfusionMatrix, UserAccuracy } from "../metrics/index.js";
import {
  esc,
  inner,
  linear,
  niceTicks,
  pct,
  probit,
  r2,
  svgOpen,
  thin,
  xAxis,
  yAxis,
  type Frame,
  type Scale,
} from "./svg.js";

/** The report's categorical palette (colour-blind friendly, dark enough for white text on bars). */
export const PALETTE = [
  "#3b6fb6",
  "#e0792b",
  "#3c9a5f",
  "#c7443f",
  "#7b5ea7",
  "#2a9d9b",
  "#b8860b",
  "#8c564b",
];

/** One bar of the grouped accuracy chart. */
export interface AccuracyBar {
  group: string;
  series: string;
  value: number;
  /** Standard deviation over folds, drawn as an error bar. */
  sd?: number;
  tip: string;
}

/** Grouped vertical bars (group = algorithm, series = feature set) on a 0–100% axis. */
export function accuracyBars(bars: readonly AccuracyBar[], seriesColors: Record<string, string>): string {
  const f: Frame = { width: 1076, height: 300, left: 64, right: 16, top: 20, bottom: 44 };
  const { x0, x1, y0, y1 } = inner(f);
  const groups = [...new Set(bars.map((b) => b.group))];
  const series = Object.keys(seriesColors);
  const y = linear([0, 1], [y0, y1]);
  const gw = (x1 - x0) / Math.max(1, groups.length);
  const bw = Math.min(72, (gw * 0.7) / Math.max(1, series.length));
  const out = [
    svgOpen(f, "accuracy", "accuracy by model and feature set"),
    yAxis(f, y, niceTicks(0, 1, 5), (v) => pct(v, 0), "accuracy"),
  ];
  groups.forEach((g, gi) => {
    const cx = x0 + gw * (gi + 0.5);
    const inGroup = series.filter((s) => bars.some((b) => b.group === g && b.series === s));
    inGroup.forEach((s, si) => {
      const b = bars.find((v) => v.group === g && v.series === s)!;
      const bx = cx - (inGroup.length * bw) / 2 + si * bw + 3;
      const v = Number.isFinite(b.value) ? b.value : 0;
      out.push(
        `<rect class="mark" data-tip="${esc(b.tip)}" x="${r2(bx)}" y="${r2(y(v))}" width="${r2(bw - 6)}" height="${r2(y0 - y(v))}" rx="3" fill="${seriesColors[s]}"/>`,
      );
      if (b.sd !== undefined && b.sd > 0) {
        const mx = bx + (bw - 6) / 2;
        const lo = y(Math.max(0, v - b.sd));
        const hi = y(Math.min(1, v + b.sd));
        out.push(
          `<path class="whisker" d="M${r2(mx)} ${r2(lo)}V${r2(hi)}M${r2(mx - 5)} ${r2(lo)}h10M${r2(mx - 5)} ${r2(hi)}h10"/>`,
        );
      }
      const ly = Math.min(y(v), b.sd ? y(Math.min(1, v + b.sd)) : y(v)) - 6;
      out.push(
        `<text class="value" x="${r2(bx + (bw - 6) / 2)}" y="${r2(ly)}" text-anchor="middle">${esc(pct(b.value))}</text>`,
      );
    });
    out.push(`<text class="group-label" x="${r2(cx)}" y="${y0 + 22}" text-anchor="middle">${esc(g)}</text>`);
  });
  out.push(`<line class="domain" x1="${x0}" x2="${x1}" y1="${y0}" y2="${y0}"/></svg>`);
  return out.join("");
}

function mix(a: string, b: string, t: number): string {
  const pa = [1, 3, 5].map((i) => parseInt(a.slice(i, i + 2), 16));
  const pb = [1, 3, 5].map((i) => parseInt(b.slice(i, i + 2), 16));
  return `rgb(${pa.map((v, i) => Math.round(v + (pb[i]! - v) * t)).join(",")})`;
}

/** Colour of a confusion cell: blues for recognised samples, oranges for mistakes, by share of the true user's row. */
export function cellColor(share: number, diagonal: boolean): string {
  const t = Math.sqrt(Math.max(0, Math.min(1, share)));
  return diagonal ? mix("#dbe7f5", "#1f4e8c", t) : mix("#fde2c8", "#c2410c", t);
}

function short(label: unknown): string {
  const s = String(label);
  return s.length > 5 ? `${s.slice(0, 4)}…` : s;
}

/** Confusion-matrix heatmap; every non-empty cell is a mark whose tooltip names the true and predicted user. */
export function heatmap(cm: ConfusionMatrix, name: string): string {
  const n = cm.labels.length;
  // a fixed drawing size keeps tick text the same size whatever the number of users
  const size = 430;
  const f: Frame = { width: size + 80, height: size + 64, left: 62, right: 18, top: 8, bottom: 56 };
  const cell = size / Math.max(1, n);
  const out = [svgOpen(f, `confusion-${name}`, `confusion matrix of ${name}`)];
  out.push(`<rect class="plot-bg" x="${f.left}" y="${f.top}" width="${r2(size)}" height="${r2(size)}"/>`);
  const every = Math.max(1, Math.ceil(n / 12));
  for (let i = 0; i < n; i++) {
    const rowSum = cm.matrix[i]!.reduce((s, v) => s + v, 0);
    for (let j = 0; j < n; j++) {
      const v = cm.matrix[i]![j]!;
      if (v === 0) continue;
      const share = rowSum ? v / rowSum : 0;
      const tip =
        i === j
          ? `user ${cm.labels[i]}: ${v} of ${rowSum} recognised`
          : `user ${cm.labels[i]} taken for ${cm.labels[j]}: ${v} of ${rowSum}`;
      out.push(
        `<rect class="mark" data-tip="${esc(tip)}" x="${r2(f.left + j * cell)}" y="${r2(f.top + i * cell)}" width="${r2(Math.max(cell, 1))}" height="${r2(Math.max(cell, 1))}" fill="${cellColor(share, i === j)}"/>`,
      );
    }
    if (i % every === 0) {
      out.push(
        `<text class="tick" x="${f.left - 6}" y="${r2(f.top + (i + 0.5) * cell)}" text-anchor="end" dominant-baseline="middle">${esc(short(cm.labels[i]))}</text>`,
      );
      out.push(
        `<text class="tick" x="${r2(f.left + (i + 0.5) * cell)}" y="${r2(f.top + size + 16)}" text-anchor="middle">${esc(short(cm.labels[i]))}</text>`,
      );
    }
  }
  out.push(`<rect class="frame" x="${f.left}" y="${f.top}" width="${r2(size)}" height="${r2(size)}"/>`);
  out.push(
    `<text class="axis-title" x="${r2(f.left + size / 2)}" y="${f.height - 8}" text-anchor="middle">predicted user</text>`,
  );
  out.push(
    `<text class="axis-title" transform="translate(14,${r2(f.top + size / 2)}) rotate(-90)" text-anchor="middle">true user</text></svg>`,
  );
  return out.join("");
}

/** Per-user accuracy as thin bars, worst user first, coloured from red (never recognised) to blue. */
export function perUserBars(users: readonly UserAccuracy[]): string {
  const f: Frame = { width: 1076, height: 240, left: 64, right: 12, top: 14, bottom: 40 };
  const { x0, x1, y0, y1 } = inner(f);
  const sorted = [...users].sort((a, b) => a.accuracy - b.accuracy || b.errors - a.errors);
  const y = linear([0, 1], [y0, y1]);
  const w = (x1 - x0) / Math.max(1, sorted.length);
  const out = [
    svgOpen(f, "per-user", "accuracy per user"),
    yAxis(f, y, niceTicks(0, 1, 4), (v) => pct(v, 0), "accuracy"),
  ];
  sorted.forEach((u, i) => {
    const h = Math.max(1.5, y0 - y(u.accuracy));
    const color =
      u.accuracy >= 0.999
        ? "#3b6fb6"
        : u.accuracy >= 0.5
          ? "#8fb3de"
          : u.accuracy > 0
            ? "#e8a06a"
            : "#c7443f";
    const tip = `user ${u.user}: ${u.correct} of ${u.support} recognised (${pct(u.accuracy, 0)})${u.confusedWith !== null ? `, most often taken for ${u.confusedWith}` : ""}`;
    out.push(
      `<rect class="mark" data-tip="${esc(tip)}" x="${r2(x0 + i * w + w * 0.1)}" y="${r2(y0 - h)}" width="${r2(Math.max(0.8, w * 0.8))}" height="${r2(h)}" fill="${color}"/>`,
    );
  });
  out.push(`<line class="domain" x1="${x0}" x2="${x1}" y1="${y0}" y2="${y0}"/>`);
  out.push(
    `<text class="axis-title" x="${r2((x0 + x1) / 2)}" y="${f.height - 8}" text-anchor="middle">users, worst recognised first (${sorted.length})</text></svg>`,
  );
  return out.join("");
}

/** The most important features as horizontal bars. */
export function importanceBars(
  features: ReadonlyArray<{ name: string; value: number }>,
  name: string,
  top = 15,
): string {
  const best = [...features].sort((a, b) => b.value - a.value).slice(0, top);
  const row = 22;
  const f: Frame = { width: 560, height: best.length * row + 52, left: 150, right: 56, top: 10, bottom: 40 };
  const { x0, x1, y0 } = inner(f);
  const max = Math.max(1e-9, ...best.map((b) => b.value));
  const x = linear([0, max], [x0, x1]);
  const out = [svgOpen(f, `importance-${name}`, `feature importance of ${name}`)];
  out.push(xAxis(f, x, niceTicks(0, max, 4), (v) => pct(v, 0), "share of impurity decrease", true));
  best.forEach((b, i) => {
    const yy = f.top + i * row + 3;
    out.push(
      `<text class="tick" x="${x0 - 8}" y="${r2(yy + (row - 6) / 2)}" text-anchor="end" dominant-baseline="middle">${esc(b.name)}</text>`,
    );
    out.push(
      `<rect class="mark" data-tip="${esc(`${b.name}: ${pct(b.value, 2)}`)}" x="${x0}" y="${r2(yy)}" width="${r2(Math.max(1, x(b.value) - x0))}" height="${row - 6}" rx="2" fill="#3c9a5f"/>`,
    );
    out.push(
      `<text class="value" x="${r2(x(b.value) + 5)}" y="${r2(yy + (row - 6) / 2)}" dominant-baseline="middle">${esc(pct(b.value, 1))}</text>`,
    );
  });
  out.push(`<line class="domain" x1="${x0}" x2="${x0}" y1="${f.top}" y2="${y0}"/></svg>`);
  return out.join("");
}

/** One line of a line chart. */
export interface Series {
  name: string;
  color: string;
  dash?: boolean;
  points: ReadonlyArray<[number, number]>;
  /** A highlighted point (e.g. the EER) with its label. */
  marker?: { x: number; y: number; label: string };
}

/** Axis description of a line chart: domain, ticks, label and optional transform (probit for DET). */
export interface LineAxis {
  domain: [number, number];
  ticks: number[];
  format: (v: number) => string;
  title: string;
  transform?: (v: number) => number;
}

/** A multi-series line chart; `guides` are dashed reference lines in data coordinates. */
export function lineChart(
  name: string,
  label: string,
  series: readonly Series[],
  xa: LineAxis,
  ya: LineAxis,
  guides: ReadonlyArray<{ from: [number, number]; to: [number, number]; label?: string }> = [],
): string {
  const f: Frame = { width: 520, height: 380, left: 60, right: 20, top: 16, bottom: 48 };
  const { x0, x1, y0, y1 } = inner(f);
  const tx = xa.transform ?? ((v: number) => v);
  const ty = ya.transform ?? ((v: number) => v);
  const xs = linear([tx(xa.domain[0]), tx(xa.domain[1])], [x0, x1]);
  const ys = linear([ty(ya.domain[0]), ty(ya.domain[1])], [y0, y1]);
  const clampX = (v: number) => Math.min(Math.max(v, xa.domain[0]), xa.domain[1]);
  const clampY = (v: number) => Math.min(Math.max(v, ya.domain[0]), ya.domain[1]);
  const px = (v: number) => xs(tx(clampX(v)));
  const py = (v: number) => ys(ty(clampY(v)));
  const axisScale = (s: Scale, t: (v: number) => number): Scale =>
    Object.assign((v: number) => s(t(v)), { domain: s.domain, range: s.range });
  const out = [svgOpen(f, name, label)];
  out.push(yAxis(f, axisScale(ys, ty), ya.ticks, ya.format, ya.title));
  out.push(xAxis(f, axisScale(xs, tx), xa.ticks, xa.format, xa.title, true));
  for (const g of guides) {
    out.push(
      `<line class="guide" x1="${r2(px(g.from[0]))}" y1="${r2(py(g.from[1]))}" x2="${r2(px(g.to[0]))}" y2="${r2(py(g.to[1]))}"/>`,
    );
    if (g.label)
      out.push(
        `<text class="guide-label" x="${r2(px(g.to[0]) - 4)}" y="${r2(py(g.to[1]) + 14)}" text-anchor="end">${esc(g.label)}</text>`,
      );
  }
  out.push(`<g clip-path="none">`);
  for (const s of series) {
    const pts = thin(s.points);
    if (pts.length === 0) continue;
    const d = pts.map(([a, b], i) => `${i ? "L" : "M"}${r2(px(a))} ${r2(py(b))}`).join("");
    out.push(
      `<path class="mark line" data-tip="${esc(s.name)}" d="${d}" stroke="${s.color}"${s.dash ? ' stroke-dasharray="6 4"' : ""}/>`,
    );
  }
  for (const s of series) {
    if (!s.marker) continue;
    const mx = px(s.marker.x);
    const my = py(s.marker.y);
    out.push(
      `<circle class="mark marker" data-tip="${esc(`${s.name}: ${s.marker.label}`)}" cx="${r2(mx)}" cy="${r2(my)}" r="5.5" fill="${s.color}"/>`,
    );
  }
  out.push(
    `</g><rect class="frame" x="${x0}" y="${y1}" width="${r2(x1 - x0)}" height="${r2(y0 - y1)}"/></svg>`,
  );
  return out.join("");
}

/** Tick values of a DET axis (probabilities shown on a probit scale). */
export const DET_TICKS = [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4];

/** The probit transform, exported so the DET chart and its tests agree. */
export const detTransform = probit;
