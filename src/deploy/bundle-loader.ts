// Turns a bundle on disk into what a runtime needs: the files to load (an archive is unpacked into
// the work folder first, never next to the bundle), the entry module, tandem.json settings and the
// index of public/ assets. Every failure is a TandemError that says what to fix.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, TandemError } from '../errors.ts';
import { buildAssetIndex, type AssetIndex } from './asset-index.ts';
import { readBundleSettings, resolveEntry } from './bundle-entry.ts';
import type { BundleName } from './bundle-name.ts';

export interface PreparedBundle {
  readonly entryFile: string;
  /** Imports may not leave this path (a single-file bundle: the file itself). */
  readonly rootDir: string;
  readonly vars: Readonly<Record<string, string | number | boolean>>;
  readonly memoryLimitMb: number | undefined;
  readonly sessionTimeoutMinutes: number | undefined;
  readonly assets: AssetIndex | null;
  /** The folder an archive was unpacked into (released once this copy no longer serves), else null. */
  readonly unpackedDir: string | null;
}

export interface PrepareOptions {
  /** `.tandem/work`: archives are unpacked below it. */
  readonly workDir: string;
  readonly onAssetSkipped: (relPath: string, reason: string) => void;
}

export async function prepareBundle(bundle: BundleName, bundlePath: string, options: PrepareOptions): Promise<PreparedBundle> {
  const where = { app: bundle.name, version: bundle.version ?? '' };
  if (bundle.format === 'js' || bundle.format === 'mjs' || bundle.format === 'ts') {
    return { entryFile: bundlePath, rootDir: bundlePath, vars: {}, memoryLimitMb: undefined, sessionTimeoutMinutes: undefined, assets: null, unpackedDir: null };
  }
  let root = bundlePath;
  let unpackedDir: string | null = null;
  if (bundle.format === 'tgz' || bundle.format === 'zip') {
    // A fresh folder per deploy: the copy still serving keeps its files until it is released.
    root = unpackedDir = path.join(options.workDir, `${bundle.fileName}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`);
    try {
      // Loaded on first use: hosts without archive bundles never pay for tar/zip.
      const { unpackArchive } = await import('./unpack.ts');
      await unpackArchive(bundlePath, bundle.format, root);
    } catch (err) {
      await rm(root, { recursive: true, force: true });
      throw err;
    }
  }
  try {
    const settings = await readBundleSettings(root);
    if (!settings.ok) throw new TandemError(ErrorCode.bundleSettings, settings.reason, where);
    const entry = await resolveEntry(root);
    if (!entry.ok) throw new TandemError(ErrorCode.bundleEntry, entry.reason, where);
    const assets = await buildAssetIndex(root, options.onAssetSkipped);
    return {
      entryFile: entry.entryFile,
      rootDir: root,
      vars: settings.settings.vars ?? {},
      memoryLimitMb: settings.settings.memoryLimitMb,
      sessionTimeoutMinutes: settings.settings.sessionTimeoutMinutes,
      assets,
      unpackedDir,
    };
  } catch (err) {
    if (unpackedDir !== null) await rm(unpackedDir, { recursive: true, force: true });
    throw err;
  }
}

/** Removes what prepareBundle unpacked for an archive bundle. */
export async function releaseBundle(prepared: PreparedBundle): Promise<void> {
  if (prepared.unpackedDir !== null) await rm(prepared.unpackedDir, { recursive: true, force: true });
}
