/** Small pieces for drawing charts as SVG text: escaping, scales, ticks and axes. */

/** Escapes text for HTML and SVG content and attribute values. */
export function esc(value: unknown): string {
  return String(value).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/** A number rounded for SVG coordinates (keeps files small and diffs stable). */
export function r2(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/** A percentage for people: 0.8342 → "83.4%". */
export function pct(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  return `${(v * 100).toFixed(digits)}%`;
}

export type Scale = ((v: number) => number) & { domain: [number, number]; range: [number, number] };

/** A linear map from a domain to a range. */
export function linear(domain: [number, number], range: [number, number]): Scale {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  const f = ((v: number) => r0 + (v - d0) * k) as Scale;
  f.domain = domain;
  f.range = range;
  return f;
}

/** Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9): the DET axis. */
export function probit(p: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    );
  }
  if (p > 1 - lo) return -probit(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}

/** About `count` round tick values covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  // integer multiples of the step, rounded to 12 digits, so 3 × 0.2 prints as 0.6 and −0 never appears
  for (let i = Math.ceil(min / step - 1e-9); i * step <= max + step * 1e-9; i++)
    ticks.push(Number((i * step).toPrecision(12)) + 0);
  return ticks;
}

/** Keeps at most `max` points of a long series (always the first and last), so a path stays light. */
export function thin<T>(points: readonly T[], max = 400): T[] {
  if (points.length <= max) return [...points];
  const out: T[] = [];
  const step = (points.length - 1) / (max - 1);
  for (let i = 0; i < max; i++) out.push(points[Math.round(i * step)]!);
  return out;
}

/** The drawing area of a chart inside its SVG. */
export interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** Inner left/right/top/bottom pixel bounds of a frame. */
export function inner(f: Frame): { x0: number; x1: number; y0: number; y1: number } {
  return { x0: f.left, x1: f.width - f.right, y0: f.height - f.bottom, y1: f.top };
}

/** Horizontal grid lines and left tick labels for a y scale. */
export function yAxis(
  f: Frame,
  y: Scale,
  ticks: number[],
  format: (v: number) => string,
  title?: string,
): string {
  const { x0, x1 } = inner(f);
  const parts = ticks.map(
    (t) =>
      `<line class="grid" x1="${x0}" x2="${x1}" y1="${r2(y(t))}" y2="${r2(y(t))}"/><text class="tick" x="${x0 - 8}" y="${r2(y(t))}" text-anchor="end" dominant-baseline="middle">${esc(format(t))}</text>`,
  );
  if (title) {
    const cy = (f.top + f.height - f.bottom) / 2;
    parts.push(
      `<text class="axis-title" transform="translate(${14},${r2(cy)}) rotate(-90)" text-anchor="middle">${esc(title)}</text>`,
    );
  }
  return `<g class="axis y">${parts.join("")}</g>`;
}

/** Bottom tick labels (and an axis line) for an x scale. */
export function xAxis(
  f: Frame,
  x: Scale,
  ticks: number[],
  format: (v: number) => string,
  title?: string,
  grid = false,
): string {
  const { x0, x1, y0, y1 } = inner(f);
  const parts = [`<line class="domain" x1="${x0}" x2="${x1}" y1="${y0}" y2="${y0}"/>`];
  for (const t of ticks) {
    if (grid) parts.push(`<line class="grid" x1="${r2(x(t))}" x2="${r2(x(t))}" y1="${y1}" y2="${y0}"/>`);
    parts.push(
      `<text class="tick" x="${r2(x(t))}" y="${y0 + 18}" text-anchor="middle">${esc(format(t))}</text>`,
    );
  }
  if (title)
    parts.push(
      `<text class="axis-title" x="${r2((x0 + x1) / 2)}" y="${f.height - 6}" text-anchor="middle">${esc(title)}</text>`,
    );
  return `<g class="axis x">${parts.join("")}</g>`;
}

/** Opens an SVG that scales to its container while keeping its aspect ratio. */
export function svgOpen(f: Frame, name: string, label: string): string {
  return `<svg class="chart" data-chart="${esc(name)}" viewBox="0 0 ${f.width} ${f.height}" role="img" aria-label="${esc(label)}" preserveAspectRatio="xMidYMid meet">`;
}
