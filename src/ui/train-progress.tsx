import { Box, Text } from "ink";
import type { TrainEvent } from "../train/train-models.js";
import { formatSeconds } from "./progress.js";

/** The state of one model's fit, as the progress view draws it. */
export interface ModelProgress {
  key: string;
  label: string;
  phase: string;
  done: number;
  total: number;
  finished: boolean;
  /** When the first event of this model arrived (ms, performance.now()). */
  startedMs: number;
  /** Seconds since then, and the estimated seconds left (null until there is a rate to go by). */
  elapsedS: number;
  etaS: number | null;
  /** The count at the first event: the rate is measured from there. */
  firstDone: number;
}

/** Folds a training event into the progress list (pure, so tests and the view share it). */
export function applyTrainEvent(
  list: readonly ModelProgress[],
  e: TrainEvent,
  nowMs: number = performance.now(),
): ModelProgress[] {
  const key = `${e.algorithm}/${e.featureSet}`;
  const i = list.findIndex((m) => m.key === key);
  const startedMs = i < 0 ? nowMs : list[i]!.startedMs;
  const elapsedS = (nowMs - startedMs) / 1000;
  const finished = e.total > 0 && e.done >= e.total;
  // the rate since this model's first event; the first event itself gives no rate
  const firstDone = i < 0 ? e.done : list[i]!.firstDone;
  const doneSince = e.done - firstDone;
  const etaS = finished
    ? 0
    : doneSince > 0 && elapsedS > 0
      ? (elapsedS / doneSince) * (e.total - e.done)
      : null;
  const entry: ModelProgress = {
    key,
    label: `${e.algorithm} ${e.featureSet}`,
    phase: e.stage === "refit" ? `refit: ${e.phase}` : e.phase,
    done: e.done,
    total: e.total,
    finished,
    startedMs,
    elapsedS,
    etaS,
    firstDone,
  };
  if (i < 0) return [...list, entry];
  const copy = [...list];
  copy[i] = entry;
  return copy;
}

const WIDTH = 24;

/** Live per-model progress bars (trees, boosting rounds, folds) for a person at a terminal. */
export function TrainProgressView({ models, title }: { models: readonly ModelProgress[]; title: string }) {
  return (
    <Box flexDirection="column">
      <Text bold>{title}</Text>
      {models.map((m) => {
        const share = m.total > 0 ? Math.min(1, m.done / m.total) : 0;
        const filled = Math.round(share * WIDTH);
        return (
          <Box key={m.key}>
            <Box width={14}>
              <Text>{m.label}</Text>
            </Box>
            <Text color={m.finished ? "green" : "cyan"}>{"█".repeat(filled)}</Text>
            <Text dimColor>{"░".repeat(WIDTH - filled)}</Text>
            <Text>
              {" "}
              {m.done}/{m.total} {m.phase}
              {m.finished
                ? ` ✓ ${formatSeconds(m.elapsedS)}`
                : m.etaS !== null
                  ? ` ETA ${formatSeconds(m.etaS)}`
                  : ""}
            </Text>
          </Box>
        );
      })}
    </Box>
  );
}
