import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { readDataset } from "../../src/data/index.js";
import type { Sample } from "../../src/data/types.js";
import { KeystrokeError } from "../../src/errors.js";
import { extractTimings } from "../../src/features/index.js";
import { buildPopulation, enrollSamples } from "../../src/verify/index.js";
import { assessEnrolment } from "../../src/verify/quality.js";
import { ROOT } from "../helpers/cli.js";
import { syntheticSamples, vectorsOf } from "./helpers.js";

const IIITBH_BIG = resolve(ROOT, "..", "shared", "data", "iiitbh-big.csv");

describe("assessEnrolment", () => {
  it("refuses too few samples and samples of different lengths or texts, naming each problem", () => {
    const s = syntheticSamples(2, 6);
    const v = vectorsOf(s, 1);
    expect(assessEnrolment(v.slice(0, 2)).problems.map((p) => p.code)).toEqual(["too_few_samples"]);
    expect(assessEnrolment([...v.slice(0, 3), v[3]!.slice(0, 10)]).problems.map((p) => p.code)).toEqual([
      "different_lengths",
    ]);
    expect(
      assessEnrolment(v, undefined, { texts: ["abc", "abc", "abd", "abc", "abc", "abc"] }).problems.map(
        (p) => p.code,
      ),
    ).toEqual(["different_texts"]);
  });

  it("flags an exact repeat and a sample far from the others as outliers, and they lower the quality", () => {
    const s = syntheticSamples(6, 10, 6, 3);
    const population = buildPopulation([2, 3, 4, 5, 6].map((u) => ({ user: u, vectors: vectorsOf(s, u) })));
    const v = vectorsOf(s, 1);
    const clean = assessEnrolment(v, population);
    const odd = v.map((x) => [...x]);
    odd[4] = odd[4]!.map((t) => t * 4);
    odd[7] = [...odd[2]!];
    const q = assessEnrolment(odd, population);
    const reason = (i: number) => q.outliers.find((o) => o.index === i)?.reason;
    expect(reason(7)).toMatch(/repeats sample 3/);
    expect(reason(4)).toMatch(/far from the user's other samples/);
    expect(clean.outliers.map((o) => o.index)).not.toContain(4);
    expect(q.quality).toBeLessThan(clean.quality);
    expect(q.quality).toBeGreaterThanOrEqual(0);
    expect(clean.quality).toBeLessThanOrEqual(100);
  });

  it("refuses two synthetic typists mixed, calibrated on a population of others; force enrols and records it", () => {
    const s = syntheticSamples(12, 12, 6, 11);
    const others = Array.from({ length: 10 }, (_, i) => ({ user: i + 3, vectors: vectorsOf(s, i + 3) }));
    const population = buildPopulation(others);
    const mixed: Sample[] = [
      ...s.filter((x) => x.label === 1).slice(0, 5),
      ...s.filter((x) => x.label === 2).slice(0, 5),
    ].map((x) => ({ ...x, label: "mix" }));
    expect(assessEnrolment(vectorsOf(s, 1).slice(0, 10), population).problems).toEqual([]);
    try {
      enrollSamples(mixed, { population, onInconsistent: "refuse" });
      expect.unreachable();
    } catch (e) {
      expect((e as KeystrokeError).code).toBe("ENROLMENT_REFUSED");
      expect((e as KeystrokeError).message).toMatch(/user mix refused: .*two people/);
    }
    const forced = enrollSamples(mixed, { population, onInconsistent: "refuse", force: true });
    expect(forced.templates[0]!.forced).toEqual({ problems: ["two_people"] });
    expect(JSON.parse(JSON.stringify(forced.templates[0]!)).forced).toEqual({ problems: ["two_people"] });
  });
});

describe.skipIf(!existsSync(IIITBH_BIG))("enrolment quality on real data (iiitbh-big)", () => {
  it("refuses samples of two shared users mixed into one enrolment, accepts each alone", async () => {
    const ds = await readDataset(IIITBH_BIG, { requireLabel: true });
    const of = (u: string) => ds.samples.filter((x) => x.label === u);
    const population = buildPopulation(
      [...new Set(ds.samples.map((x) => String(x.label)))]
        .filter((u) => u !== "subject0" && u !== "subject1")
        .map((u) => ({ user: u, vectors: of(u).map((x) => extractTimings(x)) })),
    );
    const mixed = [...of("subject0").slice(0, 5), ...of("subject1").slice(0, 5)].map((x) => ({
      ...x,
      label: "new",
    }));
    expect(() => enrollSamples(mixed, { population, onInconsistent: "refuse" })).toThrow(/two people/);
    for (const u of ["subject0", "subject1"]) {
      const r = enrollSamples(of(u).slice(0, 10), { population, onInconsistent: "refuse" });
      expect(r.templates[0]!.quality).toBeGreaterThan(0);
    }
  });
});
