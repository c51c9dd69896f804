// The bundled prelude, kept on disk between starts of a host: bundling it with esbuild costs
// ~300 ms, which every restart (a crash restart included) would otherwise pay. The cache key covers
// every prelude source file and the lockfile (the versions of the libraries bundled into it), so a
// change to either rebundles.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundlePrelude } from './prelude-source.ts';

const repoRoot = path.join(import.meta.dirname, '..', '..');

/** The prelude script for `entryFile`, from `cacheDir` when its sources did not change. */
export function cachedPrelude(entryFile: string, cacheDir: string): string {
  const key = sourceKey(path.dirname(entryFile));
  const file = path.join(cacheDir, `prelude-${key}.js`);
  try {
    return readFileSync(file, 'utf8');
  } catch {
    // Not cached yet (or unreadable): bundle and keep it.
  }
  const source = bundlePrelude(entryFile);
  try {
    mkdirSync(cacheDir, { recursive: true });
    for (const old of readdirSync(cacheDir)) if (old.startsWith('prelude-') && old !== path.basename(file)) rmSync(path.join(cacheDir, old), { force: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, source);
    renameSync(tmp, file);
  } catch {
    // A cache that cannot be written only costs the next start its bundling time.
  }
  return source;
}

function sourceKey(dir: string): string {
  const hash = createHash('sha256');
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.js')) hash.update(`${path.relative(dir, full)}\n`).update(readFileSync(full));
    }
  };
  walk(dir);
  try {
    hash.update(readFileSync(path.join(repoRoot, 'package-lock.json')));
  } catch {
    hash.update('no lockfile');
  }
  return hash.digest('hex').slice(0, 16);
}
