/**
 * Benchmarks on a local etcd member (prints figures, asserts nothing):
 *
 * 1. Graceful handoff: the leader resigns while a candidate on another
 *    connection waits; latency = resign() called → the waiter's campaign
 *    resolves (delete, watch event, re-read, ownership check). ≥ 50 handoffs.
 * 2. Crash failover: a leader in its own process is SIGKILLed; latency =
 *    kill → a waiter in this process leads. etcd expires the lease at most
 *    one TTL after the last keepalive it received (keepalives go every TTL/3).
 * 3. Cut failover: the leader's connection is blackholed; we time its own
 *    loss (the loss deadline) and the successor's election, both from the
 *    cut. The gap between the two is the safety model at work.
 *
 * Run: pnpm --filter @elect/etcd bench   (builds, then runs bench/dist/handoff.js)
 * Env: ELECT_BENCH_HANDOFFS (default 100), ELECT_BENCH_CRASHES (default 5 per TTL),
 *      ELECT_BENCH_TTLS (default "2000,5000").
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectEtcd, type EtcdConnection } from '@elect/etcd';
import { blackhole } from './blackhole.js';
import { startServer } from './server.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const handoffs = Number(process.env.ELECT_BENCH_HANDOFFS ?? 100);
const crashes = Number(process.env.ELECT_BENCH_CRASHES ?? 5);
const ttls = (process.env.ELECT_BENCH_TTLS ?? '2000,5000').split(',').map(Number);

function quantile(sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

function summary(label: string, values: number[]): void {
  if (values.length === 0) return void console.log(`${label.padEnd(34)} n=  0  (not run)`);
  const sorted = [...values].sort((a, b) => a - b);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const f = (n: number): string => n.toFixed(1).padStart(7);
  console.log(
    `${label.padEnd(34)} n=${String(values.length).padStart(3)}  p50 ${f(quantile(sorted, 0.5))} ms  p99 ${f(quantile(sorted, 0.99))} ms  ` +
      `min ${f(sorted[0]!)}  max ${f(sorted.at(-1)!)}  mean ${f(mean)}`,
  );
}

async function queued(conn: EtcdConnection, name: string, count: number): Promise<void> {
  while ((await conn.election(name).candidates()).length < count) await new Promise((r) => setTimeout(r, 2));
}

async function gracefulHandoff(endpoint: string): Promise<void> {
  const name = `bench-handoff-${process.pid}`;
  const [a, b] = [await connectEtcd({ endpoints: endpoint, ttlMs: 5000 }), await connectEtcd({ endpoints: endpoint, ttlMs: 5000 })];
  const sides = [a, b];
  const latencies: number[] = [];
  let leader = await a.election(name).campaign({ id: 'side-0' });
  for (let i = 0; i < handoffs; i++) {
    const next = sides[(i + 1) % 2]!;
    const waiting = next.election(name).campaign({ id: `side-${(i + 1) % 2}` });
    await queued(next, name, 2);
    const started = performance.now();
    void leader.resign();
    leader = await waiting;
    latencies.push(performance.now() - started);
  }
  await leader.resign();
  await Promise.all(sides.map((s) => s.close()));
  summary('graceful handoff (resign → elected)', latencies);
}

async function crashFailover(endpoint: string, ttlMs: number): Promise<void> {
  const name = `bench-crash-${ttlMs}-${process.pid}`;
  const waiter = await connectEtcd({ endpoints: endpoint, ttlMs });
  const latencies: number[] = [];
  for (let i = 0; i < crashes; i++) {
    const child = spawn(process.execPath, [path.join(here, 'candidate.js'), endpoint, name, String(ttlMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (s: string) => s.includes('leading') && resolve());
      child.once('exit', (code) => reject(new Error(`candidate exited early (${code})`)));
    });
    const waiting = waiter.election(name).campaign({ id: 'survivor' });
    await queued(waiter, name, 2);
    // Kill at a random point of the keepalive cycle.
    await new Promise((r) => setTimeout(r, Math.random() * (ttlMs / 3)));
    const killed = performance.now();
    child.kill('SIGKILL');
    const leadership = await waiting;
    latencies.push(performance.now() - killed);
    await leadership.resign();
  }
  await waiter.close();
  summary(`crash failover, TTL ${ttlMs} ms`, latencies);
  const sorted = [...latencies].sort((a, b) => a - b);
  console.log(`${''.padEnd(34)} as a fraction of the TTL: p50 ${(quantile(sorted, 0.5) / ttlMs).toFixed(2)}, max ${(sorted.at(-1)! / ttlMs).toFixed(2)}`);
}

async function cutFailover(endpoint: string, ttlMs: number): Promise<void> {
  const name = `bench-cut-${ttlMs}-${process.pid}`;
  const waiter = await connectEtcd({ endpoints: endpoint, ttlMs });
  const url = new URL(endpoint);
  const lost: number[] = [];
  const elected: number[] = [];
  const gap: number[] = [];
  for (let i = 0; i < crashes; i++) {
    const proxy = await blackhole({ host: url.hostname, port: Number(url.port) });
    const doomed = await connectEtcd({ endpoints: proxy.address, ttlMs });
    const leadership = await doomed.election(name).campaign({ id: 'cut-off' });
    const waiting = waiter.election(name).campaign({ id: 'survivor' });
    await queued(waiter, name, 2);
    await new Promise((r) => setTimeout(r, Math.random() * (ttlMs / 3)));
    const cutAt = performance.now();
    proxy.cut();
    const lostAt = await new Promise<number>((resolve) => leadership.signal.addEventListener('abort', () => resolve(performance.now())));
    const successor = await waiting;
    const electedAt = performance.now();
    lost.push(lostAt - cutAt);
    elected.push(electedAt - cutAt);
    gap.push(electedAt - lostAt);
    await successor.resign();
    await proxy.close();
    await doomed.close();
  }
  await waiter.close();
  summary(`cut, TTL ${ttlMs}: cut → own loss`, lost);
  summary(`cut, TTL ${ttlMs}: cut → successor`, elected);
  summary(`cut, TTL ${ttlMs}: own loss → successor`, gap);
}

const server = await startServer();
try {
  console.log(`etcd member at ${server.endpoint}; node ${process.version}; ${new Date().toISOString()}`);
  await gracefulHandoff(server.endpoint);
  for (const ttl of ttls) await crashFailover(server.endpoint, ttl);
  for (const ttl of ttls) await cutFailover(server.endpoint, ttl);
} finally {
  await server.close();
}
