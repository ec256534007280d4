/**
 * elect as a library, for `pnpm bench:peers`: COUNT candidates of one
 * election in this process, each on its own connection (its own ZooKeeper
 * session or etcd lease, so the servers see COUNT separate clients, as they
 * do for the peers). Prints `leading I` as soon as candidate I's `campaign()`
 * resolves. A line `resign` on stdin resigns the candidates that lead right
 * now (the others keep waiting); SIGTERM resigns and closes everything, then
 * the process exits.
 *
 *   node candidate.js zk|etcd CONNECT ELECTION TTL_MS COUNT
 */
import readline from 'node:readline';
import type { Election, Leadership } from '@elect/core';

interface Connection {
  election(name: string): Election;
  close(): Promise<void>;
}

const [backend, connect, name, ttl, count] = process.argv.slice(2) as [string, string, string, string, string];
const ttlMs = Number(ttl);

// Only the backend in use is loaded, as in a service that uses one.
async function open(): Promise<Connection> {
  if (backend === 'zk') {
    const { connectZooKeeper } = await import('@elect/zk');
    return await connectZooKeeper({ connectString: connect, sessionTimeoutMs: ttlMs });
  }
  const { connectEtcd } = await import('@elect/etcd');
  return await connectEtcd({ endpoints: connect, ttlMs });
}

const stopping = new AbortController();
const connections: Connection[] = [];
const leading = new Set<Leadership>();

async function candidate(index: number): Promise<void> {
  const connection = await open();
  connections.push(connection);
  const leadership = await connection.election(name).campaign({ id: `lib-${process.pid}-${index}`, signal: stopping.signal });
  leading.add(leadership);
  process.stdout.write(`leading ${index}\n`);
}

async function resignLeaders(): Promise<void> {
  const now = [...leading];
  leading.clear();
  await Promise.allSettled(now.map((leadership) => leadership.resign()));
}

async function stop(): Promise<void> {
  // The leaders resign first: the next leader waits for that alone.
  const resigning = resignLeaders();
  stopping.abort();
  await resigning;
  await Promise.allSettled(connections.map((connection) => connection.close()));
  process.exit(0);
}

process.once('SIGTERM', () => void stop());
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'resign') void resignLeaders();
});
const campaigns = Array.from({ length: Number(count) }, (_, i) =>
  candidate(i).catch((error: unknown) => {
    if (!stopping.signal.aborted) process.stderr.write(`candidate ${i}: ${String(error)}\n`);
  }),
);
await Promise.all(campaigns);
