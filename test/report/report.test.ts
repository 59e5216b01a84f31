import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderReport, writeReport } from "../../src/report/index.js";
import { esc, niceTicks, probit, thin } from "../../src/report/svg.js";
import { syntheticReport } from "./fixture.js";

describe("report svg helpers", () => {
  it("inverts the normal CDF (the DET axis)", () => {
    expect(probit(0.5)).toBeCloseTo(0, 9);
    expect(probit(0.975)).toBeCloseTo(1.959964, 5);
    expect(probit(0.001)).toBeCloseTo(-3.090232, 5);
    expect(probit(0.2)).toBeCloseTo(-probit(0.8), 9);
  });

  it("picks round ticks and thins long series keeping both ends", () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    const t = thin(
      Array.from({ length: 1000 }, (_, i) => i),
      10,
    );
    expect(t).toHaveLength(10);
    expect([t[0], t.at(-1)]).toEqual([0, 999]);
  });

  it("escapes markup", () => {
    expect(esc(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });
});

describe("renderReport", () => {
  const html = renderReport(syntheticReport());

  it("draws every chart as inline SVG with marks", () => {
    const charts = [...html.matchAll(/<svg class="chart" data-chart="([^"]+)"[\s\S]*?<\/svg>/g)];
    const names = charts.map((m) => m[1]);
    for (const n of ["accuracy", "coverage", "per-user", "roc", "det"]) expect(names).toContain(n);
    expect(names.filter((n) => n!.startsWith("confusion-"))).toHaveLength(6);
    expect(names.filter((n) => n!.startsWith("importance-"))).toHaveLength(2);
    for (const [svg, name] of charts) expect(svg.match(/class="mark/g)?.length ?? 0, name).toBeGreaterThan(0);
  });

  it("fetches nothing: no external src, href, url() or @import", () => {
    expect(html).not.toMatch(/\s(src|href)=/i);
    expect(html).not.toMatch(/url\(|@import/i);
  });

  it("escapes user ids from the data", () => {
    expect(html).not.toContain("<b>odd&user</b>");
    expect(html).toContain("&lt;b&gt;odd&amp;user&lt;/b&gt;");
  });

  it("shows the best model's accuracy first and the best detector's EER", () => {
    const input = syntheticReport();
    const best = [...input.models].sort((a, b) => b.evaluation.accuracy - a.evaluation.accuracy)[0]!;
    expect(html).toContain(`${(best.evaluation.accuracy * 100).toFixed(1)}%`);
    const d = input.verification!.detectors["manhattan-robust"]!;
    expect(html).toContain(`verification EER</span><span class="v">${(d.eer.mean * 100).toFixed(2)}%`);
  });

  it("draws verification alone when no model was evaluated", () => {
    const only = renderReport({ ...syntheticReport(), models: [] });
    expect(only).toContain('data-chart="roc"');
    expect(only).not.toContain('data-chart="accuracy"');
  });

  it("leaves out the verification section when there is none", () => {
    const plain = renderReport(syntheticReport({ withVerification: false }));
    expect(plain).not.toContain('data-chart="roc"');
    expect(plain).toContain('data-chart="accuracy"');
  });
});

describe("writeReport", () => {
  it("writes the file atomically, leaving no temporary file behind", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kid-report-"));
    const file = join(dir, "r.html");
    await writeReport(file, syntheticReport());
    expect(await readdir(dir)).toEqual(["r.html"]);
    expect(await readFile(file, "utf8")).toMatch(/^<!doctype html>/);
  });

  it("names the file (not a CLI flag) when the target cannot be written", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kid-report-"));
    await expect(writeReport(dir, syntheticReport())).rejects.toMatchObject({
      code: "IO",
      place: { file: dir },
    });
    expect(await readdir(dir)).toEqual([]);
  });
});

describe("DET curves of evaluate --verification", () => {
  it("draws one monotone curve per detector from the evaluation's pooled scores, on normal-deviate axes", async () => {
    const { evaluateVerification } = await import("../../src/verify/evaluate.js");
    const { syntheticSample } = await import("../server/trained.js");
    const { createRng } = await import("../../src/util/random.js");
    const rng = createRng(9);
    const samples = [1, 2, 3, 4, 5].flatMap((user) =>
      Array.from({ length: 14 }, () => ({ ...syntheticSample(user, rng), label: user })),
    );
    const verification = evaluateVerification(samples);
    const detectors = Object.keys(verification.detectors);
    expect(detectors.length).toBeGreaterThan(1);
    const html = renderReport({
      source: "synthetic.csv",
      dataset: { rows: samples.length, users: 5 },
      models: [],
      verification,
    });
    const svg = /<svg class="chart" data-chart="det"[\s\S]*?<\/svg>/.exec(html)?.[0];
    expect(svg).toBeDefined();
    const curves = [...svg!.matchAll(/<path class="mark line" data-tip="([^"]+)" d="([^"]+)"/g)];
    expect(curves.map((c) => c[1]).sort()).toEqual([...detectors].sort());
    for (const [, name, d] of curves) {
      const pts = [...d!.matchAll(/[ML](-?[\d.]+) (-?[\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
      expect(pts.length, name).toBeGreaterThan(2);
      // FAR never falls as the curve goes right, and FRR never rises (SVG y grows downwards)
      for (let i = 1; i < pts.length; i++) {
        expect(pts[i]![0], `${name} point ${i}`).toBeGreaterThanOrEqual(pts[i - 1]![0]!);
        expect(pts[i]![1], `${name} point ${i}`).toBeGreaterThanOrEqual(pts[i - 1]![1]!);
      }
    }
    // normal-deviate axis: the 1%→10% step is drawn wider than the 10%→40% one (on a linear axis it is 3x narrower)
    const xAxis = /<g class="axis x">[\s\S]*?<\/g>/.exec(svg!)![0];
    const tick = (label: string) => {
      const m = new RegExp(`<text[^>]*x="(-?[\\d.]+)"[^>]*>${label.replace(".", "\\.")}</text>`).exec(xAxis);
      return Number(m?.[1]);
    };
    expect(tick("10%") - tick("1%")).toBeGreaterThan(tick("40%") - tick("10%"));
  });
});
