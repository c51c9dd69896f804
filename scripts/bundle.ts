// npm run bundle -- <app-dir> --name <name> --version <version> [--out <dir>]
//
// Packs an app for tandem: its entry and npm dependencies bundled by esbuild into one ES module
// (index.mjs), plus its public/ folder and tandem.json, as `<name>##<version>.tgz`. The archive is
// written as `.part` and renamed when complete, so dropping it straight into webapps/ is atomic.
import { cp, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import * as tar from 'tar';
import { parseBundleName } from '../src/deploy/bundle-name.ts';
import { readBundleSettings, resolveEntry } from '../src/deploy/bundle-entry.ts';

export interface BundleAppOptions {
  readonly appDir: string;
  readonly name: string;
  readonly version: string;
  readonly outDir: string;
  readonly minify?: boolean;
  /** The entry module; by default found as tandem finds a folder bundle's (package.json exports/module/main, index.*). */
  readonly entry?: string;
}

/** Builds the archive and returns its path. Throws an Error that says what to fix. */
export async function bundleApp(options: BundleAppOptions): Promise<string> {
  const fileName = `${options.name}##${options.version}.tgz`;
  const parsed = parseBundleName(fileName, false);
  if (parsed.kind !== 'bundle') throw new Error(`"${fileName}" is not a valid bundle name: ${parsed.kind === 'invalid' ? parsed.reason : 'it would be ignored'}`);
  const appDir = path.resolve(options.appDir);
  const entry = options.entry !== undefined ? { ok: true as const, entryFile: path.resolve(appDir, options.entry) } : await resolveEntry(appDir);
  if (!entry.ok) throw new Error(`${appDir}: ${entry.reason} (or name it with --entry)`);
  const settings = await readBundleSettings(appDir);
  if (!settings.ok) throw new Error(`${appDir}: ${settings.reason}`);

  const staging = await mkdtemp(path.join(tmpdir(), 'tandem-bundle-'));
  try {
    await build({
      entryPoints: [entry.entryFile],
      outfile: path.join(staging, 'index.mjs'),
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      target: 'es2022',
      mainFields: ['module', 'main'],
      conditions: ['workerd', 'worker', 'browser', 'import', 'default'],
      resolveExtensions: ['.ts', '.tsx', '.mts', '.js', '.mjs', '.jsx', '.json'],
      // isolated-vm runs neither dynamic import() nor top-level await correctly (notes/isolated-vm.md).
      supported: { 'dynamic-import': false, 'top-level-await': false },
      minify: options.minify ?? false,
      legalComments: 'none',
      logLevel: 'warning',
    });
    if (await exists(path.join(appDir, 'public'))) await cp(path.join(appDir, 'public'), path.join(staging, 'public'), { recursive: true });
    if (await exists(path.join(appDir, 'tandem.json'))) await cp(path.join(appDir, 'tandem.json'), path.join(staging, 'tandem.json'));
    const out = path.join(path.resolve(options.outDir), fileName);
    const partial = `${out}.part`;
    await tar.c({ gzip: true, portable: true, cwd: staging, file: partial }, ['.']);
    await rename(partial, out);
    return out;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(() => true, () => false);
}

async function main(): Promise<void> {
  const usage = 'usage: npm run bundle -- <app-dir> --name <name> --version <version> [--out <dir>] [--entry <file>] [--minify]';
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: { name: { type: 'string' }, version: { type: 'string' }, out: { type: 'string' }, entry: { type: 'string' }, minify: { type: 'boolean' } },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage}\n`);
    process.exit(2);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1 || values.name === undefined || values.version === undefined) {
    process.stderr.write(`${usage}\n`);
    process.exit(2);
  }
  // npm runs scripts from the package root; paths on the command line are the caller's.
  const cwd = process.env['INIT_CWD'] ?? process.cwd();
  try {
    const out = await bundleApp({
      appDir: path.resolve(cwd, positionals[0]!),
      name: values.name,
      version: values.version,
      outDir: path.resolve(cwd, values.out ?? '.'),
      minify: values.minify ?? false,
      ...(values.entry === undefined ? {} : { entry: values.entry }),
    });
    process.stdout.write(`${out}\n`);
  } catch (err) {
    process.stderr.write(`bundle failed: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

if (import.meta.main) await main();
