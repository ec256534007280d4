/**
 * `pnpm chaos`: the soak, from the command line.
 *
 *   pnpm chaos [--backend zk|etcd|both] [--members 1|3] [--transitions N] [--minutes M] [--ttl MS]
 *              [--kinds kill,term,…] [--libraries N] [--runs N] [--zk-defaults] [--priority]
 *              [--connect host:port,…] [--json FILE]
 *
 * By default it starts the harness's servers (as local processes) for each
 * backend; with --connect it runs against a user's own ensemble or cluster
 * (plain TCP; the faults that restart servers are then left out), so that
 * operators can check their own timeouts against their own server settings.
 * --zk-defaults starts ZooKeeper at its own defaults (tickTime 2 s, initLimit
 * 10, syncLimit 5, cnxTimeout 5 s) instead of the harness's quick test timing,
 * with a 10 s TTL unless --ttl says otherwise. --priority soaks a priority
 * election: candidate n campaigns with priority 10·n, and two more faults
 * run — a preempting newcomer, and a handover to the lowest priority.
 * It prints one line per fault, then a table per backend, and writes the
 * whole result as JSON with --json. Exit status: 0 when the promise held, 1
 * when the checker found a violation (or something was left on the
 * servers), 2 on bad arguments.
 */
import { writeFileSync } from 'node:fs';
import { NetworkNamespace, ZOOKEEPER_SERVER_DEFAULTS, etcdTiming, startEtcdProcess, startZooKeeperProcess, zooKeeperTiming, type Cluster } from '@elect/test';
import { table } from './checker.js';
import { faultKinds, soak, type FaultKind, type SoakResult } from './soak.js';

interface Args {
  backends: ('zk' | 'etcd')[];
  members: 1 | 3;
  transitions: number;
  minutes: number | undefined;
  ttlMs: number;
  kinds: FaultKind[] | undefined;
  libraries: number;
  runs: number;
  connect: string | undefined;
  json: string | undefined;
  zkDefaults: boolean;
  priority: boolean;
}

class UsageError extends Error {}

function parse(argv: string[]): Args {
  const args: Args = { backends: ['zk', 'etcd'], members: 1, transitions: 24, minutes: undefined, ttlMs: 2_000, kinds: undefined, libraries: 2, runs: 2, connect: undefined, json: undefined, zkDefaults: false, priority: false };
  let ttlGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    const count = (min: number): number => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} ${v}: a whole number, at least ${min}`);
      return n;
    };
    switch (flag) {
      case '--backend': {
        const v = value();
        if (v !== 'zk' && v !== 'etcd' && v !== 'both') throw new UsageError(`--backend ${v}: zk, etcd or both`);
        args.backends = v === 'both' ? ['zk', 'etcd'] : [v];
        break;
      }
      case '--members': {
        const n = count(1);
        if (n !== 1 && n !== 3) throw new UsageError(`--members ${n}: 1 or 3`);
        args.members = n;
        break;
      }
      case '--transitions':
        args.transitions = count(1);
        break;
      case '--minutes':
        args.minutes = count(1);
        break;
      case '--ttl':
        args.ttlMs = count(2_000);
        ttlGiven = true;
        break;
      case '--priority':
        args.priority = true;
        break;
      case '--zk-defaults':
        args.zkDefaults = true;
        break;
      case '--libraries':
        args.libraries = count(0);
        break;
      case '--runs':
        args.runs = count(0);
        break;
      case '--kinds': {
        const kinds = value().split(',');
        const bad = kinds.filter((k) => !(faultKinds as readonly string[]).includes(k));
        if (bad.length > 0) throw new UsageError(`--kinds: unknown ${bad.join(', ')} (known: ${faultKinds.join(', ')})`);
        args.kinds = kinds as FaultKind[];
        break;
      }
      case '--connect':
        args.connect = value();
        break;
      case '--json':
        args.json = value();
        break;
      default:
        throw new UsageError(`unknown argument ${flag}`);
    }
  }
  if (args.libraries + args.runs < 2) throw new UsageError('at least two candidates (--libraries + --runs), or there is no one to fail over to');
  if (args.connect !== undefined && args.backends.length !== 1) throw new UsageError('--connect needs --backend zk or --backend etcd');
  if (args.zkDefaults && (args.connect !== undefined || !args.backends.includes('zk'))) {
    throw new UsageError('--zk-defaults starts ZooKeeper: it needs --backend zk (or both) and no --connect');
  }
  if (args.zkDefaults && !ttlGiven) args.ttlMs = 10_000;
  return args;
}

async function run(args: Args): Promise<SoakResult[]> {
  const results: SoakResult[] = [];
  for (const backend of args.backends) {
    let cluster: Cluster | undefined;
    let netns: NetworkNamespace | undefined;
    let addresses: string[];
    let serverTiming: { lossDetectionMs: number; recoveryMs: number } | undefined;
    if (args.connect === undefined) {
      // A cluster runs in its own network namespace where that is possible
      // (root, Linux), so that a member can be cut off from the others.
      const why = args.members === 1 ? 'a single server' : NetworkNamespace.unavailableReason();
      if (why === undefined) netns = await NetworkNamespace.create();
      else if (args.members > 1) process.stdout.write(`(no member isolation: ${why})\n`);
      const options = { size: args.members, ...(netns ? { netns } : {}) };
      const zkOptions = { ...options, ...(args.zkDefaults ? ZOOKEEPER_SERVER_DEFAULTS : {}) };
      cluster = backend === 'zk' ? await startZooKeeperProcess(zkOptions) : await startEtcdProcess(options);
      serverTiming = backend === 'zk' ? zooKeeperTiming(zkOptions) : etcdTiming();
      addresses = cluster.endpoints.map((e) => e.replace(/^https?:\/\//, ''));
    } else {
      addresses = args.connect.split(',').map((a) => a.replace(/^https?:\/\//, ''));
    }
    try {
      const result = await soak({
        backend,
        ...(cluster ? { cluster } : {}),
        ...(netns ? { netns } : {}),
        addresses,
        ttlMs: args.ttlMs,
        transitions: args.transitions,
        ...(args.minutes === undefined ? {} : { budgetMs: args.minutes * 60_000 }),
        ...(args.kinds ? { kinds: args.kinds } : {}),
        libraries: args.libraries,
        runs: args.runs,
        writeEveryMs: 20,
        priority: args.priority,
        ...(serverTiming ? { serverTiming } : {}),
        progress: (line) => process.stdout.write(`${line}\n`),
      });
      results.push(result);
      process.stdout.write(`\n${backend}, ${result.members} member(s), ${result.verdict.faults} faults, ${result.verdict.transitions} transitions, ${result.verdict.terms} terms, ${result.seconds} s\n`);
      process.stdout.write(`${table(result.verdict, args.ttlMs)}\n`);
      if (result.leftAtStop > 0) process.stdout.write(`(${result.leftAtStop} entr(ies) or lease(s) outlived their candidates' stop, gone with their sessions)\n`);
      if (result.leftovers.emptyLatchPath !== undefined) {
        process.stdout.write(`(the latch path ${result.leftovers.emptyLatchPath} remains, empty: a killed candidate's node outlived the last close)\n`);
      }
      for (const violation of result.verdict.violations) process.stdout.write(`VIOLATION: ${violation}\n`);
      if (result.verdict.violations.length === 0) process.stdout.write('no violations\n');
    } finally {
      await netns?.heal();
      await cluster?.close();
      await netns?.close();
    }
  }
  return results;
}

const json = (value: unknown): string => JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v), 2);

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parse(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`chaos: ${error.message}\n`);
    return 2;
  }
  const results = await run(args);
  if (args.json) {
    const summary = results.map((r) => ({ ...r, verdict: { ...r.verdict, overlaps: r.verdict.overlaps, staleWrites: r.verdict.staleWrites.slice(0, 100) } }));
    writeFileSync(args.json, json(summary));
  }
  return results.every((r) => r.verdict.violations.length === 0) ? 0 : 1;
}

// Ctrl-C: exit, and the harness's janitors stop the candidates and servers.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`chaos: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
