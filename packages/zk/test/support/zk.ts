/**
 * Test support: a real ZooKeeper (standalone or ensemble) from the harness,
 * connections to it with timings derived from the harness timing base, a
 * logger that records what the backend logs, and a residue check.
 */
import zookeeper from 'node-zookeeper-client';
import { scaled, startZooKeeper, type Cluster } from '@elect/test';
import type { Logger } from '@elect/core';
import { connectZooKeeper, type ZooKeeperConnection, type ZooKeeperConnectionOptions } from '@elect/zk';

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

let counter = 0;
/** A fresh election name per test. */
export function uniqueName(prefix = 'zk-test'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

export interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  fields: { event?: string; [key: string]: unknown };
}

/** A Logger that keeps every record, for counting wakes and the like. */
export class RecordingLogger implements Logger {
  readonly records: LogRecord[] = [];
  debug(fields: object): void {
    this.records.push({ level: 'debug', fields: fields as LogRecord['fields'] });
  }
  info(fields: object): void {
    this.records.push({ level: 'info', fields: fields as LogRecord['fields'] });
  }
  warn(fields: object): void {
    this.records.push({ level: 'warn', fields: fields as LogRecord['fields'] });
  }
  error(fields: object): void {
    this.records.push({ level: 'error', fields: fields as LogRecord['fields'] });
  }
  count(event: string): number {
    return this.records.filter((record) => record.fields.event === event).length;
  }
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
