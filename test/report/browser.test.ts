import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BrowserContext } from "playwright-core";
import { chromiumAvailable, launchChromium } from "../helpers/chromium.js";
import { writeReport } from "../../src/report/index.js";
import { ROOT, SHARED_DATA, runCli } from "../helpers/cli.js";
import { syntheticReport } from "./fixture.js";

const ARTIFACTS = resolve(ROOT, "test-artifacts");
interface ChartInfo {
  name: string;
  marks: number;
  elements: number;
  width: number;
}

/** Opens a report, returning what the page logged, what it fetched and what each chart drew. */
async function inspect(context: BrowserContext, file: string, screenshot: string) {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1280, height: 900 });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
  const charts: ChartInfo[] = await page.$$eval("svg.chart", (svgs) =>
    svgs.map((s) => ({
      name: s.getAttribute("data-chart") ?? "",
      marks: s.querySelectorAll(".mark").length,
      elements: s.querySelectorAll("*").length,
      width: s.getBoundingClientRect().width,
    })),
  );
  await page.hover('svg[data-chart^="confusion-"] .mark');
  const tip = await page.$eval("#tip", (t) => ({
    hidden: t.hasAttribute("hidden"),
    text: t.textContent ?? "",
  }));
  await page.screenshot({ path: screenshot, fullPage: true });
  await page.close();
  return { errors, requests, charts, tip };
}

const available = chromiumAvailable();

describe.skipIf(!available)("the HTML report in headless Chromium", () => {
  let context: BrowserContext;
  let closeChromium: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    ({ context, close: closeChromium } = await launchChromium());
  }, 120_000);

  afterAll(async () => {
    await closeChromium?.();
  });

  it("loads with no console errors, fetches nothing, and every chart draws marks", async () => {
    const file = join(ARTIFACTS, "report-synthetic.html");
    await writeReport(file, syntheticReport());
    const r = await inspect(context, file, join(ARTIFACTS, "report-synthetic.png"));
    expect(r.errors).toEqual([]);
    expect(r.requests.filter((u) => !u.startsWith("file:") && !u.startsWith("data:"))).toEqual([]);
    const names = r.charts.map((c) => c.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "accuracy",
        "coverage",
        "per-user",
        "roc",
        "det",
        "importance-RF-timings",
        "importance-RF-summary",
      ]),
    );
    expect(names.filter((n) => n.startsWith("confusion-"))).toHaveLength(6);
    for (const c of r.charts) expect(c.marks, c.name).toBeGreaterThan(0);
    // one bar per model and one per user
    expect(r.charts.find((c) => c.name === "accuracy")!.marks).toBe(6);
    expect(r.charts.find((c) => c.name === "per-user")!.marks).toBe(12);
    // every chart outside the collapsed <details> (zero width there) is laid out at a readable size
    for (const c of r.charts.filter((c) => !c.name.startsWith("confusion-") || c.width > 0))
      expect(c.width, c.name).toBeGreaterThan(300);
    expect(r.tip.hidden).toBe(false);
    expect(r.tip.text).toMatch(/user .+ (recognised|taken for)/);
  });

  it.skipIf(!existsSync(SHARED_DATA))(
    "renders the report `evaluate --cv --verification --report` writes for the real data",
    async () => {
      const file = join(ARTIFACTS, "report.html");
      const run = await runCli([
        "evaluate",
        SHARED_DATA,
        "--cv",
        "3",
        "--model",
        "rf",
        "--verification",
        "--reject-below",
        "0.3",
        "--report",
        file,
        "--json",
      ]);
      expect(run.code, run.stderr).toBe(0);
      const doc = JSON.parse(run.stdout);
      const r = await inspect(context, file, join(ARTIFACTS, "report.png"));
      expect(r.errors).toEqual([]);
      expect(r.requests.filter((u) => !u.startsWith("file:") && !u.startsWith("data:"))).toEqual([]);
      const byName = new Map(r.charts.map((c) => [c.name, c]));
      // 110 users: one bar each; every detector a ROC and a DET line plus its EER dot
      expect(byName.get("per-user")!.marks).toBe(doc.dataset.users);
      const detectors = Object.keys(doc.verification.detectors).length;
      expect(byName.get("roc")!.marks).toBe(2 * detectors);
      expect(byName.get("det")!.marks).toBe(2 * detectors);
      expect(byName.get("accuracy")!.marks).toBe(2);
      for (const c of r.charts) expect(c.marks, c.name).toBeGreaterThan(0);
    },
    240_000,
  );
});
