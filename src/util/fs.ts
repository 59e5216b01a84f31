import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { KeystrokeError } from "../errors.js";

/** Writes a file atomically: a temporary file beside it, then a rename, so readers never see half a file. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    const code = (e as NodeJS.ErrnoException).code;
    throw new KeystrokeError("IO", `cannot be written (${code ?? (e as Error).message})`, { file: path }, { cause: e });
  }
}

/** Hex sha256 of a string or bytes. */
export function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A file being written beside its final path; it appears there whole on commit, or not at all. */
export interface AtomicFile {
  readonly path: string;
  readonly stream: NodeJS.WritableStream;
  /** Ends the stream, flushes it and renames the temporary file into place. */
  commit(): Promise<void>;
  /** Discards the temporary file; the final path is left untouched. */
  abort(): Promise<void>;
}

/** Opens a temporary file next to `path` for streaming output that lands atomically (temp file + rename). */
export async function createAtomicFile(path: string, place: { flag?: string } = {}): Promise<AtomicFile> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  let handle;
  try {
    handle = await open(tmp, "wx");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "its directory does not exist" : `cannot be written (${code ?? (e as Error).message})`;
    throw new KeystrokeError("IO", why, { file: path, ...place }, { cause: e });
  }
  const stream = handle.createWriteStream();
  let failure: unknown;
  stream.on("error", (e) => (failure ??= e));
  const closed = new Promise<void>((resolve) => stream.once("close", () => resolve()));
  return {
    path,
    stream,
    async commit() {
      if (!failure) await new Promise<void>((resolve) => stream.end(() => resolve()));
      await closed;
      if (failure) {
        await rm(tmp, { force: true });
        throw new KeystrokeError("IO", `cannot be written (${(failure as NodeJS.ErrnoException).code ?? String(failure)})`, { file: path, ...place }, { cause: failure });
      }
      await rename(tmp, path);
    },
    async abort() {
      stream.destroy();
      await closed;
      await rm(tmp, { force: true });
    },
  };
}

/**
 * Runs `fn` holding an exclusive lock file (created with O_EXCL, holding our pid), so that two processes
 * updating the same store take turns. A lock left by a process that no longer runs is taken over.
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, options: { timeoutMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    try {
      const handle = await open(lockPath, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw new KeystrokeError("IO", `cannot be created (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file: lockPath }, { cause: e });
      const holder = await lockHolder(lockPath);
      if (holder !== undefined && !processAlive(holder)) {
        await rm(lockPath, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new KeystrokeError("IO", `is held by process ${holder ?? "?"}; another update of this store is running`, { file: lockPath }, {
          suggestion: "wait for it to finish, or remove the lock file if no such process runs",
        });
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockPath, { force: true });
  }
}

async function lockHolder(lockPath: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(lockPath, "utf8")).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The KeystrokeError for a file that cannot be opened or read, with the place named. */
export function readError(file: string, e: unknown): KeystrokeError {
  const code = (e as NodeJS.ErrnoException).code;
  return new KeystrokeError("IO", code === "ENOENT" ? "no such file" : `cannot be read (${code ?? (e as Error).message})`, { file }, { cause: e });
}

/** All bytes of a file, or of stdin when the path is "-". */
export async function readInputBytes(path: string): Promise<Buffer> {
  if (path === "-") {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }
  try {
    return await readFile(path);
  } catch (e) {
    throw readError(path, e);
  }
}
