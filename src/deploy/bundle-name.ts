// What an entry of webapps/ is, from its name alone: "shop#api##1.2.0.tgz" → app "shop#api" at
// /shop/api, version 1.2.0, a gzipped tarball. The naming rules are Tomcat's (ContextName):
// "##" separates the version, "#" stands for "/" in the context path, ROOT is "/".

export type BundleFormat = 'folder' | 'js' | 'mjs' | 'ts' | 'tgz' | 'zip';

export interface BundleName {
  /** The entry's base name in webapps/, as given. */
  readonly fileName: string;
  /** Tomcat's base name without the version: "shop#api", "ROOT". */
  readonly name: string;
  /** "/shop/api"; "/" for ROOT. */
  readonly contextPath: string;
  /** The part after "##", or null for a version-less deployment. */
  readonly version: string | null;
  readonly format: BundleFormat;
}

export type BundleNameResult =
  | { readonly kind: 'bundle'; readonly bundle: BundleName }
  | { readonly kind: 'ignored' }
  | { readonly kind: 'invalid'; readonly reason: string };

const maxFileNameLength = 200;
const example = 'name a bundle like shop, shop##1.2.0.tgz or shop#api##2.0.0.zip';

// Longest suffix first, so ".tar.gz" wins over a plain extension.
const fileFormats: readonly (readonly [suffix: string, format: BundleFormat])[] = [
  ['.tar.gz', 'tgz'],
  ['.tgz', 'tgz'],
  ['.zip', 'zip'],
  ['.mjs', 'mjs'],
  ['.js', 'js'],
  ['.ts', 'ts'],
];

// Editors and downloaders write these next to real files; they are never bundles.
const temporarySuffixes = ['~', '.swp', '.swx', '.tmp', '.part', '.crdownload'];

const nameSegmentPattern = /^[A-Za-z0-9._~!$&'()*+,;=:@%-]+$/;
const versionPattern = /^[A-Za-z0-9._+-]+$/;

/** Classifies the base name of an entry in webapps/. Never throws: bad names come back with a reason. */
export function parseBundleName(fileName: string, isDirectory: boolean): BundleNameResult {
  if (isTransientName(fileName)) return { kind: 'ignored' };
  if (fileName.length > maxFileNameLength) {
    return invalid(`the name is ${fileName.length} characters long, more than ${maxFileNameLength}; ${example}`);
  }
  let stem = fileName;
  let format: BundleFormat = 'folder';
  if (!isDirectory) {
    const match = fileFormats.find(([suffix]) => fileName.toLowerCase().endsWith(suffix));
    if (match === undefined) {
      return invalid(
        `unsupported file type ${extensionOf(fileName)}; a bundle is a folder, .js/.mjs/.ts, .tgz/.tar.gz or .zip`,
      );
    }
    stem = fileName.slice(0, -match[0].length);
    format = match[1];
  }
  const parts = stem.split('##');
  if (parts.length > 2) return invalid(`"##" appears more than once; ${example}`);
  const name = parts[0]!;
  const version = parts.length === 2 ? parts[1]! : null;
  const nameProblem = checkName(name);
  if (nameProblem !== undefined) return invalid(`${nameProblem}; ${example}`);
  if (version !== null) {
    const versionProblem = checkVersion(version);
    if (versionProblem !== undefined) return invalid(`${versionProblem}; ${example}`);
  }
  return { kind: 'bundle', bundle: { fileName, name, contextPath: contextPathOf(name), version, format } };
}

/** Tomcat's base name → context path: "ROOT" → "/", "shop#api" → "/shop/api". */
export function contextPathOf(name: string): string {
  return name === 'ROOT' ? '/' : `/${name.replaceAll('#', '/')}`;
}

/** Hidden files and editor or temp files: never a bundle, never a change to one. */
export function isTransientName(fileName: string): boolean {
  if (fileName.startsWith('.')) return true;
  // Emacs auto-save (#file#) and vim's write-permission probe (4913).
  if (fileName === '4913' || (fileName.length > 1 && fileName.startsWith('#') && fileName.endsWith('#'))) return true;
  const lower = fileName.toLowerCase();
  return temporarySuffixes.some((suffix) => lower.endsWith(suffix));
}

function checkName(name: string): string | undefined {
  if (name === '') return 'the app name before "##" is empty';
  for (const segment of name.split('#')) {
    if (segment === '') return `the app name "${name}" has an empty segment (a leading, trailing or doubled "#")`;
    if (segment === '.' || segment === '..') return `the app name "${name}" has a "${segment}" segment`;
    if (!nameSegmentPattern.test(segment)) {
      return `the app name "${name}" has a character outside letters, digits and ._~!$&'()*+,;=:@%-`;
    }
  }
  return undefined;
}

function checkVersion(version: string): string | undefined {
  if (version === '') return 'the version after "##" is empty';
  if (!versionPattern.test(version)) return `the version "${version}" has a character outside letters, digits and ._+-`;
  return undefined;
}

// "shop##1.0.0" has no extension, although it ends in ".0".
function extensionOf(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  const extension = dot <= 0 ? '' : fileName.slice(dot);
  return /^\.[A-Za-z][A-Za-z0-9]*$/.test(extension) ? extension : '(none)';
}

function invalid(reason: string): BundleNameResult {
  return { kind: 'invalid', reason };
}
