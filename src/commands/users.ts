import { Command } from "commander";
import type { OpenedIdentities } from "../identity/open.js";
import { writeRecords, type RecordColumn } from "../ui/records.js";
import {
  addOptions,
  helpEpilog,
  JSON_ALIAS,
  outputOption,
  parseNumber,
  resolveOutput,
  STORE,
  type OptionSpec,
  type OutputFormat,
} from "./options.js";

/** The streams a command talks through; tests pass their own. */
interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

interface StoreFlags {
  store?: string;
  output?: string;
  json?: boolean;
}

/** Formats of a command that prints one record, and of one that prints a list. */
const ONE: readonly OutputFormat[] = ["table", "json"];
const LIST: readonly OutputFormat[] = ["table", "json", "ndjson", "csv"];

const LIMIT = (what: string, def: string): OptionSpec => ({
  key: "limit",
  flags: "--limit <n>",
  description: `most ${what}`,
  default: def,
  config: false,
});

/** `keystroke-id users list|show|delete|export|import|audit`: the user lifecycle, as over HTTP (/users, /enroll). */
export function usersCommand(io: CommandIO = { stdout: process.stdout, stderr: process.stderr }): Command {
  const format = (flags: StoreFlags, formats: readonly OutputFormat[]) =>
    resolveOutput(flags, formats, "json", io.stdout as { isTTY?: boolean });
  const users = new Command("users")
    .description("list, show, delete, export, import and audit enrolled users (the identity store)")
    .addHelpText(
      "after",
      helpEpilog([
        "keystroke-id users list --limit 5",
        "keystroke-id users export --out users.ndjson",
        "keystroke-id users import users.ndjson --store copy.db",
      ]),
    );

  addOptions(
    users
      .command("list")
      .description("enrolled users in id order (a page at a time)")
      .option("--after <id>", "start after this user id"),
    [LIMIT("users listed", "1000"), STORE, outputOption(LIST), JSON_ALIAS],
  ).action(async (flags: StoreFlags & { after?: string; limit: string }) => {
    const limit = parseNumber(flags.limit, "--limit", { integer: true, min: 1, max: 1_000_000 });
    const output = format(flags, LIST);
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
      const next = list.length === limit ? list.at(-1)!.id : null;
      writeRecords(io.stdout, output, rows, { json: { users: rows, next }, columns: USER_COLUMNS });
      if (output === "table")
        io.stderr.write(`${rows.length} user(s)${next !== null ? ` (more after ${next}: --after)` : ""}\n`);
    });
  });

  addOptions(
    users
      .command("show")
      .description(
        "what is known about a user: enrolled/updated at, samples, detector, threshold (never timings)",
      )
      .argument("<id>", "user id"),
    [STORE, outputOption(ONE), JSON_ALIAS],
  ).action(async (id: string, flags: StoreFlags) => {
    const output = format(flags, ONE);
    await withStore(flags, async ({ service }) => {
      const v = await service.show(await label(id), { flag: "<id>" });
      writeRecords(io.stdout, output, [v as unknown as Record<string, unknown>], { json: v, vertical: true });
    });
  });

  addOptions(
    users
      .command("delete")
      .description(
        "erase a user's template, enrolment samples and replay hashes (the audit log keeps the deletion)",
      )
      .argument("<id>", "user id"),
    [STORE, outputOption(ONE), JSON_ALIAS],
  ).action(async (id: string, flags: StoreFlags) => {
    const output = format(flags, ONE);
    await withStore(flags, async ({ service }) => {
      const user = await label(id);
      await service.delete(user, { flag: "<id>" });
      const answer = { UserID: user, deleted: true };
      if (output === "json") writeRecords(io.stdout, output, [answer], { json: answer });
      else io.stdout.write(`deleted ${String(user)}\n`);
    });
  });

  addOptions(
    users
      .command("export")
      .description(
        "write the store (or one user) as NDJSON: populations, then each user's template and samples",
      )
      .argument("[id]", "only this user")
      .option("-o, --out <file>", "write to this file (atomically) instead of stdout"),
    [STORE],
  ).action(async (id: string | undefined, flags: StoreFlags & { out?: string }) => {
    const { exportStore } = await import("../identity/transfer.js");
    const out = flags.out;
    await withStore(flags, async ({ store }) => {
      const user =
        id === undefined
          ? undefined
          : (await import("../identity/service.js")).userKey(await label(id), { flag: "[id]" });
      const lines = exportStore(store, user === undefined ? {} : { user });
      if (out !== undefined) {
        const { writeLinesAtomic } = await import("./users-file.js");
        const n = await writeLinesAtomic(out, lines);
        io.stderr.write(`exported ${n - 1} record(s) to ${out}\n`);
      } else {
        for await (const line of lines)
          if (!io.stdout.write(line)) await new Promise((r) => io.stdout.once("drain", r));
      }
    });
  });

  addOptions(
    users
      .command("import")
      .description(
        "read an export (NDJSON) into the store, SQLite or PostgreSQL; a user already there is replaced",
      )
      .argument("<file>", "an export file, or - for stdin"),
    [STORE, outputOption(ONE), JSON_ALIAS],
  ).action(async (file: string, flags: StoreFlags) => {
    const output = format(flags, ONE);
    const { importStore } = await import("../identity/transfer.js");
    const { createInterface } = await import("node:readline");
    // open the file before the store, so a missing file is reported as such and no store is created for it
    const input = file === "-" ? process.stdin : await openForReading(file);
    await withStore(flags, async ({ store, service }) => {
      const rl = createInterface({ input, crlfDelay: Infinity });
      const t0 = performance.now();
      const r = await importStore(store, rl, {
        file: file === "-" ? "<stdin>" : file,
        instance: service.options.instance,
      });
      const seconds = Math.round(performance.now() - t0) / 1000;
      const answer = { ...r, seconds, store: store.location };
      if (output === "json") writeRecords(io.stdout, output, [answer], { json: answer });
      else
        io.stdout.write(
          `imported ${r.users} user(s) (${r.replaced} replaced) and ${r.populations} population(s) into ${store.location} in ${seconds} s\n`,
        );
    });
  });

  addOptions(
    users
      .command("audit")
      .description(
        "a user's audit log, newest first: enrolments, replacements, deletion, verification decisions",
      )
      .argument("<id>", "user id"),
    [LIMIT("entries", "100"), STORE, outputOption(LIST), JSON_ALIAS],
  ).action(async (id: string, flags: StoreFlags & { limit: string }) => {
    const limit = parseNumber(flags.limit, "--limit", { integer: true, min: 1, max: 1_000_000 });
    const output = format(flags, LIST);
    await withStore(flags, async ({ service }) => {
      const user = await label(id);
      const entries = (await service.audit(user, limit, { flag: "<id>" })).map((e) => ({
        at: new Date(e.at).toISOString(),
        action: e.action,
        outcome: e.outcome,
        score: e.score === undefined || e.score === null ? null : round(e.score),
        instance: e.instance,
      }));
      writeRecords(io.stdout, output, entries, { json: { UserID: user, entries }, columns: AUDIT_COLUMNS });
    });
  });

  return users;
}

const USER_COLUMNS: readonly RecordColumn[] = [
  { key: "UserID" },
  { key: "samples" },
  { key: "detector" },
  { key: "threshold" },
  { key: "updated_at", header: "updated at" },
];
const AUDIT_COLUMNS: readonly RecordColumn[] = [
  { key: "at" },
  { key: "action" },
  { key: "outcome" },
  { key: "score" },
  { key: "instance" },
];

async function withStore(flags: StoreFlags, fn: (o: OpenedIdentities) => Promise<void>): Promise<void> {
  const { openIdentities } = await import("../identity/open.js");
  const opened = await openIdentities({ store: flags.store });
  try {
    await fn(opened);
  } finally {
    await opened.close();
  }
}

/** A readable stream of a file that is known to open, or the catalogue's error naming the file. */
async function openForReading(file: string): Promise<NodeJS.ReadableStream> {
  const { open } = await import("node:fs/promises");
  const { readError } = await import("../util/fs.js");
  try {
    const handle = await open(file, "r");
    return handle.createReadStream();
  } catch (e) {
    throw readError(file, e);
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
