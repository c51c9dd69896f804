// Archive bundles (.tgz/.tar.gz, .zip) → a folder under .tandem/work.
//
// Every entry is listed and checked (archive-entries.ts) before anything is written; the tree is
// extracted into a sibling staging folder and renamed into place, so a half-unpacked tree is never
// visible and a refused archive leaves nothing behind.

import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { describeError, ErrorCode, TandemError } from '../errors.ts';
import { ArchiveLimitExceeded, checkArchiveEntries, defaultArchiveLimits } from './archive-entries.ts';
import type { ArchiveEntry, ArchiveLimits } from './archive-entries.ts';
import { extractTar, listTar } from './unpack-tar.ts';
import { extractZip, listZip, openZip } from './unpack-zip.ts';


export type ArchiveFormat = 'tgz' | 'zip';

interface OpenArchive {
  list(limits: ArchiveLimits): Promise<readonly ArchiveEntry[]>;
  extract(dir: string, stripPackage: boolean): Promise<void>;
  close(): Promise<void>;
}

/**
 * Unpacks `archiveFile` into `workDir`, replacing whatever was there. An npm-pack "package/" folder
 * is stripped. Throws TandemError archiveUnsafe (an entry could escape, a link, a device, too big)
 * or archiveCorrupt (cannot be read or written); in both cases nothing is left behind.
 */
export async function unpackArchive(archiveFile: string, format: ArchiveFormat, workDir: string, limits: ArchiveLimits = defaultArchiveLimits): Promise<void> {
  const archive = await openArchive(archiveFile, format);
  try {
    const entries = await archive.list(limits).catch((err: unknown) => {
      if (err instanceof ArchiveLimitExceeded) throw unsafe(archiveFile, `it ${err.message}`, err);
      throw new TandemError(ErrorCode.archiveCorrupt, `archive ${archiveFile} cannot be read: ${describeError(err)}`, { cause: err });
    });
    const check = checkArchiveEntries(entries);
    if (!check.ok) throw unsafe(archiveFile, `entry "${check.entry}" ${check.problem}`);
    await mkdir(path.dirname(workDir), { recursive: true });
    const staging = `${workDir}.tmp-${randomBytes(6).toString('hex')}`;
    await mkdir(staging);
    try {
      await archive.extract(staging, check.stripPackage);
      await rm(workDir, { recursive: true, force: true });
      await rename(staging, workDir);
    } catch (err) {
      await rm(staging, { recursive: true, force: true });
      throw new TandemError(ErrorCode.archiveCorrupt, `archive ${archiveFile} could not be unpacked: ${describeError(err)}`, { cause: err });
    }
  } finally {
    await archive.close();
  }
}

async function openArchive(archiveFile: string, format: ArchiveFormat): Promise<OpenArchive> {
  try {
    if (format === 'tgz') {
      // One handle for both passes: a file replaced between them cannot be swapped in.
      const handle = await open(archiveFile, 'r');
      let listed: readonly ArchiveEntry[] = [];
      return {
        list: async (limits) => (listed = await listTar(handle, limits)),
        extract: (dir, stripPackage) => extractTar(handle, dir, listed, stripPackage),
        close: () => handle.close(),
      };
    }
    const zip = await openZip(archiveFile);
    let listed: Awaited<ReturnType<typeof listZip>> = { entries: [], raw: [] };
    return {
      list: async (limits) => (listed = await listZip(zip, limits)).entries,
      extract: (dir, stripPackage) => extractZip(zip, dir, listed, stripPackage),
      close: async () => zip.close(),
    };
  } catch (err) {
    throw new TandemError(ErrorCode.archiveCorrupt, `archive ${archiveFile} cannot be read: ${describeError(err)}`, { cause: err });
  }
}

function unsafe(archiveFile: string, what: string, cause?: unknown): TandemError {
  return new TandemError(ErrorCode.archiveUnsafe, `archive ${archiveFile} refused: ${what}`, cause === undefined ? {} : { cause });
}
