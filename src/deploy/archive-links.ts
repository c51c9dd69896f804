// Links are created after every file and folder of an archive is written: while files are being
// written there is no link in the tree at all, so no write can be redirected by one.

import { link, mkdir, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { placedSegments } from './archive-entries.ts';
import type { ArchiveEntry } from './archive-entries.ts';

/** Creates the hard links, then the symbolic links, of checked entries below `dir`; a later entry replaces an earlier one. */
export async function createLinks(dir: string, entries: readonly ArchiveEntry[], stripPackage: boolean): Promise<void> {
  const at = (raw: string): string => path.join(dir, ...placedSegments(raw, stripPackage));
  for (const kind of ['hardlink', 'symlink'] as const) {
    for (const entry of entries) {
      if (entry.kind !== kind) continue;
      const destination = at(entry.path);
      await mkdir(path.dirname(destination), { recursive: true });
      await rm(destination, { force: true });
      if (kind === 'hardlink') await link(at(entry.linkTarget!), destination);
      else await symlink(entry.linkTarget!, destination);
    }
  }
}
