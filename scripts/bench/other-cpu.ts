// How much CPU other work on the machine took while a contender was measured: all busy CPU time
// (/proc/stat) minus what this bench's own process tree used (its servers, and its load
// generator once reaped, through cutime/cstime). A shared 2-core machine running a test suite
// next to the bench halves a server's throughput; this number says when that happened.
import { readFile } from 'node:fs/promises';
import { processTicks, processTree, ticksPerSecond } from './server-process.ts';

export interface CpuSample {
  readonly at: number;
  readonly machineBusy: number;
  readonly ours: number;
}

async function machineBusyTicks(): Promise<number> {
  const fields = (await readFile('/proc/stat', 'utf8')).split('\n')[0]?.trim().split(/\s+/).slice(1, 9).map(Number) ?? [];
  // user nice system idle iowait irq softirq steal: everything but idle and iowait is busy
  return fields.reduce((a, b) => a + b, 0) - (fields[3] ?? 0) - (fields[4] ?? 0);
}

export async function sampleCpu(): Promise<CpuSample | null> {
  try {
    let ours = 0;
    for (const pid of await processTree(process.pid)) ours += await processTicks(pid, pid === process.pid);
    return { at: performance.now(), machineBusy: await machineBusyTicks(), ours };
  } catch {
    return null; // not Linux
  }
}

/** Percent of one core that processes outside this bench used between the two samples. */
export function otherCpuPercent(before: CpuSample | null, after: CpuSample | null): number {
  if (before === null || after === null) return Number.NaN;
  const seconds = (after.at - before.at) / 1000;
  const otherTicks = after.machineBusy - before.machineBusy - (after.ours - before.ours);
  return Math.max(0, (100 * otherTicks) / ticksPerSecond / seconds);
}
