// After tsc: writes dist/recorder/keystroke-recorder.js, the single-file <script> build of the recorder
// (the same text `serve` answers at /recorder.js).
import { writeFile } from "node:fs/promises";
import { readRecorderScript } from "../dist/recorder/script.js";

const out = new URL("../dist/recorder/keystroke-recorder.js", import.meta.url);
await writeFile(out, await readRecorderScript());
