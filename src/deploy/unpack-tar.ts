// Reads .tgz/.tar.gz bundles with node-tar's parser in two passes over one open file: list
// (nothing is written), then, once unpack.ts has checked the list, write. The second pass writes
// only entries identical to the listed ones, so a file changed in between cannot slip anything
// past. Files are written here rather than by node-tar's Unpack, which never settles after a
// decompression error, so the staging folder could not be removed safely.

import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Parser } from 'tar';
import type { ReadEntry } from 'tar';
import type { ArchiveEntry, ArchiveEntryKind, ArchiveLimits } from './archive-entries.ts';
import { ArchiveLimitExceeded, placedSegments } from './archive-entries.ts';
import { createLinks } from './archive-links.ts';

const kindOfType: Readonly<Record<string, ArchiveEntryKind>> = {
  File: 'file',
  OldFile: 'file',
  ContiguousFile: 'file',
  Directory: 'directory',
  GNUDumpDir: 'directory',
  SymbolicLink: 'symlink',
  Link: 'hardlink',
};

export function listTar(archive: FileHandle, limits: ArchiveLimits): Promise<ArchiveEntry[]> {
  return new Promise((resolve, reject) => {
    const entries: ArchiveEntry[] = [];
    let totalBytes = 0;
    let settled = false;
    const source = archive.createReadStream({ start: 0, autoClose: false });
    const parser = new Parser({ strict: true });
    const settle = (err: unknown): void => {
      if (settled) return;
      settled = true;
      if (err === undefined) return resolve(entries);
      source.unpipe(parser);
      source.destroy();
      reject(err);
    };
    const add = (entry: ReadEntry, kind: ArchiveEntryKind | undefined): void => {
      entry.resume();
      if (settled) return;
      entries.push({ path: entry.path, kind: kind ?? 'other', typeName: entry.type, linkTarget: entry.linkpath, size: entry.size ?? 0 });
      totalBytes += entry.size ?? 0;
      if (entries.length > limits.maxEntries) settle(new ArchiveLimitExceeded(`has more than ${limits.maxEntries} entries`));
      else if (totalBytes > limits.maxTotalBytes) settle(new ArchiveLimitExceeded(`unpacks to more than ${limits.maxTotalBytes} bytes`));
    };
    parser.on('entry', (entry: ReadEntry) => add(entry, kindOfType[entry.type]));
    // Types node-tar does not know (Solaris ACLs, inodes, …) arrive here; they are refused.
    parser.on('ignoredEntry', (entry: ReadEntry) => add(entry, 'other'));
    parser.on('error', settle);
    parser.on('end', () => settle(undefined));
    source.on('error', settle);
    source.pipe(parser);
  });
}

/**
 * Writes the checked entries below `dir`, one at a time in archive order, links last. Only entries
 * identical to the listed ones are written. Settles only once nothing is being written any more, so
 * the caller can remove `dir` without racing a write in flight.
 */
export function extractTar(archive: FileHandle, dir: string, listed: readonly ArchiveEntry[], stripPackage: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const source = archive.createReadStream({ start: 0, autoClose: false });
    const parser = new Parser({ strict: true });
    let index = 0;
    let failure: unknown;
    let ended = false;
    // Entries arrive one after another (the parser waits for each to be consumed); so do writes.
    let writes: Promise<void> = Promise.resolve();
    let current: { readonly entry: ReadEntry; readonly file: WriteStream } | undefined;
    const fail = (err: unknown): void => {
      if (failure !== undefined) return;
      failure = err;
      source.unpipe(parser);
      source.destroy();
      current?.file.destroy();
      current?.entry.resume();
      void writes.then(finish);
    };
    const finish = async (): Promise<void> => {
      if (failure === undefined && index !== listed.length) failure = new Error(`the archive ended after ${index} of ${listed.length} checked entries: it changed while it was unpacked`);
      if (failure === undefined) {
        try {
          await createLinks(dir, listed, stripPackage);
        } catch (err) {
          failure = err;
        }
      }
      if (failure === undefined) resolve();
      else reject(failure);
    };
    const write = async (entry: ReadEntry, expected: ArchiveEntry): Promise<void> => {
      const destination = path.join(dir, ...placedSegments(entry.path, stripPackage));
      if (failure !== undefined || expected.kind !== 'file') {
        entry.resume();
        if (failure === undefined && expected.kind === 'directory') await mkdir(destination, { recursive: true });
        return;
      }
      await mkdir(path.dirname(destination), { recursive: true });
      if (failure !== undefined) return void entry.resume();
      const file = createWriteStream(destination, { mode: (entry.mode ?? 0) & 0o111 ? 0o755 : 0o644 });
      current = { entry, file };
      await pipeline(entry, file);
      current = undefined;
    };
    parser.on('entry', (entry: ReadEntry) => {
      const expected = listed[index++];
      if (failure !== undefined) return void entry.resume();
      if (expected === undefined || !sameEntry(expected, entry)) {
        entry.resume();
        return fail(new Error(`entry "${entry.path}" differs from the checked listing: the archive changed while it was unpacked`));
      }
      writes = writes.then(() => write(entry, expected)).catch((err: unknown) => fail(err));
    });
    parser.on('ignoredEntry', (entry: ReadEntry) => {
      entry.resume();
      fail(new Error(`entry "${entry.path}" differs from the checked listing: the archive changed while it was unpacked`));
    });
    parser.on('error', fail);
    parser.on('end', () => {
      if (ended || failure !== undefined) return;
      ended = true;
      void writes.then(finish);
    });
    source.on('error', fail);
    source.pipe(parser);
  });
}

function sameEntry(expected: ArchiveEntry, read: ReadEntry): boolean {
  return expected.path === read.path && expected.typeName === read.type && expected.linkTarget === read.linkpath && expected.size === (read.size ?? 0);
}
