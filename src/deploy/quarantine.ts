// Bundles that crashed the host, so one bad bundle cannot crash-loop it: `<stateDir>/quarantine.json`
// maps a bundle file name to the fingerprint its files had when it crashed. A quarantined bundle is
// not loaded again while its fingerprint is unchanged; changing its files (or deleting its entry)
// clears it. Written synchronously: the process is about to abort when an entry is added.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

export type QuarantineEntries = Record<string, string>;

export class Quarantine {
  readonly file: string;
  #entries: QuarantineEntries;

  constructor(file: string) {
    this.file = file;
    this.#entries = readQuarantine(file);
  }

  /** True when `fileName` crashed the host with exactly these files. */
  holds(fileName: string, fingerprint: string): boolean {
    return this.#entries[fileName] === fingerprint;
  }

  has(fileName: string): boolean {
    return Object.hasOwn(this.#entries, fileName);
  }

  /** Quarantines the bundle (synchronous: called right before the process aborts). */
  add(fileName: string, fingerprint: string): void {
    this.#entries = addQuarantineEntrySync(this.file, fileName, fingerprint);
  }

  /** Lifts the quarantine (the bundle's files changed). */
  clear(fileName: string): void {
    if (!this.has(fileName)) return;
    const next = { ...readQuarantine(this.file) };
    delete next[fileName];
    writeQuarantine(this.file, next);
    this.#entries = next;
  }
}

/** What an operator reads on a quarantined version. */
export function quarantineReason(fileName: string, file: string): string {
  return `quarantined: ${fileName} crashed the host (an isolate V8 could not stop); it is not loaded again until its files change, or until its entry is deleted from ${file} and the host restarts`;
}

/** Re-reads the file and adds the entry: also used by the stuck-isolate watchdog's own thread. */
export function addQuarantineEntrySync(file: string, fileName: string, fingerprint: string): QuarantineEntries {
  const next = { ...readQuarantine(file), [fileName]: fingerprint };
  writeQuarantine(file, next);
  return next;
}

function readQuarantine(file: string): QuarantineEntries {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}

function writeQuarantine(file: string, entries: QuarantineEntries): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(entries, null, 2)}\n`);
  renameSync(tmp, file);
}
