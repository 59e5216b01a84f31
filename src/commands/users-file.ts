import { rename, rm } from "node:fs/promises";
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { KeystrokeError } from "../errors.js";

/** Writes lines to `path` through a temp file renamed into place, so a failed export leaves nothing half written; returns the line count. */
export async function writeLinesAtomic(path: string, lines: AsyncIterable<string>): Promise<number> {
  const tmp = `${path}.${process.pid}.tmp`;
  const out = createWriteStream(tmp);
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (!out.write(line)) await once(out, "drain");
    }
    out.end();
    await once(out, "finish");
    await rename(tmp, path);
    return n;
  } catch (e) {
    out.destroy();
    await rm(tmp, { force: true });
    if (e instanceof KeystrokeError) throw e;
    throw new KeystrokeError(
      "IO",
      `cannot be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      { file: path, flag: "--out" },
      { cause: e },
    );
  }
}
