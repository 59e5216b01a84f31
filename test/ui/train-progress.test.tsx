import { render } from "ink-testing-library";
import { describe, expect, it } from "vitest";
import { applyTrainEvent, TrainProgressView, type ModelProgress } from "../../src/ui/train-progress.js";

describe("training progress view", () => {
  it("folds events per model and draws a bar for each", () => {
    let models: ModelProgress[] = [];
    models = applyTrainEvent(models, {
      algorithm: "RF",
      featureSet: "timings",
      phase: "trees",
      done: 50,
      total: 100,
    });
    models = applyTrainEvent(models, {
      algorithm: "XGB",
      featureSet: "summary",
      phase: "rounds",
      done: 1,
      total: 4,
    });
    models = applyTrainEvent(models, {
      algorithm: "RF",
      featureSet: "timings",
      phase: "trees",
      done: 100,
      total: 100,
    });
    expect(models).toHaveLength(2);
    const { lastFrame } = render(<TrainProgressView models={models} title="training" />);
    const frame = lastFrame() ?? "";
    expect(frame).toContain("training");
    expect(frame).toMatch(/RF timings\s+█+\s*100\/100 trees ✓/);
    expect(frame).toMatch(/XGB summary\s+█+░+ 1\/4 rounds/);
  });
});
