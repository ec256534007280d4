/**
 * Test support: a real ZooKeeper (standalone or ensemble) from the harness,
 * connections to it with timings derived from the harness timing base, a
 * logger that records what the backend logs, and a residue check.
 */
import zookeeper from 'node-zookeeper-client';
import { scaled, startZooKeeper, type Cluster } from '@elect/test';
import { connectZooKeeper, type ZooKeeperConnection, type ZooKeeperConnectionOptions } from '@elect/zk';

export { type LogRecord, RecordingLogger, uniqueName } from '@elect/test';

/** Session timeout for tests: long enough for a loaded 2-core box, short enough for quick failovers. */
export const sessionTimeoutMs = scaled(4000);

export async function startServer(size: 1 | 3 = 1): Promise<Cluster> {
  return await startZooKeeper({ size, tickTimeMs: 200 });
}

export function connect(connectString: string, options: Partial<ZooKeeperConnectionOptions> = {}): Promise<ZooKeeperConnection> {
  return connectZooKeeper({
    connectString,
    sessionTimeoutMs,
    connectTimeoutMs: scaled(10_000),
    operationTimeoutMs: scaled(3000),
    ...options,
  });
}

/** A plain client of the raw library, for looking at the server from outside. */
export async function rawClient(connectString: string): Promise<zookeeper.Client> {
  const client = zookeeper.createClient(connectString, { sessionTimeout: sessionTimeoutMs, retries: 0 });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no connection to ${connectString}`)), scaled(10_000));
    client.once('connected', () => {
      clearTimeout(timer);
      resolve();
    });
    client.connect();
  });
  return client;
}

/** The children of `path` ([] when it does not exist). */
export function children(client: zookeeper.Client, path: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    client.getChildren(path, (error, names) => {
      if (error && (error as { code?: number }).code === zookeeper.Exception.NO_NODE) resolve([]);
      else if (error) reject(error);
      else resolve(names);
    });
  });
}
