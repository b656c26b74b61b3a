/**
 * Reads a Chromium trace (the JSON `browser.startTracing` writes, with the V8 sampling profiler's
 * category on) and says where each thread's time went between two wall-clock moments: for every
 * renderer thread (the page's main thread, its worker, the inflate pool's threads), its tasks'
 * wall and CPU time, and the functions the profiler's samples fell in most. Used by
 * `BENCH_TRACE=<file> npm run bench:browser` (bench/browser.ts) to profile one first build.
 */

interface TraceEvent {
  name: string;
  cat?: string;
  ph: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  tdur?: number;
  id?: string;
  args?: {
    name?: string;
    data?: {
      startTime?: number;
      cpuProfile?: {
        nodes?: {
          id: number;
          callFrame: { functionName: string; url?: string; lineNumber?: number };
          parent?: number;
        }[];
        samples?: number[];
      };
      timeDeltas?: number[];
    };
  };
}

export interface ThreadSummary {
  thread: string;
  /** `pid:tid`. */
  key: string;
  /** Sum of the thread's top-level tasks' wall time in the window (ms). */
  taskMs: number;
  /** Their CPU time (ms): the rest of `taskMs` the thread waited for a core. */
  cpuMs: number;
  /** The longest task (ms). */
  longestTaskMs: number;
  /** Named trace events (native work: inflating, digests, garbage collection) as [name, count, wall ms, CPU ms]. */
  events: [string, number, number, number][];
  /** Sampled time by function (self time, ms), most first. */
  functions: [string, number][];
  /** Sampled time by the top-most of our own script's frames on the stack (inclusive), most first. */
  ours: [string, number][];
}

function label(frame: { functionName: string; url?: string; lineNumber?: number }): string {
  const file = frame.url ? frame.url.replace(/^.*\//, '') : '';
  return `${frame.functionName || '(anonymous)'}${file ? ` ${file}:${(frame.lineNumber ?? 0) + 1}` : ''}`;
}

type Window = { from: number; to: number } | undefined;
const inside = (window: Window, ts: number) => !window || (ts >= window.from && ts <= window.to);
const keyOf = (e: TraceEvent) => `${e.pid}:${e.tid}`;

/** Thread names by `pid:tid`, process names by pid. */
function threadNames(events: TraceEvent[]) {
  const names = new Map<string, string>();
  const processes = new Map<number, string>();
  for (const e of events) {
    if (e.ph !== 'M') continue;
    if (e.name === 'thread_name') names.set(keyOf(e), e.args?.name ?? '');
    if (e.name === 'process_name') processes.set(e.pid, e.args?.name ?? '');
  }
  return { names, processes };
}

interface Tasks {
  wall: number;
  cpu: number;
  longest: number;
}

/** Top-level tasks per thread, and named timeline events as [count, wall, CPU] per thread. */
function taskTimes(events: TraceEvent[], window: Window) {
  const tasks = new Map<string, Tasks>();
  const named = new Map<string, Map<string, [number, number, number]>>();
  for (const e of events) {
    if (e.ph !== 'X' || !e.dur || !inside(window, e.ts)) continue;
    const key = keyOf(e);
    if (/devtools\.timeline|blink/.test(e.cat ?? '') && !/RunTask/.test(e.name)) {
      const map = named.get(key) ?? new Map<string, [number, number, number]>();
      named.set(key, map);
      const n = map.get(e.name) ?? [0, 0, 0];
      n[0] += 1;
      n[1] += e.dur / 1000;
      n[2] += (e.tdur ?? 0) / 1000;
      map.set(e.name, n);
    }
    if (e.name !== 'ThreadControllerImpl::RunTask' && e.name !== 'ThreadPool_RunTask') continue;
    const t = tasks.get(key) ?? { wall: 0, cpu: 0, longest: 0 };
    t.wall += e.dur / 1000;
    t.cpu += (e.tdur ?? 0) / 1000;
    t.longest = Math.max(t.longest, e.dur / 1000);
    tasks.set(key, t);
  }
  return { tasks, named };
}

/** One V8 sampling profile: 'Profile' gives its start, each 'ProfileChunk' nodes and samples. */
interface Prof {
  key: string;
  time: number;
  nodes: Map<number, { frame: string; ours: boolean; parent?: number }>;
  samples: { node: number; time: number }[];
}

function profiles(events: TraceEvent[]): Map<string, Prof[]> {
  const byId = new Map<string, Prof>();
  for (const e of events) {
    if (e.name === 'Profile' && e.id) {
      const time = e.args?.data?.startTime ?? e.ts;
      byId.set(e.id, { key: keyOf(e), time, nodes: new Map(), samples: [] });
    }
    if (e.name !== 'ProfileChunk' || !e.id) continue;
    const profile = byId.get(e.id);
    if (!profile) continue;
    const data = e.args?.data;
    for (const node of data?.cpuProfile?.nodes ?? []) {
      const url = node.callFrame.url ?? '';
      profile.nodes.set(node.id, {
        frame: label(node.callFrame),
        ours: /\/assets\//.test(url),
        ...(node.parent !== undefined ? { parent: node.parent } : {}),
      });
    }
    const samples = data?.cpuProfile?.samples ?? [];
    const deltas = data?.timeDeltas ?? [];
    for (let i = 0; i < samples.length; i++) {
      profile.time += deltas[i] ?? 0;
      profile.samples.push({ node: samples[i]!, time: profile.time });
    }
  }
  const byThread = new Map<string, Prof[]>();
  for (const p of byId.values()) byThread.set(p.key, [...(byThread.get(p.key) ?? []), p]);
  return byThread;
}

/** Sampled time by function (self) and by the innermost of our own frames on the stack. */
function sampledTimes(list: Prof[], window: Window) {
  const self = new Map<string, number>();
  const ours = new Map<string, number>();
  for (const profile of list) {
    const samples = profile.samples.sort((a, b) => a.time - b.time);
    for (let i = 0; i < samples.length - 1; i++) {
      const { node, time } = samples[i]!;
      if (!inside(window, time)) continue;
      const ms = (samples[i + 1]!.time - time) / 1000;
      if (ms > 50) continue; // a gap in sampling, not time spent
      const n = profile.nodes.get(node);
      if (!n || n.frame.startsWith('(idle)')) continue;
      self.set(n.frame, (self.get(n.frame) ?? 0) + ms);
      for (let at: number | undefined = node; at !== undefined;) {
        const f = profile.nodes.get(at);
        if (!f) break;
        if (f.ours) {
          ours.set(f.frame, (ours.get(f.frame) ?? 0) + ms);
          break;
        }
        at = f.parent;
      }
    }
  }
  return { self, ours };
}

/**
 * Per-thread summaries of `trace` between `from` and `to` (microseconds on the trace's clock);
 * top `top` events and functions each.
 */
export function summariseTrace(
  trace: { traceEvents: TraceEvent[] } | TraceEvent[],
  window?: { from: number; to: number },
  top = 15,
): ThreadSummary[] {
  const events = Array.isArray(trace) ? trace : trace.traceEvents;
  const { names, processes } = threadNames(events);
  const { tasks, named } = taskTimes(events, window);
  const byThread = profiles(events);
  const sorted = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => [k, Math.round(v * 10) / 10] as [string, number]);
  const summaries: ThreadSummary[] = [];
  for (const key of new Set([...tasks.keys(), ...byThread.keys()])) {
    const process = processes.get(Number(key.split(':')[0])) ?? key.split(':')[0]!;
    const { self, ours } = sampledTimes(byThread.get(key) ?? [], window);
    const t = tasks.get(key) ?? { wall: 0, cpu: 0, longest: 0 };
    summaries.push({
      thread: `${process} ${names.get(key) ?? key} (${key})`,
      key,
      taskMs: Math.round(t.wall),
      cpuMs: Math.round(t.cpu),
      longestTaskMs: Math.round(t.longest),
      events: [...(named.get(key) ?? new Map<string, [number, number, number]>()).entries()]
        .sort((a, b) => b[1][1] - a[1][1])
        .slice(0, top)
        .map(([name, [n, wall, cpu]]) => [name, n, Math.round(wall), Math.round(cpu)]),
      functions: sorted(self),
      ours: sorted(ours),
    });
  }
  return summaries.filter((s) => s.taskMs > 5 || s.functions.length > 0);
}

/**
 * CPU time (ms) by role, from the summaries of one page's build: its renderer's main thread, each
 * dedicated worker (the base worker and the inflate pool's threads, most first), the renderer's
 * other threads (its thread pool: garbage collection, compiling, painting), and every other
 * process (the browser's network and download work, the GPU process).
 */
export function cpuByRole(summaries: ThreadSummary[], rendererPid: number) {
  const roles = { main: 0, workers: [] as number[], renderer_other: 0, other_processes: 0 };
  for (const s of summaries) {
    if (Number(s.key.split(':')[0]) !== rendererPid) roles.other_processes += s.cpuMs;
    else if (s.thread.includes('CrRendererMain')) roles.main += s.cpuMs;
    else if (s.thread.includes('DedicatedWorker')) roles.workers.push(s.cpuMs);
    else roles.renderer_other += s.cpuMs;
  }
  roles.workers.sort((a, b) => b - a);
  const total = roles.main + roles.renderer_other + roles.workers.reduce((a, b) => a + b, 0);
  return { ...roles, renderer_total: total };
}
