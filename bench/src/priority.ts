/**
 * `pnpm bench:priority`: how fast leadership passes in a priority election,
 * next to the plain graceful handoff, on each backend (printed, not
 * asserted). Every candidate has its own connection (its own session or
 * lease), as separate processes would; times are from the act to the next
 * leader's `campaign()` resolving:
 *
 *  - graceful handoff, plain and priority: `resign()` → the next one leads;
 *  - handover: `leadership.handover({ to })`, to a candidate of lower
 *    priority than another waiting one → it leads;
 *  - asked handover: `election.handover({ to })` from a third client; the
 *    leader resigns the moment its signal aborts (its work stops at once) →
 *    `to` leads;
 *  - preemption: a candidate with `preempt` campaigns; the leader resigns the
 *    moment its signal aborts → the preemptor leads. Also the first part
 *    alone: the preemptor's campaign → the leader's signal aborts.
 *
 * Servers: a standalone ZooKeeper (tickTime 200) and a single etcd from the
 * harness. Run: pnpm bench:priority [--rounds N] [--backends zk,etcd] [--settle MS]
 */
import { parseArgs } from 'node:util';
import type { Election, Leadership } from '@elect/core';
import { connectEtcd } from '@elect/etcd';
import { startEtcd, startZooKeeper, type Cluster } from '@elect/test';
import { connectZooKeeper } from '@elect/zk';

type Backend = 'zk' | 'etcd';
interface Client {
  election: Election;
  close(): Promise<void>;
}

const { values } = parseArgs({ options: { rounds: { type: 'string' }, backends: { type: 'string' }, settle: { type: 'string' } } });
const rounds = Number(values.rounds ?? 50);
/**
 * How long each round lets the election settle before it acts: a steady
 * state, not the first moments of an election. `--settle 0` acts at once:
 * etcd delivers the events of a watch that starts at a past revision from
 * a loop that runs every 100 ms (its mvcc store's syncWatchersLoop), which
 * our waits and guards avoid by watching from when the watch exists (the
 * etcd README); this shows they do.
 */
const settleMs = Number(values.settle ?? 250);
const backends = (values.backends ?? 'zk,etcd').split(',') as Backend[];
if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(settleMs) || settleMs < 0 || backends.some((b) => b !== 'zk' && b !== 'etcd')) {
  process.stderr.write('usage: pnpm bench:priority [--rounds N] [--backends zk,etcd] [--settle MS]\n');
  process.exit(2);
}
const warmup = 3;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

function row(label: string, samples: number[]): void {
  const sorted = [...samples].sort((a, b) => a - b);
  const f = (x: number): string => x.toFixed(1).padStart(7);
  console.log(`  ${label.padEnd(46)} n=${String(sorted.length).padStart(3)}  p50 ${f(quantile(sorted, 0.5))}  p99 ${f(quantile(sorted, 0.99))}  max ${f(sorted.at(-1) as number)} ms`);
}

/** Resolves when `leadership.signal` aborts. */
function ended(leadership: Leadership): Promise<void> {
  return new Promise((resolve) => {
    if (leadership.signal.aborted) resolve();
    else leadership.signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** Waits until `count` entries are queued (the contract has no event for that), then lets the election settle. */
async function queued(election: Election, count: number): Promise<void> {
  while ((await election.candidates()).length < count) await new Promise((resolve) => setTimeout(resolve, 2));
  await settle();
}

function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, settleMs));
}

async function measure(name: string, open: (name: string) => Promise<Client>): Promise<void> {
  let serial = 0;
  const fresh = (): string => `bench-priority-${process.pid}-${name}-${++serial}`;
  const clients = async (election: string): Promise<Client[]> => Promise.all([0, 1, 2, 3].map(() => open(election)));

  /** Runs `round` `rounds + warmup` times on a fresh election each, keeping the samples after the warm-up. */
  const series = async (round: (c: Client[]) => Promise<number>): Promise<number[]> => {
    const samples: number[] = [];
    for (let i = 0; i < rounds + warmup; i++) {
      const cs = await clients(fresh());
      try {
        const ms = await round(cs);
        if (i >= warmup) samples.push(ms);
      } finally {
        await Promise.all(cs.map((client) => client.close()));
      }
    }
    return samples;
  };

  const handoff = (priority: boolean) => async ([x, y]: Client[]): Promise<number> => {
    const leader = await x!.election.campaign({ id: 'x', ...(priority ? { priority: 1 } : {}) });
    const next = y!.election.campaign({ id: 'y', ...(priority ? { priority: 1 } : {}) });
    await queued(x!.election, 2);
    const started = performance.now();
    await leader.resign();
    const led = await next;
    const ms = performance.now() - started;
    await led.resign();
    return ms;
  };
  row('graceful handoff, plain (resign → next)', await series(handoff(false)));
  row('graceful handoff, priority (resign → next)', await series(handoff(true)));

  row(
    'handover({ to }) → to leads',
    await series(async ([x, y, z]) => {
      const leader = await x!.election.campaign({ id: 'x', priority: 5 });
      const top = y!.election.campaign({ id: 'top', priority: 9 });
      const chosen = z!.election.campaign({ id: 'chosen', priority: 1 });
      await queued(x!.election, 3);
      const started = performance.now();
      // To `chosen` leading; the old leader's own confirmation may come later.
      const handing = leader.handover({ to: 'chosen' });
      const led = await chosen;
      const ms = performance.now() - started;
      await handing;
      await led.resign();
      await (await top).resign();
      return ms;
    }),
  );

  row(
    'election.handover({ to }) from elsewhere → to leads',
    await series(async ([x, y, , op]) => {
      const leader = await x!.election.campaign({ id: 'x', priority: 5 });
      void ended(leader).then(() => leader.resign());
      const chosen = y!.election.campaign({ id: 'chosen', priority: 1 });
      await queued(x!.election, 2);
      const started = performance.now();
      await op!.election.handover({ to: 'chosen' });
      const ms = performance.now() - started;
      await (await chosen).resign();
      return ms;
    }),
  );

  const yielded: number[] = [];
  row(
    'preemption: campaign({ preempt }) → it leads',
    await series(async ([x, y]) => {
      const leader = await x!.election.campaign({ id: 'x', priority: 1 });
      await settle();
      const started = performance.now();
      void ended(leader).then(() => {
        yielded.push(performance.now() - started);
        return leader.resign();
      });
      const led = await y!.election.campaign({ id: 'y', priority: 9, preempt: true });
      const ms = performance.now() - started;
      await led.resign();
      return ms;
    }),
  );
  row('preemption: campaign({ preempt }) → leader told', yielded.slice(warmup));
}

async function main(): Promise<void> {
  console.log(`priority elections, ${rounds} rounds each (after ${warmup} warm-up), each acting ${settleMs} ms after its set-up; node ${process.version}`);
  for (const backend of backends) {
    const cluster: Cluster = backend === 'zk' ? await startZooKeeper({ size: 1, tickTimeMs: 200 }) : await startEtcd({ size: 1 });
    try {
      console.log(`${backend === 'zk' ? 'ZooKeeper' : 'etcd'} (${cluster.runtime}):`);
      await measure(backend, async (name) => {
        const conn =
          backend === 'zk'
            ? await connectZooKeeper({ connectString: cluster.connectString, sessionTimeoutMs: 4_000 })
            : await connectEtcd({ endpoints: cluster.endpoints.join(','), ttlMs: 4_000 });
        const election = conn.election(name);
        return {
          election,
          close: async () => {
            await election.close();
            await conn.close();
          },
        };
      });
    } finally {
      await cluster.close();
    }
  }
}

await main();
