/**
 * The scenarios, each run for one tool on a fresh election, with its own
 * candidate processes, all stopped at the end. Times are taken with
 * `performance.now()` in this process: the trigger (the signal sent, the
 * processes spawned) and the arrival of the next candidate's "leading" line
 * on its stdout pipe.
 */
import type { Janitor } from '@elect/test';
import { type Line, Proc, lines, nextLine, usage } from './proc.js';
import type { Servers } from './servers.js';
import { TTL_MS, type Tool, electionName } from './tools.js';

export interface Context {
  servers: Servers;
  janitor: Janitor;
  /** Pause after a queue is complete before measuring at rest (ms). */
  settleMs: number;
  /** Window over which idle CPU is measured (ms). */
  idleWindowMs: number;
  log(message: string): void;
  /** Aborts when a step stalled: a scenario still running starts no more candidates. */
  halted: AbortSignal;
}

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms));

class Group {
  readonly procs = new Set<Proc>();
  /** The most recent line of any of this group's processes. */
  last: Line | undefined;
  readonly #onLine = (line: Line): void => {
    if (this.procs.has(line.proc) && this.tool.leads(line.text, this.election)) this.last = line;
  };

  constructor(
    readonly ctx: Context,
    readonly tool: Tool,
    readonly election: string,
    readonly ttlMs?: number,
  ) {
    lines.on('line', this.#onLine);
  }

  start(candidates = 1): Proc {
    this.ctx.halted.throwIfAborted();
    const proc = new Proc(this.tool.spawn(this.election, candidates, this.ttlMs), this.ctx.janitor, candidates, this.tool.title);
    this.procs.add(proc);
    return proc;
  }

  /**
   * The next "leading" line of this group after `since`, from any process
   * but `not`. A process may lead more than once: Curator's LeaderLatch and
   * `elect run --rejoin` campaign again after a loss (in a herd's start-up
   * storm, say), and each term prints its line.
   */
  async next(since: number, timeoutMs: number, not?: Proc): Promise<Line> {
    return await nextLine(since, timeoutMs, (line) => this.procs.has(line.proc) && line.proc !== not && this.tool.leads(line.text, this.election));
  }

  /**
   * The process that leads now, as the server says: the ids of elect
   * (`<host>-<pid>`, `lib-<pid>-<i>`) and of the Curator candidate
   * (`curator-<pid>-<i>`) name the process. The last leading line is only a
   * guess — lines of processes that led during a start-up storm can arrive
   * out of order — and serves for the tools whose ids say nothing (etcdctl).
   */
  async leader(): Promise<Line> {
    const id = await this.ctx.servers.leaderId(this.tool.backend, this.election);
    const proc = id === undefined ? undefined : [...this.procs].find((p) => new RegExp(`(^|-)${p.pid}(-|$)`).test(id));
    const last = this.last;
    if (last === undefined) throw new Error(`${this.election}: nobody has led yet`);
    return proc === undefined || proc === last.proc ? last : { proc, text: last.text, at: last.at };
  }

  /** Ends one leadership gracefully: `resign` on stdin for a multi-candidate process, else the tool's SIGTERM. */
  stopLeader(proc: Proc): void {
    if (proc.candidates > 1) proc.tell('resign');
    else proc.signal('SIGTERM', this.tool.stopTarget);
  }

  async close(): Promise<void> {
    lines.off('line', this.#onLine);
    const procs = [...this.procs];
    for (const proc of procs) proc.tree();
    for (const proc of procs) proc.signal('SIGTERM', this.tool.stopTarget);
    await Promise.all(procs.map((proc) => proc.waitExit(5000)));
    this.procs.clear();
  }
}

export interface Handoffs {
  /** SIGTERM (or SIGKILL) → the next leader's line, ms. */
  latency: number[];
  /** SIGTERM → the old leader's process exited, ms (graceful only). */
  exit: number[];
}

/**
 * 3 candidates, each its own process. `count` times: end the leader (SIGTERM
 * to it, or SIGKILL to its process group for `crash`, at a random point of
 * its keepalive cycle), time until another candidate prints, then start a
 * replacement and wait until the queue holds 3 again.
 */
export async function handoffs(ctx: Context, tool: Tool, how: 'graceful' | 'crash', count: number): Promise<Handoffs> {
  const group = new Group(ctx, tool, electionName(tool, how));
  const result: Handoffs = { latency: [], exit: [] };
  try {
    const since = performance.now();
    const firstProc = group.start();
    let leader = (await group.next(since, 30_000)).proc;
    if (leader !== firstProc) throw new Error('the first candidate did not lead');
    group.start();
    group.start();
    await ctx.servers.waitQueued(tool.backend, group.election, 3, 30_000);
    for (let i = 0; i < count; i++) {
      if (how === 'crash') await sleep(Math.random() * (TTL_MS / 3));
      leader.tree(); // note what it started, outside the timed window
      const started = performance.now();
      if (how === 'graceful') group.stopLeader(leader);
      else leader.kill();
      const next = await group.next(started, how === 'graceful' ? 20_000 : 3 * TTL_MS + 10_000, leader);
      result.latency.push(next.at - started);
      await leader.waitExit(10_000);
      if (how === 'graceful') result.exit.push(leader.exitedAt - started);
      group.procs.delete(leader);
      leader = next.proc;
      group.start();
      await ctx.servers.waitQueued(tool.backend, group.election, 3, 30_000);
    }
  } finally {
    await group.close();
  }
  return result;
}

export interface ColdStart {
  /** Spawn → first "leading" line, ms, one sample per repetition. */
  firstLeader: number[];
  /** Per candidate, after the queue is complete and settled (3 candidates only, first repetition). */
  rssMiB: number[];
  anonMiB: number[];
  cpuToSettleMs: number[];
  /** CPU while waiting or leading at rest, % of one core. */
  idleCpuPct: number[];
}

/** `candidates` processes spawned at once on a fresh election: time to the first "leading" line; with 3, also RSS and CPU. */
export async function coldStart(ctx: Context, tool: Tool, candidates: number, repetitions: number): Promise<ColdStart> {
  const result: ColdStart = { firstLeader: [], rssMiB: [], anonMiB: [], cpuToSettleMs: [], idleCpuPct: [] };
  for (let rep = 0; rep < repetitions; rep++) {
    const group = new Group(ctx, tool, electionName(tool, `cold${candidates}`));
    try {
      const started = performance.now();
      for (let i = 0; i < candidates; i++) group.start();
      result.firstLeader.push((await group.next(started, 30_000)).at - started);
      if (rep > 0 || candidates < 3) continue;
      await ctx.servers.waitQueued(tool.backend, group.election, candidates, 30_000);
      await sleep(ctx.settleMs);
      const before = [...group.procs].map((proc) => ({ proc, use: usage(proc), at: performance.now() }));
      await sleep(ctx.idleWindowMs);
      for (const { proc, use, at } of before) {
        const now = usage(proc);
        result.rssMiB.push(now.rssMiB);
        result.anonMiB.push(now.anonMiB);
        result.cpuToSettleMs.push(use.cpuMs);
        result.idleCpuPct.push((100 * (now.cpuMs - use.cpuMs)) / (performance.now() - at));
      }
    } finally {
      await group.close();
    }
  }
  return result;
}

export interface Herd {
  candidates: number;
  processes: number;
  /** Spawn of all → the first "leading" line, ms. */
  firstLeaderMs: number;
  /** Server-side watches fired (ZooKeeper) / events sent to watchers (etcd) per leadership change. */
  wakes: number[];
  /** ZooKeeper: watches of candidates other than the leaving leader that the change fires (from `wchc`); etcd: as `wakes`. */
  othersWoken: number[];
  /** Watches the server holds with the whole queue at rest. */
  held: number;
  /** Leadership change → the next leader's line, ms. */
  latency: number[];
}

/**
 * `candidates` on one election (a multi-candidate program: at most 20
 * processes; otherwise one process each), all spawned at once. Once the whole
 * queue is in, `changes` times: end the current leadership gracefully, wait
 * for the next leader's line and a settle time, and read how many wakes the
 * server counted in between.
 */
export async function herd(ctx: Context, tool: Tool, candidates: number, changes: number, ttlMs?: number): Promise<Herd> {
  const group = new Group(ctx, tool, electionName(tool, `herd${candidates}`), ttlMs);
  try {
    const sizes: number[] = [];
    if (tool.multi) {
      const perProcess = Math.max(50, Math.ceil(candidates / 20));
      for (let left = candidates; left > 0; left -= perProcess) sizes.push(Math.min(perProcess, left));
    } else {
      for (let i = 0; i < candidates; i++) sizes.push(1);
    }
    const started = performance.now();
    for (const size of sizes) group.start(size);
    const first = await group.next(started, 120_000);
    const result: Herd = { candidates, processes: sizes.length, firstLeaderMs: first.at - started, wakes: [], othersWoken: [], held: NaN, latency: [] };
    await ctx.servers.waitQueued(tool.backend, group.election, candidates, 300_000);
    await sleep(ctx.settleMs);
    result.held = (await ctx.servers.wakes(tool.backend)).held;
    for (let i = 0; i < changes && group.last !== undefined; i++) {
      const leading = await group.leader();
      leading.proc.tree();
      const others = tool.backend === 'zk' ? await ctx.servers.othersWatching(group.election) : undefined;
      const before = await ctx.servers.wakes(tool.backend);
      const changed = performance.now();
      group.stopLeader(leading.proc);
      const next = await group.next(changed, 20_000, leading.proc.candidates > 1 ? undefined : leading.proc);
      result.latency.push(next.at - changed);
      await sleep(ctx.settleMs);
      const fired = (await ctx.servers.wakes(tool.backend)).fired - before.fired;
      result.wakes.push(fired);
      result.othersWoken.push(others ?? fired);
    }
    return result;
  } finally {
    await group.close();
  }
}

export interface NodeFloor {
  /** Spawn → the first line of a Node program that does nothing else, ms. */
  firstLine: number[];
  rssMiB: number[];
  anonMiB: number[];
  /** The same program started 20 times at once (a herd's processes): spawn → the first line of any, ms. */
  firstOf20: number[];
}

/**
 * What any candidate written for Node pays before its first line of work: a
 * `node` process that prints one line and idles, started `repetitions`
 * times. Its start time and memory are the floor under elect's cold start
 * and RSS on this machine. Then 20 of them at once, as a herd's processes
 * start: the first line of any is the floor under its first leader.
 */
export async function nodeFloor(ctx: Context, repetitions: number): Promise<NodeFloor> {
  const result: NodeFloor = { firstLine: [], rssMiB: [], anonMiB: [], firstOf20: [] };
  const spec = { command: process.execPath, args: ['-e', "process.stdout.write('leading\\n'); setInterval(() => {}, 1e9)"] };
  for (let rep = 0; rep < repetitions; rep++) {
    const started = performance.now();
    const proc = new Proc(spec, ctx.janitor, 1, 'node alone');
    try {
      result.firstLine.push((await nextLine(started, 30_000, (line) => line.proc === proc)).at - started);
      await sleep(ctx.settleMs);
      const now = usage(proc);
      result.rssMiB.push(now.rssMiB);
      result.anonMiB.push(now.anonMiB);
    } finally {
      proc.signal('SIGTERM');
      await proc.waitExit(5000);
    }
  }
  for (let rep = 0; rep < repetitions; rep++) {
    const started = performance.now();
    const procs = Array.from({ length: 20 }, () => new Proc(spec, ctx.janitor, 1, 'node alone'));
    try {
      result.firstOf20.push((await nextLine(started, 30_000, (line) => procs.includes(line.proc))).at - started);
    } finally {
      for (const proc of procs) proc.signal('SIGTERM');
      await Promise.all(procs.map((proc) => proc.waitExit(5000)));
    }
  }
  return result;
}
