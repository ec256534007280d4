/**
 * Small real clients for the harness's own tests: node-zookeeper-client and
 * etcd3 wrapped in promises with timeouts from the timing base, because
 * neither library puts a deadline on anything by itself.
 */
import type { EventEmitter } from 'node:events';
import { Etcd3, type IOptions } from 'etcd3';
import zookeeper from 'node-zookeeper-client';
import { scaled, waitUntil, withTimeout } from '../../src/timing.js';

export type ZkClient = zookeeper.Client;

/** Connects and resolves once the session is established. Default session timeout 10 s. */
export async function connectZk(
  connectString: string,
  options: { sessionTimeoutMs?: number; connectTimeoutMs?: number } = {},
): Promise<ZkClient> {
  const client = zookeeper.createClient(connectString, { sessionTimeout: options.sessionTimeoutMs ?? 10_000, spinDelay: 100 });
  const connected = nextEvent(client, 'connected', options.connectTimeoutMs ?? 15_000, `a ZooKeeper session on ${connectString}`);
  client.connect();
  try {
    await connected;
  } catch (error) {
    client.close();
    throw error;
  }
  return client;
}

/** Resolves the next time `emitter` emits `event`; rejects after `ms` (base, scaled). */
export async function nextEvent(emitter: EventEmitter, event: string, ms: number, what = `event ${event}`): Promise<void> {
  let listener: (() => void) | undefined;
  try {
    await withTimeout(
      new Promise<void>((resolve) => {
        listener = () => resolve();
        emitter.once(event, listener);
      }),
      ms,
      what,
    );
  } finally {
    if (listener) emitter.off(event, listener);
  }
}

function call<T>(start: (callback: (error: unknown, value: T) => void) => void, what: string, ms = 5000): Promise<T> {
  return withTimeout(
    new Promise<T>((resolve, reject) => start((error, value) => (error ? reject(error) : resolve(value)))),
    ms,
    what,
  );
}

export const zk = {
  create: (client: ZkClient, path: string, data: string, mode = zookeeper.CreateMode.PERSISTENT, ms?: number) =>
    call<string>((cb) => client.create(path, Buffer.from(data), mode, cb), `create ${path}`, ms),
  getData: async (client: ZkClient, path: string, ms?: number) =>
    (await call<Buffer>((cb) => client.getData(path, cb), `getData ${path}`, ms)).toString(),
  exists: async (client: ZkClient, path: string, ms?: number) =>
    (await call<zookeeper.Stat | null>((cb) => client.exists(path, cb), `exists ${path}`, ms)) !== null,
  /**
   * create, retried while the ensemble fails over (node-zookeeper-client fails
   * requests with CONNECTION_LOSS instead of retrying); NODE_EXISTS means an
   * earlier attempt landed before its answer was lost.
   */
  createDuringFailover: (client: ZkClient, path: string, data: string, ms = 30_000) =>
    waitUntil(
      async () => {
        try {
          return await zk.create(client, path, data, zookeeper.CreateMode.PERSISTENT, 2000);
        } catch (error) {
          if ((error as { code?: number }).code === zookeeper.Exception.NODE_EXISTS) return path;
          throw error;
        }
      },
      { timeoutMs: ms, what: `create ${path} to succeed`, attemptTimeoutMs: 5000 },
    ),
  /** getData with a watch; resolves with the data, `fired` resolves when the watch triggers. */
  watchData: (client: ZkClient, path: string) => {
    let fire!: () => void;
    const fired = new Promise<void>((resolve) => (fire = resolve));
    const data = call<Buffer>((cb) => client.getData(path, () => fire(), cb), `getData ${path}`);
    return { data, fired };
  },
};

// etcd3's default per-host circuit breaker fails every call for 5 s after a
// few errors; these tests want to see the network, not the breaker.
const passThrough = {
  execute: async <T>(fn: (context: { signal: AbortSignal }) => T | PromiseLike<T>): Promise<T> =>
    await fn({ signal: new AbortController().signal }),
};
type Policy = ReturnType<NonNullable<NonNullable<IOptions['faultHandling']>['host']>>;

/** An etcd3 client whose unary calls give up after `deadlineMs` (base, scaled; default 2 s). */
export function etcdClient(endpoints: string | readonly string[], options: { deadlineMs?: number } = {}): Etcd3 {
  const hosts = typeof endpoints === 'string' ? endpoints.split(',') : [...endpoints];
  return new Etcd3({
    hosts,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + scaled(options.deadlineMs ?? 2000) }),
    faultHandling: { host: () => passThrough as unknown as Policy, global: passThrough as unknown as Policy },
  });
}
