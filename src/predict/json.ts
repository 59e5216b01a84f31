import { KeystrokeError } from "../errors.js";

/** Where a JSON text first goes wrong: 0-based offset, 1-based line and column, and why. */
export interface JsonFault {
  offset: number;
  line: number;
  column: number;
  reason: string;
}

/**
 * Parses JSON, or throws BAD_JSON naming the line and column of the first fault. V8's own messages
 * sometimes carry no position and sometimes echo the input (which may hold someone's timings), so the
 * position comes from a small scanner run only on the error path.
 */
export function parseJson(text: string, where: { file?: string; line?: number } = {}): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const fault = findJsonFault(text) ?? { offset: 0, line: 1, column: 1, reason: "not valid JSON" };
    const line = (where.line ?? 1) + fault.line - 1;
    throw new KeystrokeError(
      "BAD_JSON",
      `invalid JSON at column ${fault.column}: ${fault.reason}`,
      { ...(where.file ? { file: where.file } : {}), line },
      { cause: e },
    );
  }
}

/** The first syntax fault of a JSON text, or null when it is valid. */
export function findJsonFault(text: string): JsonFault | null {
  let i = 0;
  const n = text.length;
  const fail = (reason: string): never => {
    throw new FaultAt(i, reason);
  };
  const ws = () => {
    while (i < n && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  };
  const unexpected = (): never =>
    fail(i >= n ? "unexpected end of input" : `unexpected character ${JSON.stringify(text[i])}`);
  const value = (depth: number): void => {
    if (depth > 512) fail("nested too deeply");
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      ws();
      if (text[i] === "}") return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"')
          fail(i >= n ? "unexpected end of input" : "expected a property name in double quotes");
        string();
        ws();
        if (text[i] !== ":") fail(i >= n ? "unexpected end of input" : "expected ':' after a property name");
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "}") return void i++;
        else fail(i >= n ? "unexpected end of input" : "expected ',' or '}' after a property value");
      }
    } else if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") return void i++;
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "]") return void i++;
        else fail(i >= n ? "unexpected end of input" : "expected ',' or ']' after an array element");
      }
    } else if (c === '"') string();
    else if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) num();
    else if (text.startsWith("true", i)) i += 4;
    else if (text.startsWith("false", i)) i += 5;
    else if (text.startsWith("null", i)) i += 4;
    else unexpected();
  };
  const string = () => {
    i++;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) return void i++;
      if (c < 0x20) fail("control character in a string");
      if (c === 0x5c) {
        i++;
        const e = text[i];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail("bad \\u escape");
          i += 5;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
        else fail("bad escape in a string");
      } else i++;
    }
    fail("unterminated string");
  };
  const num = () => {
    if (text[i] === "-") i++;
    if (text[i] === "0") i++;
    else if (/[1-9]/.test(text[i] ?? "")) while (/[0-9]/.test(text[i] ?? "")) i++;
    else unexpected();
    if (text[i] === ".") {
      i++;
      if (!/[0-9]/.test(text[i] ?? "")) unexpected();
      while (/[0-9]/.test(text[i] ?? "")) i++;
    }
    if (text[i] === "e" || text[i] === "E") {
      i++;
      if (text[i] === "+" || text[i] === "-") i++;
      if (!/[0-9]/.test(text[i] ?? "")) unexpected();
      while (/[0-9]/.test(text[i] ?? "")) i++;
    }
  };
  try {
    ws();
    if (i >= n) fail("empty input");
    value(0);
    ws();
    if (i < n) fail("unexpected text after the JSON value");
    return null;
  } catch (e) {
    if (!(e instanceof FaultAt)) throw e;
    let line = 1;
    let lineStart = 0;
    for (let k = 0; k < e.offset && k < n; k++) {
      if (text[k] === "\n") {
        line++;
        lineStart = k + 1;
      }
    }
    return { offset: e.offset, line, column: e.offset - lineStart + 1, reason: e.reason };
  }
}

class FaultAt extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}
