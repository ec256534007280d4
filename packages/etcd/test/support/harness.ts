/**
 * What the etcd tests share: a separate admin client (the "other process"
 * that looks at the server: residue, leases, revokes), a logger that records
 * what the backend logs, event queues, and one timing scale.
 */
import { afterAll, beforeAll } from '@jest/globals';
import { Etcd3 } from 'etcd3';
import { noop } from 'cockatiel';
import type { ElectionEvent } from '@elect/core';
import { scaled, startEtcd, waitUntil, type Cluster, type EtcdOptions } from '@elect/test';

export { type LogRecord, RecordingLogger, uniqueName } from '@elect/test';

/** A TTL short enough for fault tests, long enough for a loaded 2-core machine. */
export const TTL_MS = 3000;

/** An admin client on every member, with its own deadlines. */
export function admin(endpoints: readonly string[]): Etcd3 {
  return new Etcd3({
    hosts: [...endpoints],
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + scaled(3000) }),
    faultHandling: { host: () => noop },
  });
}

/**
 * The etcd a test file runs against, and an admin client on it: started
 * before the file's tests (handed over through `ready`), stopped after them.
 */
export function useEtcd(options: EtcdOptions, ready: (cluster: Cluster, admin: Etcd3) => void): void {
  let cluster: Cluster | undefined;
  let client: Etcd3 | undefined;
  beforeAll(async () => {
    cluster = await startEtcd(options);
    client = admin(cluster.endpoints);
    ready(cluster, client);
  });
  afterAll(async () => {
    client?.close();
    await cluster?.close();
  });
}

/** Keys under `name/` as etcd holds them. */
export async function residue(client: Etcd3, name: string): Promise<string[]> {
  return await client.getAll().prefix(`${name}/`).keys();
}

/** Every lease on the server, as lowercase hex. */
export async function leases(client: Etcd3): Promise<string[]> {
  const res = await client.leaseClient.leaseLeases();
  return res.leases.map((l) => BigInt(l.ID).toString(16));
}

/** Revokes a lease given in hex (what the conformance suite's `expire()` does). */
export async function revokeHex(client: Etcd3, hex: string): Promise<void> {
  await client.leaseClient.leaseRevoke({ ID: BigInt(`0x${hex}`).toString() });
}

/** `waitUntil` (the harness's) with the arguments these tests pass. */
export function eventually<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, what: string, ms = 10_000): Promise<T> {
  return waitUntil(probe, { what, timeoutMs: ms });
}

/** No key under `name/` and (unless told otherwise) no lease at all remain. */
export async function expectClean(client: Etcd3, name: string, options: { ignoreLeases?: (hex: string) => boolean } = {}): Promise<void> {
  await eventually(async () => (await residue(client, name)).length === 0, `no keys left under ${name}/`);
  const ignore = options.ignoreLeases ?? (() => false);
  await eventually(async () => (await leases(client)).filter((l) => !ignore(l)).length === 0, 'no leases of ours left');
}

/** Pulls events from an iterable into a queue that tests await one at a time. */
export class Queue<T> {
  private readonly items: T[] = [];
  private waiter: (() => void) | undefined;
  private failure: unknown;
  private ended = false;

  constructor(source: AsyncIterable<T>) {
    void (async () => {
      try {
        for await (const item of source) {
          this.items.push(item);
          this.waiter?.();
        }
      } catch (error) {
        this.failure = error;
      }
      this.ended = true;
      this.waiter?.();
    })();
  }

  /** The next item that matches (earlier ones are dropped), within `ms` (scaled). */
  async next(match: (item: T) => boolean = () => true, ms = 15_000): Promise<T> {
    const until = Date.now() + scaled(ms);
    for (;;) {
      while (this.items.length > 0) {
        const item = this.items.shift() as T;
        if (match(item)) return item;
      }
      if (this.failure !== undefined) throw this.failure;
      if (this.ended) throw new Error('the stream ended');
      const left = until - Date.now();
      if (left <= 0) throw new Error('timed out waiting for the next item');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          this.waiter = undefined;
          resolve();
        };
      });
    }
  }

  /** What arrived so far, without waiting. */
  drain(): T[] {
    return this.items.splice(0);
  }

  get done(): boolean {
    return this.ended;
  }

  get error(): unknown {
    return this.failure;
  }
}

export const eventOf =
  <K extends ElectionEvent['type']>(type: K) =>
  (e: ElectionEvent): e is Extract<ElectionEvent, { type: K }> =>
    e.type === type;

/** Resolves when `signal` aborts (at once if it already has). */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

export type { Cluster };
