// The on-disk shape of session journal records: one record per line, `<crc32 hex> <json>\n`.
// JSON never contains a raw newline, so a damaged line (torn write, flipped byte) is skipped and
// reading resumes at the next newline: a bad record costs that record, not the rest of the file.
import { crc32 } from 'node:zlib';

/**
 * What happened to the sessions, in order. Values stay the JSON texts the app produced.
 *   c: created (or reloaded) with its full data   u: keys set/deleted     t: last access
 *   b: bound to another version                   r: renamed (rotated)    d: deleted
 *   p: passivated: its data lives in passive/<id>, only the rest is in memory
 */
export type JournalOp =
  | readonly ['c', id: string, app: string, version: string, createdAt: number, lastAccessAt: number, data: readonly string[]]
  | readonly ['u', id: string, lastAccessAt: number, set: readonly string[], del: readonly string[]]
  | readonly ['t', id: string, lastAccessAt: number]
  | readonly ['b', id: string, version: string]
  | readonly ['r', id: string, newId: string]
  | readonly ['d', id: string]
  | readonly ['p', id: string, app: string, version: string, createdAt: number, lastAccessAt: number];

const tags = new Set(['c', 'u', 't', 'b', 'r', 'd', 'p']);

/** The checksum a record's line starts with, `<checksum> <json>\n` (of its JSON text, as UTF-8). */
export function lineChecksum(json: string | Uint8Array): string {
  return crc32(json).toString(16).padStart(8, '0');
}

export interface Damage {
  /** Byte offset of the first damaged record. */
  readonly offset: number;
  /** Damaged or unreadable records skipped. */
  readonly skipped: number;
}

/** Calls `each` with every intact record's parsed JSON; reports where the file was damaged, if it was. */
export function decodeLines(buf: Buffer, each: (value: unknown) => void): Damage | null {
  let firstBad = -1;
  let skipped = 0;
  let start = 0;
  while (start < buf.length) {
    let end = buf.indexOf(10, start);
    const complete = end !== -1;
    if (!complete) end = buf.length;
    const value = complete ? decodeOne(buf, start, end) : bad;
    if (value === bad) {
      if (firstBad === -1) firstBad = start;
      skipped++;
    } else {
      each(value);
    }
    start = end + 1;
  }
  return firstBad === -1 ? null : { offset: firstBad, skipped };
}

const bad = Symbol('bad');

function decodeOne(buf: Buffer, start: number, end: number): unknown {
  if (end - start < 10 || buf[start + 8] !== 32 /* space */) return bad;
  const expected = Number.parseInt(buf.toString('latin1', start, start + 8), 16);
  const body = buf.subarray(start + 9, end);
  if (!Number.isInteger(expected) || crc32(body) !== expected) return bad;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return bad;
  }
}

/** A decoded value is a journal op when its shape says so (the checksum proved the bytes, not the writer). */
export function isJournalOp(value: unknown): value is JournalOp {
  return Array.isArray(value) && typeof value[0] === 'string' && tags.has(value[0]) && typeof value[1] === 'string';
}
