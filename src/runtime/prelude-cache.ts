// The bundled prelude, kept on disk between starts of a host: bundling it with esbuild costs
// ~300 ms, which every restart (a crash restart included) would otherwise pay. The cache key covers
// every prelude source file, how they are bundled (prelude-source.ts: esbuild's options) and the
// lockfile (the versions of the libraries bundled into it), so a change to any of them rebundles.
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
  const sources = (readdirSync(dir, { recursive: true }) as string[]).filter((rel) => rel.endsWith('.js')).sort();
  for (const rel of sources) hash.update(`${rel}\n`).update(readFileSync(path.join(dir, rel)));
  hash.update(readFileSync(path.join(import.meta.dirname, 'prelude-source.ts')));
  try {
    hash.update(readFileSync(path.join(repoRoot, 'package-lock.json')));
  } catch {
    hash.update('no lockfile');
  }
  return hash.digest('hex').slice(0, 16);
}
