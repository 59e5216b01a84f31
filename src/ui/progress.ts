import type { TrainEvent } from "../train/train-models.js";
import { applyTrainEvent, type ModelProgress } from "./train-progress.js";

/** 3.2 → "3.2 s", 75 → "1 m 15 s": seconds as a person reads them. */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "?";
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} m ${Math.round(s - m * 60)} s`;
}

/** One plain progress line of a model: `RF timings: 150/300 trees, 3.1 s, ETA 3.0 s`. */
export function progressLine(m: ModelProgress): string {
  const tail = m.finished
    ? `done in ${formatSeconds(m.elapsedS)}`
    : `${formatSeconds(m.elapsedS)}${m.etaS !== null ? `, ETA ${formatSeconds(m.etaS)}` : ""}`;
  return `${m.label}: ${m.done}/${m.total} ${m.phase}, ${tail}`;
}

/** A progress sink: takes training events, shows them somewhere, and is stopped once. */
export interface ProgressSink {
  update: (e: TrainEvent) => void;
  stop: () => void;
}

/**
 * Progress as plain lines for a log or CI (stderr not a terminal): per model, at most one line every
 * `everyMs`, plus one when it finishes, so a long run shows it is alive without flooding the log.
 */
export function plainProgress(
  write: (line: string) => void,
  options: { everyMs?: number; now?: () => number } = {},
): ProgressSink {
  const everyMs = options.everyMs ?? 2000;
  const now = options.now ?? (() => performance.now());
  let models: ModelProgress[] = [];
  const lastShown = new Map<string, number>();
  return {
    update(e) {
      const t = now();
      models = applyTrainEvent(models, e, t);
      const m = models.find((x) => x.key === `${e.algorithm}/${e.featureSet}`)!;
      const last = lastShown.get(m.key);
      if (m.finished || last === undefined || t - last >= everyMs) {
        lastShown.set(m.key, t);
        write(progressLine(m));
      }
    },
    stop() {},
  };
}

/** No progress at all (`--quiet`). */
export const silentProgress: ProgressSink = { update() {}, stop() {} };
