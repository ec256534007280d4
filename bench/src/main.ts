/**
 * `pnpm bench:peers`: elect next to its peers — Apache Curator's LeaderLatch
 * (ZooKeeper), `etcdctl lock` and `etcdctl elect` (etcd) — as a library
 * candidate and as `elect run`, against the same servers in one run. Prints a
 * markdown table (figures only, nothing asserted) and, with --json, writes
 * every sample.
 *
 *   pnpm bench:peers [--quick] [--scenarios handoff,crash,cold,herd] [--backends zk,etcd]
 *                    [--tools curator,etcdctl-lock,etcdctl-elect,lib,cli,floor,floor-cli]
 *                    [--handoffs N] [--crashes N] [--cold N] [--herd N] [--changes N]
 *                    [--herd-large [N]] [--herd-large-ttl S] [--json FILE]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Janitor } from '@elect/test';
import { stopAll } from './proc.js';
import { type Row, max, mean, median, quantile, table } from './report.js';
import { type ColdStart, type Context, type Handoffs, type Herd, type NodeFloor, coldStart, handoffs, herd, nodeFloor } from './scenarios.js';
import { Servers } from './servers.js';
import { type Backend, TTL_MS, type Tool, type ToolName, compileCurator, tools } from './tools.js';

const SCENARIOS = ['handoff', 'crash', 'cold', 'herd'] as const;
type Scenario = (typeof SCENARIOS)[number];
const TOOL_NAMES: ToolName[] = ['curator', 'etcdctl-lock', 'etcdctl-elect', 'lib', 'cli', 'floor', 'floor-cli'];

const USAGE = `pnpm bench:peers [options]

  --quick              a smoke run: 3 handoffs, 1 crash, 1 cold start, herd of 10, 1 change
  --scenarios LIST     handoff,crash,cold,herd (default: all)
  --backends LIST      zk,etcd (default: both)
  --tools LIST         curator,etcdctl-lock,etcdctl-elect,lib,cli,floor,floor-cli
                       (default: all; floor and floor-cli, the Node floor, in the
                       graceful handoff only)
  --handoffs N         graceful handoffs per tool (default 50)
  --crashes N          crash failovers per tool (default 5)
  --cold N             cold starts per tool and size (default 5)
  --herd N             candidates in the herd scenario (default 50)
  --changes N          leadership changes measured per herd (default 5)
  --herd-large [N]     also a herd of N (default 1000) for the tools that hold many
                       candidates per process (elect lib, Curator), at most 20 processes
  --herd-large-ttl S   the session timeout / TTL of that herd in seconds (default 10: at
                       2 s, a thousand sessions' heartbeats and the herd's start-up
                       outrun two cores, and no candidate stays leader long enough)
  --json FILE          also write every sample as JSON
`;

interface Options {
  scenarios: Scenario[];
  backends: Backend[];
  tools: ToolName[];
  handoffs: number;
  crashes: number;
  cold: number;
  herd: number;
  changes: number;
  herdLarge: number | undefined;
  herdLargeTtlMs: number;
  json: string | undefined;
  quick: boolean;
}

function list<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T[] {
  if (value === undefined) return [...allowed];
  const items = value.split(',').map((item) => item.trim());
  const bad = items.filter((item) => !allowed.includes(item as T));
  if (bad.length > 0) throw new Error(`--${flag}: ${bad.join(', ')} not one of ${allowed.join(', ')}`);
  return items as T[];
}

function count(flag: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${flag} ${value}: a whole number, at least ${min}`);
  return n;
}

function parse(argv: string[]): Options | undefined {
  // `pnpm bench:peers -- --quick` passes the `--` through.
  const { values } = parseArgs({
    args: argv.filter((arg) => arg !== '--'),
    options: {
      quick: { type: 'boolean' },
      scenarios: { type: 'string' },
      backends: { type: 'string' },
      tools: { type: 'string' },
      handoffs: { type: 'string' },
      crashes: { type: 'string' },
      cold: { type: 'string' },
      herd: { type: 'string' },
      changes: { type: 'string' },
      'herd-large': { type: 'boolean' },
      'herd-large-ttl': { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return undefined;
  }
  const quick = values.quick === true;
  const largeAt = argv.indexOf('--herd-large');
  const largeValue = largeAt >= 0 && /^\d+$/.test(argv[largeAt + 1] ?? '') ? argv[largeAt + 1] : undefined;
  return {
    quick,
    scenarios: list('scenarios', values.scenarios, SCENARIOS),
    backends: list('backends', values.backends, ['zk', 'etcd'] as const),
    tools: list('tools', values.tools, TOOL_NAMES),
    handoffs: count('handoffs', values.handoffs, quick ? 3 : 50),
    crashes: count('crashes', values.crashes, quick ? 1 : 5),
    cold: count('cold', values.cold, quick ? 1 : 5),
    herd: count('herd', values.herd, quick ? 10 : 50, 2),
    changes: count('changes', values.changes, quick ? 1 : 5),
    herdLarge: values['herd-large'] ? count('herd-large', largeValue, 1000, 2) : undefined,
    herdLargeTtlMs: 1000 * count('herd-large-ttl', values['herd-large-ttl'], 10, 1),
    json: values.json,
  };
}

interface ToolResult {
  handoff?: Handoffs;
  crash?: Handoffs;
  cold1?: ColdStart;
  cold3?: ColdStart;
  herd?: Herd;
  herdLarge?: Herd;
  errors: string[];
}

/** Set once the bench is interrupted, or a step stalled: no further step starts. */
let interrupting = false;
/** A step outlived its budget: the run ends after printing what it measured, with exit code 1. */
let stalled = false;
const halt = new AbortController();

/**
 * Every wait inside a step has its own deadline, so a step's budget is the
 * sum of them: one that outlives it waited on something without one (a
 * server gone, say). It is reported with the servers' state and ends the run.
 */
function stepBudgetMs(options: Options, kind: 'cold' | 'handoff' | 'crash' | 'herd'): number {
  const perRound = { cold: 75_000, handoff: 70_000, crash: 70_000 + 4 * TTL_MS, herd: 60_000 }[kind];
  const rounds = { cold: options.cold, handoff: options.handoffs, crash: options.crashes, herd: options.changes }[kind];
  return (kind === 'herd' ? 480_000 : 70_000) + rounds * perRound;
}

async function measure(ctx: Context, options: Options, tool: Tool): Promise<ToolResult> {
  const result: ToolResult = { errors: [] };
  const step = async (what: string, budgetMs: number, run: () => Promise<void>): Promise<void> => {
    if (interrupting) return;
    ctx.log(`${tool.title} (${tool.backend}): ${what}`);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        stalled = interrupting = true;
        halt.abort();
        reject(new Error(`no result within ${budgetMs / 1000} s, the sum of its own waits' deadlines`));
      }, budgetMs);
    });
    try {
      await Promise.race([run(), late]);
    } catch (error) {
      if (interrupting && !stalled) return;
      const down = ctx.servers.down() ?? (stalled ? 'every server runs' : undefined);
      result.errors.push(`${what}: ${error instanceof Error ? error.message : String(error)}${down ? `; ${down}` : ''}`);
      ctx.log(`  failed: ${String(error)}`);
      await stopAll();
    } finally {
      clearTimeout(timer);
    }
  };
  if (options.scenarios.includes('cold') && !tool.handoffOnly) {
    await step('cold start, 1 candidate', stepBudgetMs(options, 'cold'), async () => void (result.cold1 = await coldStart(ctx, tool, 1, options.cold)));
    await step('cold start, 3 candidates', stepBudgetMs(options, 'cold'), async () => void (result.cold3 = await coldStart(ctx, tool, 3, options.cold)));
  }
  if (options.scenarios.includes('handoff')) {
    await step(`${options.handoffs} graceful handoffs`, stepBudgetMs(options, 'handoff'), async () => void (result.handoff = await handoffs(ctx, tool, 'graceful', options.handoffs)));
  }
  if (options.scenarios.includes('crash') && tool.fixedTtl === undefined && !tool.handoffOnly) {
    await step(`${options.crashes} crash failovers`, stepBudgetMs(options, 'crash'), async () => void (result.crash = await handoffs(ctx, tool, 'crash', options.crashes)));
  }
  if (options.scenarios.includes('herd') && !tool.handoffOnly) {
    await step(`herd of ${options.herd}`, stepBudgetMs(options, 'herd'), async () => void (result.herd = await herd(ctx, tool, options.herd, options.changes)));
    if (options.herdLarge !== undefined && tool.multi) {
      const n = options.herdLarge;
      await step(`herd of ${n}`, stepBudgetMs(options, 'herd'), async () => void (result.herdLarge = await herd(ctx, tool, n, options.changes, options.herdLargeTtlMs)));
    }
  }
  return result;
}

function rows(options: Options, measured: Array<{ tool: Tool; result: ToolResult }>): Row[] {
  const out: Row[] = [];
  for (const backend of options.backends) {
    const mine = measured.filter(({ tool }) => tool.backend === backend);
    const row = (figure: string, unit: Row['unit'], pick: (r: ToolResult, tool: Tool) => { value: number; n?: number; note?: string } | undefined): void => {
      const cells: Row['cells'] = {};
      for (const { tool, result } of mine) {
        const c = pick(result, tool);
        if (c !== undefined) cells[tool.name] = c;
      }
      if (Object.keys(cells).length > 0) out.push({ figure, backend, unit, cells });
    };
    const samples = (xs: number[] | undefined, f: (xs: number[]) => number): { value: number; n: number } | undefined =>
      xs === undefined || xs.length === 0 ? undefined : { value: f(xs), n: xs.length };
    row('graceful handoff p50 (SIGTERM → next prints)', 'ms', (r) => samples(r.handoff?.latency, median));
    row('graceful handoff p99', 'ms', (r) => samples(r.handoff?.latency, (xs) => quantile(xs, 0.99)));
    row('old leader gone after SIGTERM, p50', 'ms', (r) => samples(r.handoff?.exit, median));
    row(`crash failover median ÷ TTL ${TTL_MS / 1000} s (SIGKILL → next prints)`, '×TTL', (r, tool) =>
      tool.fixedTtl && options.scenarios.includes('crash') ? { value: NaN, note: `– (${tool.fixedTtl})` } : samples(r.crash?.latency.map((x) => x / TTL_MS), median));
    row('crash failover max ÷ TTL', '×TTL', (r) => samples(r.crash?.latency.map((x) => x / TTL_MS), max));
    row('cold start → leader, 1 candidate (median)', 'ms', (r) => samples(r.cold1?.firstLeader, median));
    row('cold start → leader, 3 candidates (median)', 'ms', (r) => samples(r.cold3?.firstLeader, median));
    row('RSS per candidate (mean of 3)', 'MiB', (r) => samples(r.cold3?.rssMiB, mean));
    row('private memory per candidate, anonymous pages (mean of 3)', 'MiB', (r) => samples(r.cold3?.anonMiB, mean));
    row('CPU per candidate, spawn → queue settled (mean of 3)', 'ms', (r) => samples(r.cold3?.cpuToSettleMs, mean));
    row('CPU per candidate at rest (mean of 3)', '%', (r) => samples(r.cold3?.idleCpuPct, mean));
    const herds = [
      ['herd', options.herd, ''],
      ['herdLarge', options.herdLarge, `, TTL ${options.herdLargeTtlMs / 1000} s`],
    ] as const;
    for (const [key, size, ttl] of herds) {
      if (size === undefined) continue;
      row(`candidates woken per leadership change, ${size} candidates${ttl} (max)`, '', (r) => samples(r[key]?.othersWoken, max));
      if (backend === 'zk') row(`watches fired per change, server total, ${size} candidates${ttl} (max)`, '', (r) => samples(r[key]?.wakes, max));
      row(`watches held at rest, ${size} candidates${ttl}`, '', (r) => (r[key] ? { value: r[key].held } : undefined));
      row(`first leader of ${size} fresh candidates${ttl}`, 'ms', (r) => (r[key] ? { value: r[key].firstLeaderMs } : undefined));
      row(`handoff with ${size} queued${ttl} (median)`, 'ms', (r) => samples(r[key]?.latency, median));
    }
  }
  return out;
}

async function main(): Promise<number> {
  let options: Options | undefined;
  try {
    options = parse(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (options === undefined) return 0;
  const log = (message: string): void => void process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${message}\n`);
  const janitor = await Janitor.start('pnpm bench:peers');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elect-test-bench-'));
  janitor.removeAtEnd(dir);
  let servers: Servers | undefined;
  const interrupted = (): void => {
    interrupting = true;
    log('interrupted: stopping everything');
    void stopAll(1000)
      .then(() => servers?.close())
      .finally(() => janitor.close().finally(() => process.exit(130)));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    let curator: string | undefined;
    const notes: string[] = [];
    if (options.tools.includes('curator') && options.backends.includes('zk')) {
      const compiled = compileCurator(dir);
      if ('missing' in compiled) notes.push(`Curator left out: ${compiled.missing}`);
      else curator = compiled.classpath;
    }
    log(`starting servers (${options.backends.join(', ')})`);
    servers = await Servers.start(options.backends);
    const ctx: Context = { servers, janitor, settleMs: options.quick ? 300 : 1000, idleWindowMs: options.quick ? 1000 : 5000, log, halted: halt.signal };
    const connect = { zk: servers.zk?.connectString ?? '', etcd: servers.etcd?.connectString ?? '' };
    const selected = tools(connect, curator).filter((tool) => options.backends.includes(tool.backend) && options.tools.includes(tool.name));
    const measured: Array<{ tool: Tool; result: ToolResult }> = [];
    for (const tool of selected) measured.push({ tool, result: await measure(ctx, options, tool) });
    let floor: NodeFloor | undefined;
    if (options.scenarios.includes('cold') && (options.tools.includes('lib') || options.tools.includes('cli')) && !interrupting) {
      log('node alone: the floor under a Node candidate');
      try {
        floor = await nodeFloor(ctx, options.cold);
      } catch (error) {
        notes.push(`Node alone not measured: ${error instanceof Error ? error.message : String(error)}`);
        await stopAll();
      }
    }

    const when = new Date().toISOString();
    const cpus = os.cpus();
    console.log(`\n## elect and its peers, ${when}\n`);
    console.log(
      `${os.hostname()}: ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, load ${os.loadavg()[0]!.toFixed(2)}; ` +
        `node ${process.version}; standalone ZooKeeper (tickTime 200), single etcd member; TTL / session timeout ${TTL_MS / 1000} s; ` +
        `${options.handoffs} handoffs, ${options.crashes} crashes, ${options.cold} cold starts, herd of ${options.herd}${options.quick ? ' (--quick)' : ''}\n`,
    );
    console.log(table(rows(options, measured)));
    console.log(
      '\nWoken: ZooKeeper: the watches of sessions other than the leaving leader\'s on its znode or on the latch path (wchc, just before the change); ' +
        'etcd: the events the server sent to watchers (etcd_debugging_mvcc_events_total) from just before the change until the next leader printed plus a settle time. ' +
        'Watches fired, server total: the same window on ZooKeeper\'s own counters (mntr zk_sum_node_*_watch_count), which include a watch the leaving leader holds on its own znode. ' +
        'RSS, private memory and CPU: the candidate process and all it started except the payload (`sleep`), from /proc.',
    );
    if (floor !== undefined) {
      console.log(
        `\nNode alone (\`node -e\` printing one line, then idle; the floor under elect lib and elect cli on this machine): ` +
          `spawn → first line ${median(floor.firstLine).toFixed(1)} ms (median, n=${floor.firstLine.length}), ` +
          `and ${median(floor.firstOf20).toFixed(0)} ms to the first line of 20 started at once (median, n=${floor.firstOf20.length}); ` +
          `RSS ${mean(floor.rssMiB).toFixed(1)} MiB, of which ${mean(floor.anonMiB).toFixed(1)} MiB private (anonymous pages); ` +
          'the rest is the pages of the `node` binary and its libraries, which every Node process on the machine shares.',
      );
    }
    for (const note of notes) console.log(`\n- ${note}`);
    for (const { tool, result } of measured) for (const error of result.errors) console.log(`- ${tool.title} (${tool.backend}), ${error}`);
    if (options.json !== undefined) {
      fs.writeFileSync(options.json, JSON.stringify({ when, options, floor, results: measured.map(({ tool, result }) => ({ tool: tool.name, backend: tool.backend, ...result })) }, null, 2));
    }
    return stalled ? 1 : 0;
  } finally {
    await stopAll();
    await servers?.close();
    await janitor.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
// A stalled step may still hold a wait without a deadline: do not wait for it.
if (stalled) process.exit(process.exitCode);
