import { render } from "ink";
import type { TrainEvent } from "../train/train-models.js";
import { applyTrainEvent, TrainProgressView, type ModelProgress } from "./train-progress.js";

/** Starts the live ink view of a training run (stderr); returns the event sink and a stop function. */
export function startTrainView(title: string): { update: (e: TrainEvent) => void; stop: () => void } {
  let models: ModelProgress[] = [];
  const app = render(<TrainProgressView models={models} title={title} />, {
    stdout: process.stderr,
    patchConsole: false,
  });
  let pending: NodeJS.Timeout | undefined;
  return {
    update(e) {
      models = applyTrainEvent(models, e);
      // redraw at most every 50 ms: a forest reports every tree
      pending ??= setTimeout(() => {
        pending = undefined;
        app.rerender(<TrainProgressView models={models} title={title} />);
      }, 50);
    },
    stop() {
      if (pending) clearTimeout(pending);
      app.rerender(<TrainProgressView models={models} title={title} />);
      app.unmount();
    },
  };
}
