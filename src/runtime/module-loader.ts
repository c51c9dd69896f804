// Loads a bundle's ES modules into an isolate: the entry and the relative files it imports, never
// anything outside the bundle. TypeScript files are stripped with Node's own stripTypeScriptTypes.
import { readFile, realpath, stat } from 'node:fs/promises';
import { stripTypeScriptTypes } from 'node:module';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import type ivm from 'isolated-vm';

const tryExtensions = ['', '.mjs', '.js', '.ts', '.mts', '/index.mjs', '/index.js', '/index.ts'];

export class ModuleLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModuleLoadError';
  }
}

/**
 * Compiles and links the module graph rooted at `entryFile` in `isolate`/`context`.
 * `rootDir` bounds every import (for a single-file bundle, rootDir is the file itself).
 * Returns the entry module, instantiated but not evaluated.
 */
export async function linkModuleGraph(isolate: ivm.Isolate, context: ivm.Context, entryFile: string, rootDir: string): Promise<ivm.Module> {
  const root = await realpath(rootDir);
  const singleFile = (await stat(root)).isFile();
  const byPath = new Map<string, ivm.Module>();
  const pathOf = new Map<ivm.Module, string>();

  const compile = async (file: string): Promise<ivm.Module> => {
    const existing = byPath.get(file);
    if (existing !== undefined) return existing;
    const source = await readSource(file);
    let module: ivm.Module;
    try {
      module = await isolate.compileModule(source, { filename: pathToFileURL(file).href });
    } catch (err) {
      throw new ModuleLoadError(`${path.relative(path.dirname(root), file)}: ${(err as Error).message}`);
    }
    byPath.set(file, module);
    pathOf.set(module, file);
    return module;
  };

  const resolve = async (specifier: string, referrer: ivm.Module): Promise<ivm.Module> => {
    const from = pathOf.get(referrer) ?? entryFile;
    const target = await resolveSpecifier(specifier, from, root, singleFile);
    return compile(target);
  };

  const entry = await compile(await realpath(entryFile));
  await entry.instantiate(context, resolve);
  return entry;
}

async function resolveSpecifier(specifier: string, from: string, root: string, singleFile: boolean): Promise<string> {
  const where = `import "${specifier}" in ${path.basename(from)}`;
  let base: string;
  if (specifier.startsWith('./') || specifier.startsWith('../')) base = path.resolve(path.dirname(from), specifier);
  else if (specifier.startsWith('file://')) base = fileURLToPath(specifier);
  else if (specifier.startsWith('/')) base = specifier;
  else {
    throw new ModuleLoadError(`${where}: only relative imports of the bundle's own files work inside an isolate; bundle npm packages into the app (npm run bundle) and Node built-ins are not available`);
  }
  if (singleFile) throw new ModuleLoadError(`${where}: a single-file bundle cannot import other files; make the bundle a folder or bundle it into one file`);
  for (const ext of tryExtensions) {
    const candidate = base + ext;
    let real: string;
    try {
      real = await realpath(candidate);
      if (!(await stat(real)).isFile()) continue;
    } catch {
      continue;
    }
    if (real !== root && !real.startsWith(root + path.sep)) {
      throw new ModuleLoadError(`${where}: resolves outside the bundle, which is not allowed`);
    }
    return real;
  }
  throw new ModuleLoadError(`${where}: no such file in the bundle`);
}

async function readSource(file: string): Promise<string> {
  const source = await readFile(file, 'utf8');
  if (!/\.[mc]?ts$/.test(file)) return source;
  try {
    return stripTypeScriptTypes(source, { mode: 'strip', sourceUrl: pathToFileURL(file).href });
  } catch (err) {
    throw new ModuleLoadError(`${path.basename(file)}: TypeScript could not be stripped (only erasable syntax is supported: no enum, namespace or parameter properties): ${(err as Error).message}`);
  }
}
