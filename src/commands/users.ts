import { Command } from "commander";
import type { OpenedIdentities } from "../identity/open.js";
import { parseNumber } from "./options.js";

/** The streams a command talks through; tests pass their own. */
interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

interface StoreFlags {
  store?: string;
  json?: boolean;
}

const STORE_HELP =
  "identity store: a SQLite file, sqlite:PATH or postgres://… (default: KEYSTROKE_ID_STORE, else ./keystroke-id.db)";

/** `keystroke-id users list|show|delete|export|import|audit`: the user lifecycle, as over HTTP (/users, /enroll). */
export function usersCommand(io: CommandIO = { stdout: process.stdout, stderr: process.stderr }): Command {
  const out = (flags: StoreFlags, value: unknown, text: string) =>
    io.stdout.write(flags.json ? JSON.stringify(value, null, 2) + "\n" : text);
  const users = new Command("users").description(
    "list, show, delete, export, import and audit enrolled users (the identity store)",
  );

  users
    .command("list")
    .description("enrolled users in id order (a page at a time)")
    .option("--after <id>", "start after this user id")
    .option("--limit <n>", "most users listed", "1000")
    .option("--store <path|url>", STORE_HELP)
    .option("--json", "one JSON document on stdout")
    .action(async (flags: StoreFlags & { after?: string; limit: string }) => {
      const limit = parseNumber(flags.limit, "--limit", { integer: true, min: 1, max: 1_000_000 });
      await withStore(flags, async ({ service }) => {
        const list = await service.list({
          ...(flags.after !== undefined ? { after: flags.after } : {}),
          limit,
        });
        const rows = list.map((u) => ({
          UserID: u.user,
          samples: u.samples,
          detector: u.detector,
          threshold: round(u.threshold),
          updated_at: new Date(u.updatedAt).toISOString(),
        }));
        out(
          flags,
          { users: rows, next: list.length === limit ? list.at(-1)!.id : null },
          rows
            .map(
              (r) =>
                `${String(r.UserID)}\t${r.samples} samples\t${r.detector}\tthreshold ${r.threshold}\tupdated ${r.updated_at}\n`,
            )
            .join(""),
        );
        if (!flags.json)
          io.stderr.write(
            `${rows.length} user(s)${list.length === limit ? ` (more after ${list.at(-1)!.id}: --after)` : ""}\n`,
          );
      });
    });

  users
    .command("show")
    .description(
      "what is known about a user: enrolled/updated at, samples, detector, threshold (never timings)",
    )
    .argument("<id>", "user id")
    .option("--store <path|url>", STORE_HELP)
    .option("--json", "one JSON document on stdout")
    .action(async (id: string, flags: StoreFlags) => {
      await withStore(flags, async ({ service }) => {
        const v = await service.show(await label(id), { flag: "<id>" });
        out(
          flags,
          v,
          Object.entries(v)
            .map(([k, x]) => `${k}: ${x === null ? "-" : String(x)}\n`)
            .join(""),
        );
      });
    });

  users
    .command("delete")
    .description(
      "erase a user's template, enrolment samples and replay hashes (the audit log keeps the deletion)",
    )
    .argument("<id>", "user id")
    .option("--store <path|url>", STORE_HELP)
    .option("--json", "one JSON document on stdout")
    .action(async (id: string, flags: StoreFlags) => {
      await withStore(flags, async ({ service }) => {
        const user = await label(id);
        await service.delete(user, { flag: "<id>" });
        out(flags, { UserID: user, deleted: true }, `deleted ${String(user)}\n`);
      });
    });

  users
    .command("export")
    .description(
      "write the store (or one user) as NDJSON: populations, then each user's template and samples",
    )
    .argument("[id]", "only this user")
    .option("-o, --out <file>", "write to this file instead of stdout")
    .option("--store <path|url>", STORE_HELP)
    .action(async (id: string | undefined, flags: StoreFlags & { out?: string }) => {
      const { exportStore } = await import("../identity/transfer.js");
      await withStore(flags, async ({ store }) => {
        const user =
          id === undefined
            ? undefined
            : (await import("../identity/service.js")).userKey(await label(id), { flag: "[id]" });
        const lines = exportStore(store, user === undefined ? {} : { user });
        if (flags.out !== undefined) {
          const { writeLinesAtomic } = await import("./users-file.js");
          const n = await writeLinesAtomic(flags.out, lines);
          io.stderr.write(`exported ${n - 1} record(s) to ${flags.out}\n`);
        } else {
          for await (const line of lines)
            if (!io.stdout.write(line)) await new Promise((r) => io.stdout.once("drain", r));
        }
      });
    });

  users
    .command("import")
    .description(
      "read an export (NDJSON) into the store, SQLite or PostgreSQL; a user already there is replaced",
    )
    .argument("<file>", "an export file, or - for stdin")
    .option("--store <path|url>", STORE_HELP)
    .option("--json", "one JSON document on stdout")
    .action(async (file: string, flags: StoreFlags) => {
      const { importStore } = await import("../identity/transfer.js");
      const { createReadStream } = await import("node:fs");
      const { createInterface } = await import("node:readline");
      await withStore(flags, async ({ store, service }) => {
        const input = file === "-" ? process.stdin : createReadStream(file);
        const rl = createInterface({ input, crlfDelay: Infinity });
        const t0 = performance.now();
        const r = await importStore(store, rl, {
          file: file === "-" ? "<stdin>" : file,
          instance: service.options.instance,
        });
        const seconds = Math.round(performance.now() - t0) / 1000;
        out(
          flags,
          { ...r, seconds, store: store.location },
          `imported ${r.users} user(s) (${r.replaced} replaced) and ${r.populations} population(s) into ${store.location} in ${seconds} s\n`,
        );
      });
    });

  users
    .command("audit")
    .description(
      "a user's audit log, newest first: enrolments, replacements, deletion, verification decisions",
    )
    .argument("<id>", "user id")
    .option("--limit <n>", "most entries", "100")
    .option("--store <path|url>", STORE_HELP)
    .option("--json", "one JSON document on stdout")
    .action(async (id: string, flags: StoreFlags & { limit: string }) => {
      const limit = parseNumber(flags.limit, "--limit", { integer: true, min: 1, max: 1_000_000 });
      await withStore(flags, async ({ service }) => {
        const user = await label(id);
        const entries = (await service.audit(user, limit, { flag: "<id>" })).map((e) => ({
          at: new Date(e.at).toISOString(),
          action: e.action,
          outcome: e.outcome,
          score: e.score ?? null,
          instance: e.instance,
        }));
        out(
          flags,
          { UserID: user, entries },
          entries
            .map(
              (e) =>
                `${e.at}\t${e.action}\t${e.outcome}${e.score !== null ? `\tscore ${round(e.score)}` : ""}\t${e.instance}\n`,
            )
            .join(""),
        );
      });
    });

  return users;
}

async function withStore(flags: StoreFlags, fn: (o: OpenedIdentities) => Promise<void>): Promise<void> {
  const { openIdentities } = await import("../identity/open.js");
  const opened = await openIdentities({ store: flags.store });
  try {
    await fn(opened);
  } finally {
    await opened.close();
  }
}

// a user id as `predict --claim` reads it: a plain number is that number's label
async function label(id: string) {
  const { parseClaim } = await import("../predict/request.js");
  return parseClaim(id, { flag: "<id>" });
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
