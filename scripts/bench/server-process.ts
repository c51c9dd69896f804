// A server under test as a child process: optional CPU pinning, its output kept for error
// messages, waiting on a log line, the RSS of its whole process tree, and a clean stop.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';

/** Which cores the server and the load generator get; `null` cpus mean no pinning. */
export interface Pinning {
  readonly serverCpu: number | null;
  readonly loadCpu: number | null;
  readonly note: string;
}

/** Server on core 0, load generator on core 1, when `taskset` exists and there are 2+ cores. */
export function detectPinning(): Pinning {
  const cores = availableParallelism();
  const found = spawnSync('sh', ['-c', 'command -v taskset'], { encoding: 'utf8' });
  if (found.status !== 0) return { serverCpu: null, loadCpu: null, note: 'not pinned: taskset not found (apt-get install util-linux)' };
  if (cores < 2) return { serverCpu: null, loadCpu: null, note: `not pinned: only ${cores} core` };
  return { serverCpu: 0, loadCpu: 1, note: 'pinned with taskset: server on cpu 0, load generator on cpu 1' };
}

/** Prefixes a command with `taskset -c <cpu>` (taskset execs, so the pid stays the command's). */
export function pinned(cpu: number | null, command: string, args: readonly string[]): [string, string[]] {
  return cpu === null ? [command, [...args]] : ['taskset', ['-c', String(cpu), command, ...args]];
}

export interface ServerSpawn {
  readonly label: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cpu: number | null;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

const keptLines = 60;

export class ServerProcess {
  readonly label: string;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #lines: string[] = [];
  #waiters = new Set<(line: string) => void>();
  #exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;

  constructor(spec: ServerSpawn) {
    this.label = spec.label;
    const [command, args] = pinned(spec.cpu, spec.command, spec.args);
    this.child = spawn(command, args, { cwd: spec.cwd, env: spec.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        resolve(this.#exit);
      });
      this.child.once('error', (err) => {
        this.#keep(`spawn failed: ${err.message}`);
        this.#exit = { code: null, signal: null };
        resolve(this.#exit);
      });
    });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) this.#keep(line);
      });
    }
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.label}: the process did not start\n${this.tail()}`);
    return this.child.pid;
  }

  get hasExited(): boolean {
    return this.#exit !== null;
  }

  /** The last lines the process printed (stdout and stderr), for error messages. */
  tail(count = 15): string {
    return this.#lines.slice(-count).map((l) => `    | ${l}`).join('\n');
  }

  /** Resolves with the first line (already printed or to come) that matches; rejects on exit or timeout. */
  waitForLine(match: (line: string) => boolean, timeoutMs: number, what: string): Promise<string> {
    const seen = this.#lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(onLine);
      };
      const onLine = (line: string): void => {
        if (!match(line)) return;
        done();
        resolve(line);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.label}: did not print ${what} within ${timeoutMs} ms; last output:\n${this.tail()}`));
      }, timeoutMs);
      this.#waiters.add(onLine);
      void this.exited.then((exit) => {
        if (!this.#waiters.has(onLine)) return;
        done();
        reject(new Error(`${this.label}: exited (code ${exit.code}, signal ${exit.signal}) before printing ${what}; last output:\n${this.tail()}`));
      });
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Children of the process get the same treatment. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.hasExited || this.child.pid === undefined) return;
    const tree = await processTree(this.child.pid);
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const pid of tree) killQuietly(pid, 'SIGKILL');
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
    // A supervisor may exit before its child does: make sure nothing of the tree lives on.
    for (const pid of tree.slice(1)) killQuietly(pid, 'SIGTERM');
  }

  #keep(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > keptLines * 2) this.#lines = this.#lines.slice(-keptLines);
    for (const waiter of [...this.#waiters]) waiter(line);
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone: that is what we wanted.
  }
}

/** `root` and all its descendants, root first, read from /proc/<pid>/stat. */
export async function processTree(root: number): Promise<number[]> {
  const parentOf = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parentOf.set(Number(entry), ppid);
    } catch {
      // The process ended while we listed /proc.
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, ppid] of parentOf) if (ppid === tree[i]) tree.push(pid);
  return tree;
}

/** Clock ticks (USER_HZ, the unit of both /proc/stat and /proc/<pid>/stat) per second. */
export const ticksPerSecond = 100;

/** CPU time of one process in clock ticks (user + system; with its reaped children's when asked); 0 once it is gone. */
export async function processTicks(pid: number, withReapedChildren: boolean): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // After "(comm) ": state ppid ... utime is the 12th field, stime 13th, cutime 14th, cstime 15th.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    return (f[11] ?? 0) + (f[12] ?? 0) + (withReapedChildren ? (f[13] ?? 0) + (f[14] ?? 0) : 0);
  } catch {
    return 0; // gone
  }
}

/** CPU time of a server's whole process tree (all its threads), in clock ticks; null where there is no /proc. */
export async function treeCpuTicks(root: number): Promise<number | null> {
  try {
    let ticks = 0;
    for (const pid of await processTree(root)) ticks += await processTicks(pid, false);
    return ticks;
  } catch {
    return null;
  }
}

/** VmRSS of the process tree in MB (1 MB = 1024 kB as /proc counts): the sum, and each process's, root first. */
export async function treeRss(root: number): Promise<{ totalMb: number; perProcessMb: number[] }> {
  const perProcessMb: number[] = [];
  for (const pid of await processTree(root)) {
    try {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
      if (match !== null) perProcessMb.push(Number(match[1]) / 1024);
    } catch {
      // Gone between the listing and the read.
    }
  }
  return { totalMb: perProcessMb.reduce((a, b) => a + b, 0), perProcessMb };
}

export async function treeRssMb(root: number): Promise<number> {
  return (await treeRss(root)).totalMb;
}
