// The retired folder (`<stateDir>/retired/`): where undeployed bundles go instead of being deleted.
// Moving a bundle back into webapps redeploys it. Names never collide: a second retired copy of the
// same bundle becomes `name~2`, and restoring strips the suffix again.
import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import path from 'node:path';

export class RetiredFolder {
  readonly dir: string;
  readonly #webappsDir: string;

  constructor(dir: string, webappsDir: string) {
    this.dir = dir;
    this.#webappsDir = webappsDir;
  }

  /** Moves `fileName` out of webapps; returns where it went. */
  async retire(fileName: string): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    const target = await freeName(this.dir, fileName);
    await rename(path.join(this.#webappsDir, fileName), target);
    return target;
  }

  /** Bundles in the retired folder, newest name first. */
  async list(): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names.filter((n) => !n.startsWith('.')).sort().reverse();
  }

  /** Moves a retired bundle back into webapps; returns its name and path there. */
  async restore(fileName: string): Promise<{ readonly fileName: string; readonly path: string; readonly isDirectory: boolean; readonly from: string }> {
    if (fileName !== path.basename(fileName) || fileName.startsWith('.')) throw new Error(`not a retired bundle name: ${fileName}`);
    const from = path.join(this.dir, fileName);
    const info = await stat(from);
    const original = fileName.replace(/~\d+$/, '');
    const to = path.join(this.#webappsDir, original);
    if (await exists(to)) throw new Error(`${original} is already in webapps`);
    await rename(from, to);
    return { fileName: original, path: to, isDirectory: info.isDirectory(), from };
  }
}

/** `dir/name`, or `dir/name~2`, `~3`… when taken: a retired bundle never overwrites another. */
async function freeName(dir: string, name: string): Promise<string> {
  for (let n = 1; ; n++) {
    const candidate = path.join(dir, n === 1 ? name : `${name}~${n}`);
    if (!(await exists(candidate))) return candidate;
  }
}

function exists(p: string): Promise<boolean> {
  return stat(p).then(() => true, () => false);
}
