// The order of deployed versions: which one is "highest" and takes new sessions.
//
// Tomcat compares versions as plain strings; tandem does better for the names people actually
// use: semver when both sides are semver, otherwise a numeric-aware comparison of the parts.
// Known limit: semver's pre-release rules ("1.0.0-1" < "1.0.0-alpha") differ from the fallback
// rules (words are pre-releases, so less than numbers), so a set that mixes semver and
// non-semver names with numeric pre-release tags can compare inconsistently.

import semver from 'semver';

/** Negative when a < b, positive when a > b, 0 only when a === b. `null` (no version) is lowest. */
export function compareVersions(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (semver.valid(a, { loose: false }) !== null && semver.valid(b, { loose: false }) !== null) {
    // semver ignores build metadata; the string tie-break keeps the order total.
    return semver.compare(a, b, { loose: false }) || compareStrings(a, b);
  }
  return compareTokens(tokenize(a), tokenize(b)) || compareDigitLengths(a, b) || compareStrings(a, b);
}

/** The item whose version is highest (the first one on a tie), or undefined for an empty list. */
export function highestVersion<T>(items: readonly T[], versionOf: (t: T) => string | null): T | undefined {
  let best: T | undefined;
  let bestVersion: string | null = null;
  for (const item of items) {
    const version = versionOf(item);
    if (best === undefined || compareVersions(version, bestVersion) > 0) {
      best = item;
      bestVersion = version;
    }
  }
  return best;
}

/** A new array, highest version first. */
export function sortVersionsDescending<V extends string | null>(versions: readonly V[]): V[];
export function sortVersionsDescending<T>(items: readonly T[], versionOf: (t: T) => string | null): T[];
export function sortVersionsDescending<T>(items: readonly T[], versionOf?: (t: T) => string | null): T[] {
  const of = versionOf ?? ((t: T) => t as string | null);
  return [...items].sort((x, y) => compareVersions(of(y), of(x)));
}

type Token = { readonly kind: 'number'; readonly digits: string } | { readonly kind: 'word'; readonly text: string };

// Parts are split on . - _ + and then into runs of digits and non-digits ("rc10" → rc, 10),
// so that "rc10" > "rc9". A leading "v" before a digit is dropped, as semver does.
function tokenize(version: string): Token[] {
  const tokens: Token[] = [];
  const body = /^v\d/.test(version) ? version.slice(1) : version;
  for (const part of body.split(/[.\-_+]/)) {
    for (const run of part.match(/\d+|\D+/g) ?? []) {
      tokens.push(/^\d/.test(run) ? { kind: 'number', digits: stripZeros(run) } : { kind: 'word', text: run.toLowerCase() });
    }
  }
  return tokens;
}

// Lexicographic over the tokens, where the end of a sequence ranks between words and numbers:
// "2.0-beta" < "2.0" (a trailing word is a pre-release) but "1.0" < "1.0.1".
function compareTokens(a: readonly Token[], b: readonly Token[]): number {
  const length = Math.max(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const order = compareToken(a[i], b[i]);
    if (order !== 0) return order;
  }
  return 0;
}

const rankOfEnd = 1;

function rank(token: Token | undefined): number {
  if (token === undefined) return rankOfEnd;
  return token.kind === 'word' ? 0 : 2;
}

function compareToken(a: Token | undefined, b: Token | undefined): number {
  const byRank = rank(a) - rank(b);
  if (byRank !== 0 || a === undefined || b === undefined) return byRank;
  if (a.kind === 'number' && b.kind === 'number') {
    // Digit runs of any length: compare without converting (no precision loss past 2^53).
    return a.digits.length - b.digits.length || compareStrings(a.digits, b.digits);
  }
  if (a.kind === 'word' && b.kind === 'word') return compareStrings(a.text, b.text);
  return 0;
}

// Tie-break for numerically equal versions such as "1.002" and "1.2": the first digit run that
// is written longer wins, so the order stays deterministic.
function compareDigitLengths(a: string, b: string): number {
  const runsA = a.match(/\d+/g) ?? [];
  const runsB = b.match(/\d+/g) ?? [];
  const length = Math.min(runsA.length, runsB.length);
  for (let i = 0; i < length; i++) {
    const order = runsA[i]!.length - runsB[i]!.length;
    if (order !== 0) return order;
  }
  return 0;
}

function stripZeros(digits: string): string {
  const stripped = digits.replace(/^0+/, '');
  return stripped === '' ? '0' : stripped;
}

function compareStrings(a: string, b: string): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}
