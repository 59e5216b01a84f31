import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { KeystrokeError } from "../errors.js";

/** The global the single-file script defines. */
export const RECORDER_GLOBAL = "KeystrokeRecorder";

/** Where the compiled recorder module is: dist/recorder/recorder.js, from both src/ (tests) and dist/. */
export const RECORDER_MODULE_PATH = fileURLToPath(
  new URL("../../dist/recorder/recorder.js", import.meta.url),
);

/**
 * Turns the compiled recorder ES module into a classic script for a `<script>` tag that defines
 * `globalThis.KeystrokeRecorder`: each top-level `export function|const|class` loses its `export` and
 * becomes a property of the global. The recorder imports nothing, so nothing else needs rewriting; any
 * other import or export form is refused rather than wrapped wrongly.
 */
export function scriptFromModule(source: string): string {
  const names: string[] = [];
  const body = source
    .replace(/^\/\/# sourceMappingURL=.*$/m, "")
    .replace(
      /^export (async function|function|const|let|class) ([A-Za-z_$][\w$]*)/gm,
      (_m, kind: string, name: string) => {
        names.push(name);
        return `${kind} ${name}`;
      },
    );
  if (/^\s*(import|export)\b/m.test(body)) {
    throw new KeystrokeError(
      "IO",
      "the recorder module has an import or export the script wrapper cannot turn into a global",
    );
  }
  if (!names.includes("createRecorder"))
    throw new KeystrokeError("IO", "the recorder module exports no createRecorder");
  const exported = names.map((n) => `${n}: ${n}`).join(", ");
  return `/* keystroke-id recorder: defines globalThis.${RECORDER_GLOBAL} */\n(function () {\n"use strict";\n${body.trim()}\nglobalThis.${RECORDER_GLOBAL} = Object.freeze({ ${exported} });\n})();\n`;
}

/** Reads the compiled recorder module and returns it as the `<script>` file (throws IO when dist/ is not built). */
export async function readRecorderScript(path = RECORDER_MODULE_PATH): Promise<string> {
  let source: string;
  try {
    source = await readFile(path, "utf8");
  } catch (e) {
    throw new KeystrokeError(
      "IO",
      `cannot read the compiled recorder ${path} (run npm run build): ${(e as Error).message}`,
      { file: path },
    );
  }
  return scriptFromModule(source);
}
