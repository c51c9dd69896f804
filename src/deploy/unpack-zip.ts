// Reads .zip bundles with yauzl: the central directory is listed first (sizes and names, nothing is
// written), then, once unpack.ts has checked the list, the same open file is extracted.
// Names are decoded here, not by yauzl, so that a backslash reaches the check instead of being
// silently turned into "/".

import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import type { ArchiveEntry, ArchiveEntryKind, ArchiveLimits } from './archive-entries.ts';
import { ArchiveLimitExceeded, placedSegments } from './archive-entries.ts';
import { createLinks } from './archive-links.ts';

export interface ListedZip {
  readonly entries: readonly ArchiveEntry[];
  readonly raw: readonly yauzl.Entry[];
}

const maxLinkTargetBytes = 4096;
const unixHost = 3;
const fileTypeMask = 0o170000;
const kindOfMode: Readonly<Record<number, readonly [ArchiveEntryKind, string]>> = {
  0o100000: ['file', 'file'],
  0o040000: ['directory', 'directory'],
  0o120000: ['symlink', 'symbolic link'],
  0o020000: ['other', 'character device'],
  0o060000: ['other', 'block device'],
  0o010000: ['other', 'FIFO'],
  0o140000: ['other', 'socket'],
};

export function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true }, (err, zip) => {
      if (err !== null) reject(err);
      else resolve(zip);
    });
  });
}

export async function listZip(zip: yauzl.ZipFile, limits: ArchiveLimits): Promise<ListedZip> {
  // The central directory says how many entries there are: refuse a bomb before reading one.
  if (zip.entryCount > limits.maxEntries) throw new ArchiveLimitExceeded(`has more than ${limits.maxEntries} entries`);
  const entries: ArchiveEntry[] = [];
  const raw: yauzl.Entry[] = [];
  let totalBytes = 0;
  for await (const entry of zip.eachEntry()) {
    totalBytes += entry.uncompressedSize;
    if (totalBytes > limits.maxTotalBytes) throw new ArchiveLimitExceeded(`unpacks to more than ${limits.maxTotalBytes} bytes`);
    if (entry.isEncrypted()) throw new Error(`entry "${nameOf(entry)}" is encrypted, which tandem cannot unpack`);
    const name = nameOf(entry);
    const [kind, typeName] = kindOf(entry, name);
    const linkTarget = kind === 'symlink' ? await readLinkTarget(zip, entry, name) : undefined;
    entries.push({ path: name, kind, typeName, linkTarget, size: entry.uncompressedSize });
    raw.push(entry);
  }
  return { entries, raw };
}

/** Writes the checked entries below `dir`; links last, so no file is ever written through one. */
export async function extractZip(zip: yauzl.ZipFile, dir: string, listed: ListedZip, stripPackage: boolean): Promise<void> {
  for (const [i, entry] of listed.entries.entries()) {
    const destination = path.join(dir, ...placedSegments(entry.path, stripPackage));
    if (entry.kind === 'directory') {
      await mkdir(destination, { recursive: true });
    } else if (entry.kind === 'file') {
      await mkdir(path.dirname(destination), { recursive: true });
      // "wx": a duplicate name fails instead of overwriting (or following) what is already there.
      await pipeline(await zip.openReadStreamPromise(listed.raw[i]!), createWriteStream(destination, { flags: 'wx' }));
    }
  }
  await createLinks(dir, listed.entries, stripPackage);
}

function nameOf(entry: yauzl.Entry): string {
  return yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, true);
}

// Unix zips carry the file type in the high half of the external attributes; others only know
// folders, by a trailing "/".
function kindOf(entry: yauzl.Entry, name: string): readonly [ArchiveEntryKind, string] {
  const byName: readonly [ArchiveEntryKind, string] = name.endsWith('/') ? ['directory', 'directory'] : ['file', 'file'];
  if (entry.versionMadeBy >>> 8 !== unixHost) return byName;
  const type = (entry.externalFileAttributes >>> 16) & fileTypeMask;
  if (type === 0) return byName;
  return kindOfMode[type] ?? ['other', `unknown type 0o${type.toString(8)}`];
}

async function readLinkTarget(zip: yauzl.ZipFile, entry: yauzl.Entry, name: string): Promise<string> {
  if (entry.uncompressedSize > maxLinkTargetBytes) throw new Error(`symbolic link "${name}" has a target longer than ${maxLinkTargetBytes} bytes`);
  const chunks: Buffer[] = [];
  for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
