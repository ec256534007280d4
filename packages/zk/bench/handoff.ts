/**
 * ZooKeeper backend figures (printed, not asserted):
 *
 *  - graceful handoff: from `leadership.resign()` on one client to the
 *    waiting candidate's `campaign()` resolving on another (separate
 *    sessions), p50/p99 over ≥ 50 handoffs;
 *  - crash failover: the leader's process is SIGKILLed (its session then
 *    expires on the server) — time until the waiting candidate leads,
 *    against the configured session timeout; and the same with the leader's
 *    session expired at once on the server, for comparison.
 *
 * Uses a standalone server from the test harness, or ELECT_BENCH_ZK=host:port.
 * Run: pnpm --filter @elect/zk bench  (ELECT_BENCH_HANDOFFS, ELECT_BENCH_CRASHES)
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expireSession, startZooKeeper, type Cluster } from '@elect/test';
import { connectZooKeeper, type ZooKeeperConnection } from '@elect/zk';

const handoffs = Number(process.env.ELECT_BENCH_HANDOFFS ?? 100);
const crashes = Number(process.env.ELECT_BENCH_CRASHES ?? 5);
const here = path.dirname(fileURLToPath(import.meta.url));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

function summary(label: string, samples: number[]): void {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, x) => sum + x, 0) / sorted.length;
  const f = (x: number): string => x.toFixed(1).padStart(8);
  console.log(`${label.padEnd(40)} n=${String(sorted.length).padStart(3)} p50=${f(percentile(sorted, 50))} p99=${f(percentile(sorted, 99))} mean=${f(mean)} max=${f(sorted.at(-1) as number)} ms`);
}

async function graceful(connect: string): Promise<number[]> {
  const [a, b] = [await connectZooKeeper({ connectString: connect }), await connectZooKeeper({ connectString: connect })];
  const name = `bench-handoff-${process.pid}`;
  const elections = [a.election(name), b.election(name)];
  const samples: number[] = [];
  try {
    let leader = await elections[0]!.campaign({ id: 'a' });
    let turn = 1;
    for (let i = 0; i < handoffs + 5; i += 1) {
      const next = elections[turn]!.campaign({ id: turn === 0 ? 'a' : 'b' });
      // Wait until the waiting candidate is queued (its node written).
      while ((await elections[0]!.candidates()).length < 2) await new Promise((r) => setTimeout(r, 2));
      const started = performance.now();
      await leader.resign();
      leader = await next;
      if (i >= 5) samples.push(performance.now() - started); // the first few warm up the JIT
      turn = 1 - turn;
    }
    await leader.resign();
  } finally {
    for (const election of elections) await election.close();
    await a.close();
    await b.close();
  }
  return samples;
}

async function crash(connect: string, sessionTimeoutMs: number): Promise<number> {
  const name = `bench-crash-${process.pid}-${sessionTimeoutMs}-${Math.random().toString(36).slice(2)}`;
  const child = spawn(process.execPath, [path.join(here, 'crash-child.js'), connect, name, String(sessionTimeoutMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('LEADER') && resolve());
    child.once('exit', (code) => reject(new Error(`the child exited with ${code}`)));
  });
  const watcher: ZooKeeperConnection = await connectZooKeeper({ connectString: connect, sessionTimeoutMs });
  const election = watcher.election(name);
  try {
    const next = election.campaign({ id: 'survivor' });
    while ((await election.candidates()).length < 2) await new Promise((r) => setTimeout(r, 5));
    const crashed = (await election.candidates())[0]!;
    const started = performance.now();
    child.kill('SIGKILL');
    const leadership = await next;
    const elapsed = performance.now() - started;
    if (leadership.token <= crashed.token) throw new Error('tokens went backwards');
    await leadership.resign();
    return elapsed;
  } finally {
    child.kill('SIGKILL');
    await election.close();
    await watcher.close();
  }
}

/** The successor's wait when the leader's session is ended on the server at once (no timeout to sit out). */
async function expired(connect: string, sessionTimeoutMs: number): Promise<number> {
  const [a, b] = [await connectZooKeeper({ connectString: connect, sessionTimeoutMs }), await connectZooKeeper({ connectString: connect, sessionTimeoutMs })];
  const name = `bench-expire-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const [ea, eb] = [a.election(name), b.election(name)];
  try {
    await ea.campaign({ id: 'a' });
    const next = eb.campaign({ id: 'b' });
    while ((await eb.candidates()).length < 2) await new Promise((r) => setTimeout(r, 5));
    const session = a.current;
    if (!session) throw new Error('no session');
    const started = performance.now();
    await expireSession(connect, { sessionId: session.client.sessionIdBytes, sessionPassword: session.client.sessionPassword });
    const leadership = await next;
    const elapsed = performance.now() - started;
    await leadership.resign();
    return elapsed;
  } finally {
    await ea.close();
    await eb.close();
    await a.close();
    await b.close();
  }
}

async function main(): Promise<void> {
  const given = process.env.ELECT_BENCH_ZK;
  const cluster = given ? undefined : await startZooKeeper({ size: 1, tickTimeMs: 200 });
  const connect = given ?? (cluster as Cluster).connectString;
  try {
    console.log(`ZooKeeper at ${connect}${cluster ? ` (${cluster.runtime}, tickTime 200 ms)` : ''}; node ${process.version}`);
    summary(`graceful handoff (${handoffs})`, await graceful(connect));
    for (const timeout of [2000, 4000, 8000]) {
      const killed: number[] = [];
      const gone: number[] = [];
      for (let i = 0; i < crashes; i += 1) killed.push(await crash(connect, timeout));
      for (let i = 0; i < crashes; i += 1) gone.push(await expired(connect, timeout));
      summary(`failover after SIGKILL, session ${timeout} ms`, killed);
      summary(`failover after session expiry, session ${timeout} ms`, gone);
    }
  } finally {
    await cluster?.close();
  }
}

await main();
