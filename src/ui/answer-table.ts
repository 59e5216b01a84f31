import { renderTable as render } from "./table.js";

/** Renders without the columns that are empty in every row (no errors, no warnings: no such columns). */
function renderTable(
  head: string[],
  rows: string[][],
  stream: NodeJS.WriteStream,
  fit: { dropOrder: number[] },
): string {
  const keep = head.map((_, i) => i).filter((i) => rows.some((r) => r[i] !== ""));
  const order = fit.dropOrder.filter((i) => keep.includes(i)).map((i) => keep.indexOf(i));
  return render(
    keep.map((i) => head[i]!),
    rows.map((r) => keep.map((i) => r[i]!)),
    stream,
    { dropOrder: order },
  );
}

const pct = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : "");
const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(3) : "");
const text = (v: unknown) =>
  v === undefined || v === null ? "" : typeof v === "string" ? v : JSON.stringify(v);

/** Answers (identification or verification) as a table for a person: rounded, and fitted to the terminal. */
export function formatAnswerTable(
  rows: ReadonlyArray<Record<string, unknown>>,
  verifying: boolean,
  stream: NodeJS.WriteStream = process.stdout,
): string {
  const hasLine = rows.some((r) => r.line !== undefined);
  const hasLabel = rows.some((r) => r.label !== undefined);
  const lead = (r: Record<string, unknown>) => [
    ...(hasLine ? [text(r.line ?? r.index)] : []),
    ...(hasLabel ? [text(r.label)] : []),
  ];
  const leadHead = [...(hasLine ? ["line"] : []), ...(hasLabel ? ["label"] : [])];
  if (verifying) {
    const head = [
      ...leadHead,
      "UserID",
      "accepted",
      "anomaly",
      "confidence",
      "threshold",
      "detector",
      "flags",
      "error",
    ];
    const body = rows.map((r) => [
      ...lead(r),
      text(r.UserID),
      r.accepted === undefined ? "" : r.accepted ? "yes" : "no",
      num(r.anomaly_score),
      typeof r.confidence_score === "number" ? r.confidence_score.toFixed(0) : "",
      num(r.threshold),
      text(r.detector),
      [
        r.replay ? "replay" : "",
        r.scripted ? "scripted" : "",
        ...((r.warnings as string[] | undefined) ?? []),
      ]
        .filter(Boolean)
        .join(", "),
      text(r.error),
    ]);
    return renderTable(head, body, stream, {
      dropOrder: [head.indexOf("detector"), head.indexOf("threshold"), head.indexOf("flags")],
    });
  }
  const head = [...leadHead, "UserID", "Model", "features", "confidence", "top", "warnings", "error"];
  const body = rows.map((r) => [
    ...lead(r),
    r.unknown === true ? "unknown" : text(r.UserID),
    text(r.Model),
    text(r.features),
    pct(r.confidence),
    ((r.top as Array<{ UserID: unknown; probability: number }> | undefined) ?? [])
      .map((c) => `${String(c.UserID)} ${pct(c.probability)}`)
      .join(", "),
    ((r.warnings as string[] | undefined) ?? []).join("; "),
    text(r.error),
  ]);
  return renderTable(head, body, stream, { dropOrder: [head.indexOf("top"), head.indexOf("warnings")] });
}
