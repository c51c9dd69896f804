// The files of a bundle's public/ folder, indexed once when a version deploys so that the per-request
// question "is this a public file?" is one map lookup, never a filesystem call.
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';

export interface Asset {
  /** Path inside public/, `/`-separated, no leading slash: `assets/index-a1b2.js`. */
  readonly relPath: string;
  /** Real path of the file (symlinks resolved); what static serving opens. */
  readonly absPath: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly etag: string;
  readonly contentType: string;
}

export interface AssetIndex {
  /** Real path of the public/ folder, or null when the bundle has none. */
  readonly root: string | null;
  /** `urlPath` is relative to the app's context path and still percent-encoded (`/assets/a.js`, `/`). */
  get(urlPath: string): Asset | undefined;
  readonly size: number;
}

export const MAX_ASSET_FILES = 50_000;

export const emptyAssetIndex: AssetIndex = Object.freeze({ root: null, size: 0, get: (): undefined => undefined });

const TEXT = '; charset=utf-8';
const contentTypes: ReadonlyMap<string, string> = new Map([
  ['html', 'text/html' + TEXT], ['htm', 'text/html' + TEXT], ['css', 'text/css' + TEXT],
  ['js', 'text/javascript' + TEXT], ['mjs', 'text/javascript' + TEXT],
  ['json', 'application/json' + TEXT], ['map', 'application/json' + TEXT],
  ['svg', 'image/svg+xml' + TEXT], ['txt', 'text/plain' + TEXT], ['xml', 'application/xml' + TEXT],
  ['png', 'image/png'], ['jpg', 'image/jpeg'], ['jpeg', 'image/jpeg'], ['gif', 'image/gif'],
  ['webp', 'image/webp'], ['avif', 'image/avif'], ['ico', 'image/x-icon'],
  ['wasm', 'application/wasm'], ['woff', 'font/woff'], ['woff2', 'font/woff2'], ['ttf', 'font/ttf'], ['otf', 'font/otf'],
  ['pdf', 'application/pdf'], ['mp4', 'video/mp4'], ['webm', 'video/webm'], ['mp3', 'audio/mpeg'],
]);

function contentTypeOf(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  return (dot > 0 && contentTypes.get(fileName.slice(dot + 1).toLowerCase())) || 'application/octet-stream';
}

function etagOf(size: number, mtimeMs: number): string {
  return `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`;
}

class MapAssetIndex implements AssetIndex {
  readonly root: string;
  readonly #assets: ReadonlyMap<string, Asset>;

  constructor(root: string, assets: ReadonlyMap<string, Asset>) {
    this.root = root;
    this.#assets = assets;
  }

  get size(): number {
    return this.#assets.size;
  }

  get(urlPath: string): Asset | undefined {
    const key = assetKey(urlPath);
    return key === undefined ? undefined : this.#assets.get(key);
  }
}

// Paths that need no segment-by-segment normalisation: no `//`, no segment starting with a dot.
const NEEDS_NORMALISING = /\/\/|\/\./;

/** The index key for a request path, or undefined for a path that must never match (bad encoding, `..`, NUL, `\`). */
function assetKey(urlPath: string): string | undefined {
  let p = urlPath;
  const query = p.indexOf('?');
  if (query !== -1) p = p.slice(0, query);
  if (p.includes('%')) {
    try {
      p = decodeURIComponent(p);
    } catch {
      return undefined; // malformed percent-encoding: not a file of ours
    }
  }
  if (p.includes('\0') || p.includes('\\')) return undefined;
  if (p.charCodeAt(0) !== 47 /* / */) p = '/' + p;
  if (NEEDS_NORMALISING.test(p)) return normalisedKey(p);
  return p.endsWith('/') ? p.slice(1) + 'index.html' : p.slice(1);
}

function normalisedKey(p: string): string | undefined {
  const kept: string[] = [];
  for (const segment of p.split('/')) {
    if (segment === '..') return undefined; // rejected, not resolved: `/a/../b` is not `/b`
    if (segment !== '' && segment !== '.') kept.push(segment);
  }
  const folder = kept.length === 0 || p.endsWith('/') || p.endsWith('/.');
  if (folder) kept.push('index.html');
  return kept.join('/');
}

function isInside(root: string, candidate: string): boolean {
  return candidate === root || candidate.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

type SkipReporter = (relPath: string, reason: string) => void;

/**
 * Walks bundleDir/public (if present). Skips dotfiles (and dot-folders); skips, reporting through onSkip, any symlink
 * whose realpath leaves bundleDir, symlinks to folders, special files, and files beyond maxFiles (reported once).
 */
export async function buildAssetIndex(bundleDir: string, onSkip?: SkipReporter, maxFiles = MAX_ASSET_FILES): Promise<AssetIndex> {
  const skip: SkipReporter = onSkip ?? (() => {});
  const bundleRoot = await realpath(bundleDir);
  const publicDir = path.join(bundleRoot, 'public');
  const publicStat = await lstat(publicDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (publicStat === undefined) return emptyAssetIndex;
  const publicRoot = await realpath(publicDir);
  if (!isInside(bundleRoot, publicRoot)) {
    skip('public', 'symlink leaves the bundle');
    return emptyAssetIndex;
  }
  if (!(await stat(publicRoot)).isDirectory()) {
    skip('public', 'not a folder');
    return emptyAssetIndex;
  }
  const assets = new Map<string, Asset>();
  await walk(bundleRoot, publicRoot, assets, skip, maxFiles);
  return new MapAssetIndex(publicRoot, assets);
}

async function walk(
  bundleRoot: string, publicRoot: string, assets: Map<string, Asset>, skip: SkipReporter, maxFiles: number,
): Promise<void> {
  const folders = [''];
  let full = false;
  const add = (relPath: string, absPath: string, size: number, mtimeMs: number): void => {
    if (assets.size >= maxFiles) {
      if (!full) skip(relPath, `more than ${maxFiles} files in public/; the rest are not served`);
      full = true;
      return;
    }
    const contentType = contentTypeOf(relPath.slice(relPath.lastIndexOf('/') + 1));
    assets.set(relPath, { relPath, absPath, size, mtimeMs, etag: etagOf(size, mtimeMs), contentType });
  };

  for (let folder = folders.pop(); folder !== undefined && !full; folder = folders.pop()) {
    const entries = await readdir(path.join(publicRoot, folder), { withFileTypes: true });
    await Promise.all(entries.map(async (entry) => {
      if (entry.name.startsWith('.')) return;
      const relPath = folder === '' ? entry.name : `${folder}/${entry.name}`;
      const absPath = path.join(publicRoot, folder, entry.name);
      if (entry.name.includes('\\')) return skip(relPath, 'backslash in a file name cannot be requested');
      if (entry.isDirectory()) return void folders.push(relPath);
      if (entry.isFile()) {
        const s = await stat(absPath);
        return add(relPath, absPath, s.size, s.mtimeMs);
      }
      if (!entry.isSymbolicLink()) return skip(relPath, 'not a regular file');
      const target = await realpath(absPath).catch(() => undefined);
      if (target === undefined) return skip(relPath, 'dangling symlink');
      if (!isInside(bundleRoot, target)) return skip(relPath, 'symlink leaves the bundle');
      const s = await stat(target);
      if (!s.isFile()) return skip(relPath, 'symlink to something other than a file');
      add(relPath, target, s.size, s.mtimeMs);
    }));
  }
}
