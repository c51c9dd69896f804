// The safety check every archive passes before unpack.ts writes a single byte: the entry list
// alone decides whether anything could land outside the extraction folder.
//
// Checks are on the names as written in the archive, and links are followed through the other
// links of the same archive (a link to "s/.." where "s" links to "." leaves the folder, though
// the text "s/.." does not). Nothing is written through a link, and a hard link may not point
// at a link, so the folder tree an archive creates is exactly the one checked here.

export type ArchiveEntryKind = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

export interface ArchiveEntry {
  /** The name as stored in the archive. */
  readonly path: string;
  readonly kind: ArchiveEntryKind;
  /** The archive's own name for the type, for messages ("CharacterDevice", "FIFO", …). */
  readonly typeName: string;
  /** Symlinks: the target as stored; hard links: the archive path of the linked entry. */
  readonly linkTarget: string | undefined;
  readonly size: number;
}

export type EntriesCheck =
  | { readonly ok: true; readonly stripPackage: boolean }
  | { readonly ok: false; readonly entry: string; readonly problem: string };

export interface ArchiveLimits {
  /** Sum of the entries' uncompressed sizes. */
  readonly maxTotalBytes: number;
  readonly maxEntries: number;
}

/** Generous for an app, small enough that a zip bomb cannot fill the disk. */
export const defaultArchiveLimits: ArchiveLimits = { maxTotalBytes: 512 * 1024 * 1024, maxEntries: 20_000 };

/** A limit was passed while listing; unpack.ts turns it into archiveUnsafe. */
export class ArchiveLimitExceeded extends Error {
  override readonly name = 'ArchiveLimitExceeded';
}

const npmPackFolder = 'package';
const maxLinkHops = 40; // as Linux's MAXSYMLINKS

/** Whether the entries are safe to extract, and whether an npm-pack "package/" folder should be stripped. */
export function checkArchiveEntries(entries: readonly ArchiveEntry[]): EntriesCheck {
  for (const entry of entries) {
    const problem = nameProblem(entry.path, 'its path') ?? (entry.kind === 'other' ? `is a ${entry.typeName} entry; only files, folders and links can be unpacked` : undefined);
    if (problem !== undefined) return { ok: false, entry: entry.path, problem };
  }
  const stripPackage = isNpmPack(entries);
  const place = (raw: string): string[] => placedSegments(raw, stripPackage);
  const symlinks = new Map<string, string>();
  for (const entry of entries) {
    if (entry.kind === 'symlink') symlinks.set(place(entry.path).join('/'), entry.linkTarget ?? '');
  }
  for (const entry of entries) {
    const problem = placementProblem(entry, place, symlinks);
    if (problem !== undefined) return { ok: false, entry: entry.path, problem };
  }
  return { ok: true, stripPackage };
}

function placementProblem(entry: ArchiveEntry, place: (raw: string) => string[], symlinks: ReadonlyMap<string, string>): string | undefined {
  const segments = place(entry.path);
  if (segments.length === 0 && entry.kind !== 'directory') return 'would replace the extraction folder itself';
  const through = linkAlong(segments.slice(0, -1), symlinks);
  if (through !== undefined) return `would be written through the symbolic link "${through}"`;
  if (entry.kind === 'symlink') {
    const target = entry.linkTarget ?? '';
    const problem = nameProblem(target, 'its link target', true);
    if (problem !== undefined) return problem;
    const resolved = resolveLink(segments.slice(0, -1), target, symlinks, { hops: 0 });
    if (resolved === 'loop') return `links to "${target}", a loop of symbolic links`;
    if (resolved === 'outside') return `links to "${target}", outside the extraction folder`;
  }
  if (entry.kind === 'hardlink') {
    const target = entry.linkTarget ?? '';
    const problem = nameProblem(target, 'its hard link target');
    if (problem !== undefined) return problem;
    const targetSegments = place(target);
    if (targetSegments.length === 0) return 'is a hard link to the extraction folder itself';
    const via = linkAlong(targetSegments, symlinks);
    if (via !== undefined) return `is a hard link through or to the symbolic link "${via}"`;
  }
  return undefined;
}

// Text checks that need no context. Link targets may climb with ".." (resolved later); paths may not.
function nameProblem(name: string, what: string, mayClimb = false): string | undefined {
  if (name === '') return `has an empty ${what.replace(/^its /, '')}`;
  if (name.includes('\0')) return `has a NUL byte in ${what}`;
  if (name.includes('\\')) return `has a backslash in ${what} ("${name}"); archives must use "/"`;
  if (/^[A-Za-z]:/.test(name)) return `has a Windows drive letter in ${what} ("${name}")`;
  if (name.startsWith('/')) return `has an absolute path as ${what} ("${name}")`;
  if (!mayClimb && name.split('/').includes('..')) return `has a ".." segment in ${what} ("${name}")`;
  return undefined;
}

// npm pack puts everything under package/: strip it when every entry (and every hard link
// target, which tar strips alike) lives there.
function isNpmPack(entries: readonly ArchiveEntry[]): boolean {
  if (entries.length === 0) return false;
  return entries.every((entry) => {
    const segments = entry.path.split('/');
    if (segments[0] !== npmPackFolder) return false;
    if (segments.filter((s) => s !== '').length === 1 && entry.kind !== 'directory') return false;
    return entry.kind !== 'hardlink' || (entry.linkTarget ?? '').split('/')[0] === npmPackFolder;
  });
}

/** Where a checked entry lands below the extraction folder, as path segments ([] = the folder itself). */
export function placedSegments(raw: string, stripPackage: boolean): string[] {
  return raw.split('/').filter((segment) => segment !== '' && segment !== '.').slice(stripPackage ? 1 : 0);
}

/** The first prefix of `segments` (itself included) that the archive makes a symbolic link. */
function linkAlong(segments: readonly string[], symlinks: ReadonlyMap<string, string>): string | undefined {
  for (let i = 1; i <= segments.length; i++) {
    const prefix = segments.slice(0, i).join('/');
    if (symlinks.has(prefix)) return prefix;
  }
  return undefined;
}

// Follows `target` from the folder `from` the way the kernel would, through the archive's links.
function resolveLink(from: readonly string[], target: string, symlinks: ReadonlyMap<string, string>, budget: { hops: number }): string[] | 'outside' | 'loop' {
  if (target.startsWith('/') || target.includes('\\') || /^[A-Za-z]:/.test(target)) return 'outside';
  let stack = [...from];
  for (const segment of target.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (stack.length === 0) return 'outside';
      stack.pop();
      continue;
    }
    stack.push(segment);
    const linked = symlinks.get(stack.join('/'));
    if (linked === undefined) continue;
    if (++budget.hops > maxLinkHops) return 'loop';
    const resolved = resolveLink(stack.slice(0, -1), linked, symlinks, budget);
    if (typeof resolved === 'string') return resolved;
    stack = resolved;
  }
  return stack;
}
