// What a folder bundle (or an unpacked archive) asks of tandem: its entry module, found the way a
// bundler would (package.json exports/module/main, else index.*), and its optional tandem.json.
// Both read files the bundle author wrote, so both validate and answer with a reason, never throw.

import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';

export type EntryResult = { readonly ok: true; readonly entryFile: string } | { readonly ok: false; readonly reason: string };

export interface BundleSettings {
  /** Exposed to the app as `env`. */
  readonly vars?: Readonly<Record<string, string | number | boolean>>;
  readonly memoryLimitMb?: number;
  readonly sessionTimeoutMinutes?: number;
}

export type SettingsResult = { readonly ok: true; readonly settings: BundleSettings } | { readonly ok: false; readonly reason: string };

const defaultEntries = ['index.mjs', 'index.js', 'index.ts'];
const noEntryReason = 'no entry module: expected index.mjs, index.js or index.ts, or package.json exports/module/main';
// The conditions an isolate satisfies: it runs ES modules in a worker-like, non-Node runtime.
const exportConditions = new Set(['import', 'default', 'worker', 'workerd', 'browser']);
const settingsKeys = ['vars', 'memoryLimitMb', 'sessionTimeoutMinutes'];
const memoryLimitRange = { min: 8, max: 4096 };

/** The entry module of a folder bundle as an absolute real path inside `bundleDir`, or why there is none. */
export async function resolveEntry(bundleDir: string): Promise<EntryResult> {
  const root = await realpathOrUndefined(bundleDir);
  if (root === undefined || !(await isDirectory(root))) return { ok: false, reason: `bundle folder ${bundleDir} does not exist` };
  const manifest = await readJsonInside(root, 'package.json');
  if (!manifest.ok) return manifest;
  if (manifest.value !== undefined) {
    const named = entryNamedBy(manifest.value);
    if (named !== undefined && 'reason' in named) return { ok: false, reason: named.reason };
    if (named !== undefined) return locateNamedEntry(root, named.field, named.target);
  }
  for (const candidate of defaultEntries) {
    const found = await fileInside(root, candidate);
    if (found.kind === 'file') return { ok: true, entryFile: found.real };
    if (found.kind === 'outside') return { ok: false, reason: `${candidate} links to a file outside the bundle folder` };
  }
  return { ok: false, reason: noEntryReason };
}

/** The bundle's tandem.json, validated; `{}` when there is none. */
export async function readBundleSettings(bundleDir: string): Promise<SettingsResult> {
  const root = await realpathOrUndefined(bundleDir);
  if (root === undefined) return { ok: false, reason: `bundle folder ${bundleDir} does not exist` };
  const file = await readJsonInside(root, 'tandem.json');
  if (!file.ok) return file;
  if (file.value === undefined) return { ok: true, settings: {} };
  return validateSettings(file.value);
}

function validateSettings(value: unknown): SettingsResult {
  if (!isPlainObject(value)) return fail(`tandem.json: expected an object like {"vars": {}}, got ${typeName(value)}`);
  const settings: { vars?: Record<string, string | number | boolean>; memoryLimitMb?: number; sessionTimeoutMinutes?: number } = {};
  for (const [key, field] of Object.entries(value)) {
    if (key === 'vars') {
      if (!isPlainObject(field)) return fail(`tandem.json: "vars" must be an object of strings, numbers or booleans, got ${typeName(field)}`);
      for (const [name, v] of Object.entries(field)) {
        const ok = typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
        if (!ok) return fail(`tandem.json: "vars.${name}" must be a string, number or boolean, got ${typeName(v)}`);
      }
      // fromEntries defines own properties, so a "__proto__" var stays a var.
      settings.vars = Object.fromEntries(Object.entries(field)) as Record<string, string | number | boolean>;
    } else if (key === 'memoryLimitMb') {
      if (typeof field !== 'number' || !(field >= memoryLimitRange.min && field <= memoryLimitRange.max)) {
        return fail(`tandem.json: "memoryLimitMb" must be a number from ${memoryLimitRange.min} to ${memoryLimitRange.max}, got ${JSON.stringify(field)}`);
      }
      settings.memoryLimitMb = field;
    } else if (key === 'sessionTimeoutMinutes') {
      if (typeof field !== 'number' || !Number.isFinite(field) || field <= 0) {
        return fail(`tandem.json: "sessionTimeoutMinutes" must be a number greater than 0, got ${JSON.stringify(field)}`);
      }
      settings.sessionTimeoutMinutes = field;
    } else {
      return fail(`tandem.json: unknown key ${JSON.stringify(key)} (known: ${settingsKeys.join(', ')})`);
    }
  }
  return { ok: true, settings };
}

type NamedEntry = { readonly field: string; readonly target: string } | { readonly reason: string };

// package.json fields in the order tandem honours them; undefined when none names an entry.
function entryNamedBy(manifest: unknown): NamedEntry | undefined {
  if (!isPlainObject(manifest)) return { reason: `package.json: expected an object, got ${typeName(manifest)}` };
  if (manifest['exports'] !== undefined && manifest['exports'] !== null) {
    const target = exportsTarget(manifest['exports']);
    if (target === undefined) {
      return {
        reason: `package.json "exports" has no entry for "." under the conditions ${[...exportConditions].join(', ')}; add e.g. "exports": {".": {"import": "./index.js"}}`,
      };
    }
    return { field: 'exports', target };
  }
  for (const field of ['module', 'main']) {
    const value = manifest[field];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value === '') return { reason: `package.json "${field}" must be a path string, got ${typeName(value)}` };
    return { field, target: value };
  }
  return undefined;
}

// Node's rules for the "." export: a string, an array of fallbacks, a subpath map with a "." key,
// or a conditions object whose first key (in written order) that tandem satisfies wins.
function exportsTarget(exports: unknown): string | undefined {
  if (isPlainObject(exports) && Object.keys(exports).some((key) => key.startsWith('.'))) {
    return conditionalTarget(exports['.'], 0);
  }
  return conditionalTarget(exports, 0);
}

function conditionalTarget(value: unknown, depth: number): string | undefined {
  if (depth > 16) return undefined;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    for (const item of value) {
      const target = conditionalTarget(item, depth + 1);
      if (target !== undefined) return target;
    }
    return undefined;
  }
  if (!isPlainObject(value)) return undefined;
  for (const [condition, nested] of Object.entries(value)) {
    if (!exportConditions.has(condition)) continue;
    const target = conditionalTarget(nested, depth + 1);
    if (target !== undefined) return target;
  }
  return undefined;
}

async function locateNamedEntry(root: string, field: string, target: string): Promise<EntryResult> {
  if (path.isAbsolute(target)) return { ok: false, reason: `package.json "${field}" names ${target}, an absolute path; use a path relative to the bundle like ./index.js` };
  // "main" is resolved the CommonJS way (extension and folder index optional); exports/module are exact.
  const candidates = field === 'main'
    ? [target, `${target}.mjs`, `${target}.js`, `${target}.ts`, ...defaultEntries.map((index) => path.join(target, index))]
    : [target];
  for (const candidate of candidates) {
    const found = await fileInside(root, candidate);
    if (found.kind === 'file') return { ok: true, entryFile: found.real };
    if (found.kind === 'outside') return { ok: false, reason: `package.json "${field}" names ${target}, which is outside the bundle folder` };
  }
  return { ok: false, reason: `package.json "${field}" names ${target}, which does not exist in the bundle` };
}

type Located = { readonly kind: 'file'; readonly real: string } | { readonly kind: 'missing' } | { readonly kind: 'outside' };

// Resolves symlinks before deciding: a link that leaves the bundle counts as outside, even if its target exists.
async function fileInside(root: string, relative: string): Promise<Located> {
  const lexical = path.resolve(root, relative);
  if (lexical === root) return { kind: 'missing' };
  if (!isInside(root, lexical)) return { kind: 'outside' };
  const real = await realpathOrUndefined(lexical);
  if (real === undefined) return { kind: 'missing' };
  if (!isInside(root, real)) return { kind: 'outside' };
  try {
    return (await stat(real)).isFile() ? { kind: 'file', real } : { kind: 'missing' };
  } catch {
    return { kind: 'missing' };
  }
}

type JsonFile = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly reason: string };

async function readJsonInside(root: string, fileName: string): Promise<JsonFile> {
  const found = await fileInside(root, fileName);
  if (found.kind === 'outside') return { ok: false, reason: `${fileName} links to a file outside the bundle folder` };
  if (found.kind === 'missing') return { ok: true, value: undefined };
  let text: string;
  try {
    text = await readFile(found.real, 'utf8');
  } catch (err) {
    return { ok: false, reason: `${fileName}: cannot be read (${(err as Error).message})` };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, reason: `${fileName}: invalid JSON: ${(err as Error).message}` };
  }
}

function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

async function realpathOrUndefined(file: string): Promise<string | undefined> {
  try {
    return await realpath(file);
  } catch {
    return undefined;
  }
}

async function isDirectory(dir: string): Promise<boolean> {
  try {
    return (await stat(dir)).isDirectory();
  } catch {
    return false;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : typeof value;
}

function fail(reason: string): SettingsResult {
  return { ok: false, reason };
}
