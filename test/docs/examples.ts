import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ROOT } from "../helpers/cli.js";

/** One documented command line: where it was found, and the line as written. */
export interface Example {
  source: string;
  command: string;
}

/** Every command line of the README's ```sh blocks (comments stripped, blank lines skipped). */
export function readmeExamples(readme = resolve(ROOT, "README.md")): Example[] {
  const text = readFileSync(readme, "utf8");
  const out: Example[] = [];
  const block = /^```sh\n([\s\S]*?)^```/gm;
  for (let m = block.exec(text); m; m = block.exec(text)) {
    const startLine = text.slice(0, m.index).split("\n").length + 1;
    m[1]!.split("\n").forEach((line, i) => {
      const command = stripComment(line).trim();
      if (command) out.push({ source: `README.md:${startLine + i}`, command });
    });
  }
  return out;
}

/** The `$ …` lines under "Examples:" in a `--help` text. */
export function helpExamples(help: string, source: string): Example[] {
  const at = help.indexOf("\nExamples:\n");
  if (at < 0) return [];
  const out: Example[] = [];
  for (const line of help.slice(at + 11).split("\n")) {
    const m = /^\s+\$ (.+)$/.exec(line);
    if (m) out.push({ source, command: m[1]!.trim() });
    else if (line.trim() !== "" && !line.startsWith(" ")) break;
  }
  return out;
}

/** `cmd --flag   # why` → `cmd --flag` (a # inside quotes is kept). */
export function stripComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i);
  }
  return line;
}
