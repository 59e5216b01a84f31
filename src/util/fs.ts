import { createHash, randomBytes } from "node:crypto";
import {
  access,
  constants,
  mkdir,
  open,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { KeystrokeError, type ErrorPlace } from "../errors.js";

// errno codes a person can act on, said in words (the code stays in brackets for searching)
const IO_WORDS: Record<string, string> = {
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "read-only file system",
  ENOENT: "its directory does not exist",
  ENOTDIR: "a part of the path is not a directory",
  EISDIR: "is a directory",
  EMFILE: "too many open files",
  EIO: "input/output error",
};

/** "no space left on device (ENOSPC)": an fs error in words, for a message. */
export function ioErrorText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === undefined) return e instanceof Error ? e.message : String(e);
  return IO_WORDS[code] ? `${IO_WORDS[code]} (${code})` : code;
}

/** The KeystrokeError for a file that cannot be written, naming it and saying why in words. */
export function writeError(file: string, e: unknown, place: ErrorPlace = {}): KeystrokeError {
  if (e instanceof KeystrokeError) return e;
  return new KeystrokeError("IO", `cannot be written: ${ioErrorText(e)}`, { file, ...place }, { cause: e });
}

// `.<name>.<pid>.<8 hex>.tmp`: the pid lets a later run tell a dead writer's leftovers from a live one's
function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
}
const TEMP_NAME = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/;

// A FIFO, a character device (/dev/stdout, /dev/null) or a socket cannot be replaced by a rename
// (as root, renaming over /dev/stdout would replace the device node): such targets are written in place.
async function isSpecialFile(path: string): Promise<boolean> {
  try {
    const s = await stat(path);
    return !s.isFile() && !s.isDirectory();
  } catch {
    return false;
  }
}

/**
 * Writes a file atomically: a temporary file beside it, flushed to disk, then a rename, so readers never
 * see half a file and a crash leaves the old file whole. A FIFO or device target is written in place.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  place: ErrorPlace = {},
): Promise<void> {
  if (await isSpecialFile(path)) {
    try {
      await writeFile(path, data);
    } catch (e) {
      throw writeError(path, e, place);
    }
    return;
  }
  const tmp = tempPath(path);
  try {
    await mkdir(dirname(path), { recursive: true });
    const handle = await open(tmp, "wx");
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw writeError(path, e, place);
  }
}

/** Flushes a directory's entries (the renames in it) to disk; a no-op where directories cannot be opened. */
export async function syncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch {
    // some platforms and file systems refuse fsync on a directory; the rename is still atomic there
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Hex sha256 of a string or bytes. */
export function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Removes `.…<pid>.<hex>.tmp` files in `dir` left by processes that no longer run; returns their names. */
export async function removeStaleTempFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m || processAlive(Number(m[1]))) continue;
    await rm(join(dir, name), { force: true }).catch(() => undefined);
    removed.push(name);
  }
  return removed;
}

/**
 * Checks, without creating anything, that `dir` (or the nearest existing parent it would be created in)
 * can be written, so a long run fails before its work rather than after it.
 */
export async function checkWritableDir(dir: string, place: ErrorPlace = {}): Promise<void> {
  let probe = resolve(dir);
  for (;;) {
    try {
      const s = await stat(probe);
      if (!s.isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
      await access(probe, constants.W_OK | constants.X_OK);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" && dirname(probe) !== probe) {
        probe = dirname(probe);
        continue;
      }
      throw new KeystrokeError(
        "IO",
        `cannot be written: ${ioErrorText(e)}`,
        { file: probe === resolve(dir) ? dir : probe, ...place },
        { cause: e },
      );
    }
  }
}

/** A file being written beside its final path; it appears there whole on commit, or not at all. */
export interface AtomicFile {
  readonly path: string;
  readonly stream: NodeJS.WritableStream;
  /** Ends the stream, flushes it and renames the temporary file into place. */
  commit(): Promise<void>;
  /** Discards the temporary file (the final path is left untouched); returns the write error, if writing failed. */
  abort(): Promise<KeystrokeError | undefined>;
}

/**
 * Opens a temporary file next to `path` for streaming output that lands atomically (temp file, fsync,
 * rename). A FIFO or device target (`-o /dev/stdout`) is streamed to directly instead.
 */
export async function createAtomicFile(path: string, place: { flag?: string } = {}): Promise<AtomicFile> {
  const special = await isSpecialFile(path);
  const target = special ? path : tempPath(path);
  let handle;
  try {
    handle = await open(target, special ? "w" : "wx");
  } catch (e) {
    throw writeError(path, e, place);
  }
  const stream = handle.createWriteStream();
  let failure: unknown;
  stream.on("error", (e) => (failure ??= e));
  const closed = new Promise<void>((resolve) => stream.once("close", () => resolve()));
  const discard = async () => {
    if (!special) await rm(target, { force: true }).catch(() => undefined);
  };
  return {
    path,
    stream,
    async commit() {
      if (!failure) await new Promise<void>((resolve) => stream.end(() => resolve()));
      await closed;
      if (!failure && !special) {
        try {
          const h = await open(target, "r+");
          try {
            await h.sync();
          } finally {
            await h.close();
          }
          await rename(target, path);
        } catch (e) {
          failure = e;
        }
      }
      if (failure) {
        await discard();
        throw writeError(path, failure, place);
      }
    },
    async abort() {
      stream.destroy();
      await closed;
      await discard();
      return failure === undefined ? undefined : writeError(path, failure, place);
    },
  };
}

// A lock file with no pid in it is one whose writer died between creating and filling it; a live
// writer fills it within microseconds, so after this long it is taken over.
const EMPTY_LOCK_STALE_MS = 5_000;

/**
 * Runs `fn` holding an exclusive lock file (created with O_EXCL, holding our pid), so that two processes
 * updating the same store take turns. A lock left by a process that no longer runs is taken over.
 */
export async function withFileLock<T>(
  lockPath: string,
  fn: () => Promise<T>,
  options: { timeoutMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    let handle;
    try {
      handle = await open(lockPath, "wx");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST")
        throw new KeystrokeError(
          "IO",
          `cannot be created: ${ioErrorText(e)}`,
          { file: lockPath },
          { cause: e },
        );
      const holder = await lockHolder(lockPath);
      if (
        (holder !== undefined && !processAlive(holder)) ||
        (holder === undefined && (await olderThan(lockPath, EMPTY_LOCK_STALE_MS)))
      ) {
        await rm(lockPath, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new KeystrokeError(
          "IO",
          `is held by process ${holder ?? "?"}; another update of this store is running`,
          { file: lockPath },
          {
            suggestion: "wait for it to finish, or remove the lock file if no such process runs",
          },
        );
      }
      await new Promise((r) => setTimeout(r, 25));
      continue;
    }
    try {
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (e) {
      // a full disk can refuse even these few bytes: leave no empty lock behind
      await handle.close().catch(() => undefined);
      await rm(lockPath, { force: true }).catch(() => undefined);
      throw new KeystrokeError(
        "IO",
        `cannot be created: ${ioErrorText(e)}`,
        { file: lockPath },
        { cause: e },
      );
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockPath, { force: true });
  }
}

async function olderThan(path: string, ms: number): Promise<boolean> {
  try {
    return Date.now() - (await stat(path)).mtimeMs > ms;
  } catch {
    return false;
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

/** True when a process with this pid runs (or exists but is not ours to signal). */
export function processAlive(pid: number): boolean {
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
  return new KeystrokeError(
    "IO",
    code === "ENOENT" ? "no such file" : `cannot be read (${code ?? (e as Error).message})`,
    { file },
    { cause: e },
  );
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
