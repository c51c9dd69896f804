import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareVersions, highestVersion, sortVersionsDescending } from '../../src/deploy/version-order.ts';

function assertLess(a: string | null, b: string | null): void {
  assert.ok(compareVersions(a, b) < 0, `expected ${String(a)} < ${String(b)}, compare gave ${compareVersions(a, b)}`);
  assert.ok(compareVersions(b, a) > 0, `expected ${String(b)} > ${String(a)}, compare gave ${compareVersions(b, a)}`);
}

// Deterministic shuffle (mulberry32) so a failure reproduces.
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0;
  const random = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('compareVersions', () => {
  it('ranks a version-less deployment below every versioned one, and two of them equal', () => {
    assertLess(null, '0');
    assertLess(null, '0.0.1-alpha');
    assertLess(null, 'a');
    assert.equal(compareVersions(null, null), 0);
  });

  it('returns 0 only for identical strings', () => {
    assert.equal(compareVersions('1.2.3', '1.2.3'), 0);
    assert.equal(compareVersions('2026.11.23', '2026.11.23'), 0);
    assert.notEqual(compareVersions('1.0.0+a', '1.0.0+b'), 0);
    assert.notEqual(compareVersions('1.0', '1-0'), 0);
    assert.notEqual(compareVersions('Beta', 'beta'), 0);
  });

  it('compares semver versions by semver precedence', () => {
    assertLess('1.9.0', '1.10.0');
    assertLess('2.0.0-rc.1', '2.0.0');
    assertLess('2.0.0-alpha', '2.0.0-alpha.1');
    assertLess('2.0.0-alpha.1', '2.0.0-beta');
    assertLess('2.0.0-rc.2', '2.0.0-rc.10');
    assertLess('1.0.0-1', '1.0.0-alpha'); // semver: numeric identifiers are lower than words
    assertLess('0.9.9', '1.0.0');
  });

  it('ignores build metadata for precedence and breaks the tie by string', () => {
    assertLess('1.0.0+build.1', '1.0.1');
    assertLess('1.0.0', '1.0.0+build.1');
    assertLess('1.0.0+build.1', '1.0.0+build.2');
  });

  it('compares numeric parts as numbers in non-semver versions', () => {
    assertLess('9', '10');
    assertLess('001', '002');
    assertLess('2026.2.1', '2026.11.23');
    assertLess('1.9', '1.10');
    assertLess('rc9', 'rc10');
    assertLess('1_2', '1_10');
  });

  it('compares digit runs longer than a double can hold exactly', () => {
    assertLess('12345678901234567890', '12345678901234567891');
    assertLess('99999999999999999999', '100000000000000000000');
    assertLess('1.9007199254740993', '1.9007199254740994');
  });

  it('breaks numeric ties on leading zeros by length, deterministically', () => {
    assertLess('2', '002');
    assertLess('1.2', '1.002');
    assertLess('1.02.001', '1.002.1'); // the first run written longer decides
  });

  it('treats a word as a pre-release: below the end of the version, below any number', () => {
    assertLess('2.0-beta', '2.0');
    assertLess('2.0-beta', '2.0.1');
    assertLess('1.0', '1.0.1');
    assertLess('1.a', '1.0');
    assertLess('2.0-alpha', '2.0-beta');
    assertLess('2.0-ALPHA', '2.0-beta'); // words compare case-insensitively
  });

  it('compares mixed semver and non-semver versions with the numeric-aware rules', () => {
    assertLess('1.9.0', '2.0');
    assertLess('2.0', '2.0.0');
    assertLess('2.0', '2.0.0-rc.1'); // 2.0 is shorter than 2.0.0, whatever follows
    assertLess('2.0-rc.1', '2.0.0-rc.1');
    assertLess('1.10.0', '1.10.0.1');
    assertLess('2026.1.1', '2026.11.23-hotfix.2');
    assertLess('1.2.3', 'v1.2.4-final.0');
    assertLess('v1.2.3', '1.2.4');
  });

  it('is a total order: sorting any shuffle of a list gives the same, expected order', () => {
    const ascending = [
      null,
      'alpha',
      'beta',
      '0.1',
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-beta',
      '1.0.0-rc.1',
      '1.0.0',
      '1.0.0+build.1',
      '1.0.0.1',
      '1.0.1',
      '1.9.0',
      '1.10.0-rc.1',
      '1.10.0',
      '2.0-beta',
      '2.0',
      '2.0.0',
      '2.0.1',
      '10',
      '2026.2.1',
      '2026.11.23',
      '12345678901234567890',
    ];
    for (let seed = 1; seed <= 50; seed++) {
      const sorted = shuffled(ascending, seed).sort(compareVersions);
      assert.deepEqual(sorted, ascending, `shuffle seed ${seed}`);
    }
    for (const a of ascending) {
      assert.equal(compareVersions(a, a), 0);
      for (const b of ascending) {
        assert.equal(Math.sign(compareVersions(a, b)), -Math.sign(compareVersions(b, a)) || 0, `antisymmetry ${a} ${b}`);
        for (const c of ascending) {
          if (compareVersions(a, b) < 0 && compareVersions(b, c) < 0) {
            assert.ok(compareVersions(a, c) < 0, `transitivity ${a} < ${b} < ${c}`);
          }
        }
      }
    }
  });

  it('is transitive and antisymmetric on generated version strings', () => {
    const parts = ['0', '1', '2', '01', '10', '007', 'a', 'B', 'rc', 'v1', 'rc2'];
    const separators = ['.', '-', '_', '+'];
    let seed = 7;
    const pick = <T>(from: readonly T[]): T => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return from[seed % from.length]!;
    };
    const versions = Array.from({ length: 45 }, () => {
      let v = pick(parts);
      for (let n = pick([0, 1, 2, 3]); n > 0; n--) v += pick(separators) + pick(parts);
      return v;
    });
    versions.push('1.0.0', '1.0.0-a', '1.0.0-a.b', '1.0.0+x', '1.0.0-rc.1', '2.0.0', '1.10.0', '1.2');
    for (const a of versions) {
      for (const b of versions) {
        const ab = compareVersions(a, b);
        assert.equal(Math.sign(ab), -Math.sign(compareVersions(b, a)) || 0, `antisymmetry ${a} ${b}`);
        if (ab >= 0) continue;
        for (const c of versions) {
          if (compareVersions(b, c) < 0) assert.ok(compareVersions(a, c) < 0, `transitivity ${a} < ${b} < ${c}`);
        }
      }
    }
  });
});

describe('highestVersion', () => {
  it('returns the item with the highest version', () => {
    const deployments = [
      { id: 'a', version: '1.9.0' },
      { id: 'b', version: '1.10.0' },
      { id: 'c', version: null },
      { id: 'd', version: '1.10.0-rc.1' },
    ];
    assert.equal(highestVersion(deployments, (d) => d.version)?.id, 'b');
  });

  it('returns a version-less item when it is the only one, and undefined for none', () => {
    assert.equal(highestVersion([{ version: null }], (d) => d.version)?.version, null);
    assert.equal(highestVersion([], (d: { version: string | null }) => d.version), undefined);
  });
});

describe('sortVersionsDescending', () => {
  it('sorts plain versions highest first without touching the input', () => {
    const input = ['1.9.0', null, '2.0.0-rc.1', '1.10.0', '2.0.0'];
    assert.deepEqual(sortVersionsDescending(input), ['2.0.0', '2.0.0-rc.1', '1.10.0', '1.9.0', null]);
    assert.deepEqual(input, ['1.9.0', null, '2.0.0-rc.1', '1.10.0', '2.0.0']);
  });

  it('sorts items by the version a function reads from them', () => {
    const items = [{ v: '9' }, { v: '10' }, { v: null }];
    assert.deepEqual(
      sortVersionsDescending(items, (i) => i.v).map((i) => i.v),
      ['10', '9', null],
    );
  });
});
