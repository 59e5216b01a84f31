/** A user id keeps the form it has in the data: a number stays a number. */
export type Label = string | number;

/** The layouts the reader detects from a CSV header. */
export type Layout = "wide" | "derived" | "events";

/**
 * One typed sample, the same whatever layout it came from: press and release times in milliseconds
 * (relative; only differences matter), one entry per key, in typing order.
 */
export interface Sample {
  /** The user who typed it; undefined when the input has no label column. */
  label?: Label;
  press: number[];
  release: number[];
  /** Key names when the layout has them (derived and events layouts). */
  keys?: string[];
  /** Where the sample came from, for error messages and reports. */
  source?: { file: string; line: number };
  /** Session / repetition id when the layout has one. */
  session?: string | number;
  /** Repetition within the session (derived layout's `rep`). */
  rep?: number;
}
