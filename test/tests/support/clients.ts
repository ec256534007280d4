/**
 * Small real clients for the harness's own tests: node-zookeeper-client and
 * etcd3 wrapped in promises with timeouts from the timing base, because
 * neither library puts a deadline on anything by itself.
 */
import type { EventEmitter } from 'node:events';
import { Etcd3, type IOptions } from 'etcd3';
import zookeeper from 'node-zookeeper-client';
import { TimeoutError, scaled, waitUntil, withTimeout, zooKeeperMode, zooKeeperTiming } from '../../src/index.js';

export type ZkClient = zookeeper.Client;

export interface ConnectZkOptions {
  /** Default 10 s. */
  sessionTimeoutMs?: number;
  /**
   * Budget for the session (base, scaled). Default: what the ensemble needs
   * to serve again after losing a member (`zooKeeperTiming().recoveryMs`),
   * plus one attempt at each server of `connectString`.
   */
  connectTimeoutMs?: number;
  /**
   * How long one server may hold a session request before the client moves
   * on to the next (base, scaled). Default `zooKeeperTiming().lossDetectionMs`:
   * a serving member answers after one commit, and one that lost its quorum
   * drops the connection within that; any longer and it is hung.
   */
  attemptTimeoutMs?: number;
}

/**
 * Connects and resolves once the session is established (see ConnectZkOptions
 * for the budgets). A timeout names what each server's `srvr` says right then.
 */
export async function connectZk(connectString: string, options: ConnectZkOptions = {}): Promise<ZkClient> {
  const timing = zooKeeperTiming();
  const attemptMs = options.attemptTimeoutMs ?? timing.lossDetectionMs;
  const servers = connectString.split(',').length;
  const budget = options.connectTimeoutMs ?? timing.recoveryMs + servers * attemptMs;
  const client = zookeeper.createClient(connectString, { sessionTimeout: options.sessionTimeoutMs ?? 10_000, spinDelay: 100 });
  const stopDropping = dropSilentServers(client, attemptMs);
  const connected = nextEvent(client, 'connected', budget, `a ZooKeeper session on ${connectString}`);
  client.connect();
  try {
    await connected;
  } catch (error) {
    client.close();
    if (!(error instanceof TimeoutError)) throw error;
    throw new TimeoutError(`${error.what} (srvr now: ${await modes(connectString)})`, error.ms, { cause: error });
  } finally {
    stopDropping();
  }
  return client;
}

/** `host:port follower, host:port no answer, …` for a connect string. */
async function modes(connectString: string): Promise<string> {
  const servers = connectString.split(',');
  const answers = await Promise.all(
    servers.map((server) =>
      zooKeeperMode(server, { timeoutMs: 1000 }).then(
        (mode) => mode ?? 'not serving',
        () => 'no answer',
      ),
    ),
  );
  return servers.map((server, i) => `${server} ${answers[i]}`).join(', ');
}

/** The library's connection manager, which its typings do not describe. */
interface ConnectionManager {
  socket?: { destroy(): void };
  connectTimeoutHandler?: NodeJS.Timeout | null;
}

/**
 * node-zookeeper-client puts a timeout on the TCP connect only: once a server
 * accepts, the client waits for the session for ever, though the next server
 * of its list may serve. A hung member (paused, starved) accepts through its
 * kernel, and any server behind a proxy or a namespace bridge "accepts" at
 * once, so one such member pins the client for the whole budget. The Java
 * client's connect timeout covers the handshake; this gives the library the
 * same: a server that has not answered within `attemptMs` (base, scaled) of
 * being dialled is dropped, and the library dials the next. Until the session
 * is established only: the returned function stops it.
 */
function dropSilentServers(client: ZkClient, attemptMs: number): () => void {
  const manager = (client as unknown as { connectionManager: ConnectionManager }).connectionManager;
  let socket = manager.socket;
  let timer: NodeJS.Timeout | undefined;
  const drop = (dialled: NonNullable<ConnectionManager['socket']>): void => {
    if (manager.socket !== dialled) return;
    // The library's own TCP timer would otherwise fire later on the next socket.
    if (manager.connectTimeoutHandler) clearTimeout(manager.connectTimeoutHandler);
    dialled.destroy(); // the library's close handler dials the next server
  };
  Object.defineProperty(manager, 'socket', {
    configurable: true,
    enumerable: true,
    get: () => socket,
    set: (next: ConnectionManager['socket']) => {
      socket = next;
      clearTimeout(timer);
      if (next !== undefined) timer = setTimeout(() => drop(next), scaled(attemptMs));
    },
  });
  return () => {
    clearTimeout(timer);
    Object.defineProperty(manager, 'socket', { configurable: true, enumerable: true, writable: true, value: socket });
  };
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
