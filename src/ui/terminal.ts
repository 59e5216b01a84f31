import { Chalk, type ChalkInstance } from "chalk";

/** True when a person is at the terminal: stdout is a TTY and CI is not set (ink and colour only then). */
export function isInteractive(stream: NodeJS.WriteStream = process.stdout): boolean {
  return Boolean(stream.isTTY) && !process.env.CI;
}

let colorEnabled: boolean | undefined;

/** Turns colour off for the whole process (`--no-color`). */
export function disableColor(): void {
  colorEnabled = false;
}

/** The one chalk instance: honours NO_COLOR, FORCE_COLOR, --no-color, and no colour when not a TTY. */
export function color(stream: NodeJS.WriteStream = process.stderr): ChalkInstance {
  const env = process.env;
  let level: 0 | 1 | 2 | 3;
  if (colorEnabled === false || (env.NO_COLOR !== undefined && env.NO_COLOR !== "")) level = 0;
  else if (env.FORCE_COLOR !== undefined)
    level = env.FORCE_COLOR === "0" || env.FORCE_COLOR === "false" ? 0 : 1;
  else level = stream.isTTY ? 2 : 0;
  return new Chalk({ level });
}

/** Writes one line for a person (stderr). */
export function say(message: string): void {
  process.stderr.write(message.endsWith("\n") ? message : message + "\n");
}

/** Writes a result (stdout). */
export function emit(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : text + "\n");
}

/** Writes one JSON document on stdout. */
export function emitJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}
