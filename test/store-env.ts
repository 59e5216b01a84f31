import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Every test file gets an identity store of its own (inherited by the binaries it spawns), so that no test
// writes ./keystroke-id.db into the repository; tests that care about isolation pass --store themselves.
if (!process.env.KEYSTROKE_ID_STORE_FIXED)
  process.env.KEYSTROKE_ID_STORE = join(mkdtempSync(join(tmpdir(), "kid-test-store-")), "keystroke-id.db");
