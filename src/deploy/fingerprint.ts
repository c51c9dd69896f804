// A cheap identity of a bundle's content (paths, sizes, mtimes), so an event that changed nothing
// (a duplicate watcher event, the initial scan racing the watcher) does not redeploy a version.
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';

const maxEntries = 50_000;

export async function fingerprint(bundlePath: string): Promise<string> {
  const hash = createHash('sha1');
  const top = await lstat(bundlePath);
  if (!top.isDirectory()) {
    hash.update(`${top.size}:${top.mtimeMs}`);
    return hash.digest('hex');
  }
  let count = 0;
  const walk = async (dir: string, rel: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (++count > maxEntries) return;
      const full = path.join(dir, entry.name);
      const relPath = `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        hash.update(`d:${relPath}\n`);
        await walk(full, relPath);
      } else {
        const s = await lstat(full);
        hash.update(`f:${relPath}:${s.size}:${s.mtimeMs}\n`);
      }
    }
  };
  await walk(bundlePath, '');
  return hash.digest('hex');
}
