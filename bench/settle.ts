/**
 * Waiting for the browser's own start-up work in a new window to end before a measured step.
 * Chromium 156 loads its omnibox popup (two `chrome://omnibox-popup.top-chrome/` WebUI pages) into
 * every new window, which is what each of bench:browser's fresh contexts opens: measured here,
 * about 60% of a core for some 2 s, on a machine of 2 cores. A donor who follows a link into a
 * browser that is already open meets none of it, and the figures set beside a first build (the
 * base alone, the floor) are measured after it has ended; so each fresh context first waits until
 * the browser's processes are quiet. Linux only (it reads /proc); elsewhere it does not wait.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on every Linux this runs on). */
const TICKS_PER_SECOND = 100;
const WINDOW_MS = 250;
/** Quiet: the browser's processes used under this share of one core over a window. */
const QUIET_SHARE = 0.1;

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime, in ticks. */
  cpu: number;
}

function readStat(pid: string): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: fields follow its end.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return {
      pid: Number(pid),
      ppid: Number(fields[1]),
      cpu: Number(fields[11]) + Number(fields[12]),
    };
  } catch {
    return undefined; // the process ended meanwhile
  }
}

/** CPU milliseconds used so far by every process descended from this one (the browser's). */
export function descendantsCpuMs(): number | undefined {
  let names: string[];
  try {
    names = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  const stats = names.map(readStat).filter((s): s is ProcStat => s !== undefined);
  const children = new Map<number, ProcStat[]>();
  for (const stat of stats) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat]);
  let ticks = 0;
  const pending = [...(children.get(process.pid) ?? [])];
  for (let next = pending.pop(); next; next = pending.pop()) {
    ticks += next.cpu;
    pending.push(...(children.get(next.pid) ?? []));
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}

/**
 * Resolves once the browser's processes used less than 10% of a core over 250 ms, or after
 * `limitMs`; says how long it waited and how much CPU the browser used meanwhile.
 */
export async function settleBrowser(
  limitMs = 10_000,
): Promise<{ waitedMs: number; cpuMs: number }> {
  const start = performance.now();
  const first = descendantsCpuMs();
  if (first === undefined) return { waitedMs: 0, cpuMs: 0 };
  let last = first;
  while (performance.now() - start < limitMs) {
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
    const now = descendantsCpuMs() ?? last;
    const used = now - last;
    last = now;
    if (used < WINDOW_MS * QUIET_SHARE) break;
  }
  return { waitedMs: performance.now() - start, cpuMs: last - first };
}
