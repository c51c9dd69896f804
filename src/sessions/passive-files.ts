// Passivated sessions' data, one small file per session under <stateDir>/sessions/passive/,
// written (and synced) by the journal's writer thread before the record that names it.
// Read back synchronously: a small file read is tens of microseconds (scripts/bench/sessions.ts
// measures it), cheaper than making every caller of get() handle a promise for the rare reload.
import { mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { decodeLines } from './journal-codec.ts';
import { setPairs } from './store.ts';

export class PassiveFiles {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
    mkdirSync(dir, { recursive: true });
  }

  /** Session ids are base64url: safe as file names. */
  #file(id: string): string {
    return path.join(this.#dir, id);
  }

  /** The session's data, or null when its file is missing or damaged. */
  read(id: string): Map<string, string> | null {
    let buf: Buffer;
    try {
      buf = readFileSync(this.#file(id));
    } catch {
      return null;
    }
    let flat: unknown = null;
    const damage = decodeLines(buf, (value) => (flat = value));
    if (damage !== null || !Array.isArray(flat)) return null;
    return setPairs(new Map(), (flat as unknown[]).map(String));
  }

  remove(id: string): void {
    try {
      unlinkSync(this.#file(id));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  ids(): string[] {
    return readdirSync(this.#dir);
  }
}
