// chokidar → one settled event per bundle. A bundle is a top-level entry of the webapps folder;
// any change below it is a change of that bundle. An event is emitted only once the bundle has been
// quiet (no file events, and for a single file no fresh mtime) for settleMs, so a bundle still
// being written does not deploy half-done.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../log.ts';
import { isTransientName } from './bundle-name.ts';

export type BundleEvent =
  | { readonly kind: 'present'; readonly fileName: string; readonly path: string; readonly isDirectory: boolean }
  | { readonly kind: 'gone'; readonly fileName: string; readonly path: string };

export interface BundleWatcherOptions {
  readonly dir: string;
  readonly settleMs: number;
  readonly logger: Logger;
  readonly onEvent: (event: BundleEvent) => void;
}

export class BundleWatcher {
  readonly #o: BundleWatcherOptions;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #watcher: FSWatcher | null = null;

  constructor(options: BundleWatcherOptions) {
    this.#o = options;
  }

  /** Starts watching; resolves with the events for every bundle present now (the initial deploys). */
  async start(): Promise<BundleEvent[]> {
    const dir = this.#o.dir;
    const watcher = watch(dir, {
      ignoreInitial: true,
      ignored: (p: string) => ignoredPath(dir, p),
      followSymlinks: false,
    });
    this.#watcher = watcher;
    watcher.on('all', (_event: string, p: string) => this.#touched(p));
    watcher.on('error', (err: unknown) => this.#o.logger.error({ err, dir }, 'watcher error'));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    const present: BundleEvent[] = [];
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (isTransientName(entry.name)) continue;
      present.push({ kind: 'present', fileName: entry.name, path: path.join(dir, entry.name), isDirectory: entry.isDirectory() });
    }
    return present;
  }

  async stop(): Promise<void> {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    await this.#watcher?.close();
    this.#watcher = null;
  }

  #touched(p: string): void {
    const rel = path.relative(this.#o.dir, p);
    if (rel === '' || rel.startsWith('..')) return;
    const fileName = rel.split(path.sep, 1)[0]!;
    this.#schedule(fileName);
  }

  #schedule(fileName: string): void {
    clearTimeout(this.#timers.get(fileName));
    this.#timers.set(fileName, setTimeout(() => void this.#settle(fileName), this.#o.settleMs));
  }

  async #settle(fileName: string): Promise<void> {
    this.#timers.delete(fileName);
    const full = path.join(this.#o.dir, fileName);
    let info;
    try {
      info = await stat(full);
    } catch {
      if (!this.#timers.has(fileName)) this.#o.onEvent({ kind: 'gone', fileName, path: full });
      return;
    }
    if (this.#timers.has(fileName)) return; // more events arrived meanwhile
    if (!info.isDirectory() && Date.now() - info.mtimeMs < this.#o.settleMs) {
      this.#schedule(fileName); // still being written
      return;
    }
    this.#o.onEvent({ kind: 'present', fileName, path: full, isDirectory: info.isDirectory() });
  }
}

/** Hidden files and editor/temp files, at any depth, never count as a change. */
function ignoredPath(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  if (rel === '') return false;
  return rel.split(path.sep).some(isTransientName);
}
