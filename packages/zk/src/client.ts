/**
 * A promise-shaped wrapper around one node-zookeeper-client `Client`, i.e. one
 * ZooKeeper session. It adds what the library lacks (FIELD-NOTES): a connect
 * timeout, a deadline on every operation, a way to force a reconnect when the
 * server stops answering (`kick`), and a `destroy` that really stops the
 * client — the library's `close()` can hang on a dead server and its
 * reconnect loop otherwise never ends.
 *
 * Everything that touches the library's private state lives in this file.
 */
import zookeeper from 'node-zookeeper-client';
import type { ACL, Client, Event, Stat } from 'node-zookeeper-client';
import { ConnectionError, PermissionDeniedError, SessionExpiredError, TimeoutError, type Clock } from '@elect/core';
import { toElectError, zkCode, ZkCode } from './errors.js';

export type { ACL, Event, Stat };

export interface ClientOptions {
  connectString: string;
  sessionTimeoutMs: number;
  connectTimeoutMs: number;
  operationTimeoutMs: number;
  /** `user:password` for the digest scheme. */
  auth: string | undefined;
  clock: Clock;
  /** Re-attach to an existing session instead of creating one. */
  session?: { id: Buffer; password: Buffer } | undefined;
  /**
   * Whether the first request checks READ on `/`, which a session's heartbeat
   * needs (default true). A client that will not heartbeat — one re-attached
   * only to close a stale session, one that creates the chroot — asks only
   * whether `/` exists, which needs no permission.
   */
  readsRoot?: boolean;
}

/** One op of a `multi`; a version of -1 matches any. */
export type MultiOp =
  | { kind: 'check'; path: string; version: number }
  | { kind: 'create'; path: string; data: Buffer; acl: ACL[]; mode: number }
  | { kind: 'delete'; path: string; version: number }
  | { kind: 'set'; path: string; data: Buffer; version: number };

export type ClientState = 'connected' | 'disconnected' | 'expired' | 'auth-failed';

/** The library's connection manager, which its typings do not describe. */
interface Internals {
  socket?: Socket | undefined;
  connectTimeoutHandler?: ReturnType<typeof setTimeout> | null;
  connect(): void;
  state: number;
  packetQueue: { push(packet: Packet): void };
}

/** A request as the library queues it. */
interface Packet {
  request: { header?: { type: number } | null };
  callback: (error: unknown) => void;
}

/** jute's OP_CODES.CLOSE_SESSION. */
const closeSessionOp = -11;

const closedState = -2;

interface Socket {
  destroy(): void;
}

export class ZkClient {
  private readonly raw: Client;
  private readonly options: ClientOptions;
  private destroyed = false;

  private constructor(raw: Client, options: ClientOptions) {
    this.raw = raw;
    this.options = options;
  }

  /**
   * Opens a session (or re-attaches to `options.session`). Resolves after the
   * server answered a first request — which also proves the auth packet was
   * accepted. Rejects with `ConnectionError` when no server answers within
   * `connectTimeoutMs`, with `SessionExpiredError` when re-attaching to a
   * session the server no longer knows.
   */
  static connect(options: ClientOptions): Promise<ZkClient> {
    const raw = zookeeper.createClient(options.connectString, {
      sessionTimeout: options.sessionTimeoutMs,
      // The library waits up to spinDelay after trying every server once; keep
      // that short next to the session timeout so a fail-over fits in it.
      spinDelay: Math.min(1000, Math.max(50, Math.round(options.sessionTimeoutMs / 10))),
      retries: 0,
      ...(options.session ? { sessionId: options.session.id, sessionPassword: options.session.password } : {}),
    } as Parameters<typeof zookeeper.createClient>[1]);
    const client = new ZkClient(raw, options);
    if (options.auth !== undefined) raw.addAuthInfo('digest', Buffer.from(options.auth));
    const stopDropping = client.dropSilentServers(attemptTimeoutMs(options));
    return new Promise<ZkClient>((resolve, reject) => {
      let settled = false;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        cancel();
        stopDropping();
        client.destroy();
        reject(error);
      };
      const cancel = options.clock.schedule(
        () => fail(new ConnectionError(`no ZooKeeper server of ${options.connectString} answered within ${options.connectTimeoutMs} ms`)),
        options.connectTimeoutMs,
      );
      raw.once('expired', () => fail(new SessionExpiredError('the server no longer knows this session')));
      raw.once('authenticationFailed', () => fail(new ConnectionError('ZooKeeper rejected the credentials', { retryable: false })));
      const answered = (): void => {
        if (settled) return;
        settled = true;
        cancel();
        stopDropping();
        resolve(client);
      };
      // One answered request proves the session (and the credentials sent
      // before it). A connection dropped meanwhile is retried on the next
      // 'connected' until the connect timer decides. It reads `/` (of the
      // chroot), which the heartbeat needs: a `check` of it, refused as a read
      // is without READ there. Refused, a session could never keep its
      // deadline ahead, and would be lost at every one: say so now, and close
      // it. No `/` is a chroot still to be made (ensureChroot).
      const first = (): Promise<unknown> => (options.readsRoot === false ? client.exists('/') : client.getData('/'));
      const probe = (): void => {
        first().then(answered, (error: unknown) => {
          const code = zkCode(error);
          if (code === ZkCode.NoNode) answered();
          else if (code === ZkCode.NoAuth) {
            if (settled) return;
            settled = true;
            cancel();
            stopDropping();
            const refused = new PermissionDeniedError(
              `ZooKeeper refused to let these credentials read / of ${options.connectString}: the heartbeat needs READ there (the chroot's ACL)`,
              { cause: error },
            );
            void client.close().finally(() => reject(refused));
          } else if (code === ZkCode.ConnectionLoss) raw.once('connected', probe);
          else if (error instanceof ConnectionError || error instanceof SessionExpiredError) fail(error);
          else fail(new ConnectionError('ZooKeeper did not answer a first request', { cause: error }));
        });
      };
      raw.once('connected', probe);
      raw.connect();
    });
  }

  /**
   * The library times out only the TCP connect: once a server accepts, it
   * waits for the session reply for ever, though the next server of the list
   * may serve. A hung member (SIGSTOPped, starved, or cut off behind a proxy
   * or bridge that accepts for it) then holds the whole connect. Until the
   * session is established, a server that has not answered within
   * `attemptMs` of being dialled is dropped, so the library dials the next
   * one — what the Java client's connect timeout does. Returns the function
   * that stops it.
   */
  private dropSilentServers(attemptMs: number): () => void {
    const internals = this.internals();
    let socket = internals.socket;
    let cancel = (): void => {};
    const drop = (dialled: Socket): void => {
      if (this.destroyed || internals.socket !== dialled) return;
      // The library's own TCP timer would otherwise fire later, on the next socket.
      if (internals.connectTimeoutHandler) clearTimeout(internals.connectTimeoutHandler);
      dialled.destroy(); // the library's close handler dials the next server
    };
    Object.defineProperty(internals, 'socket', {
      configurable: true,
      enumerable: true,
      get: () => socket,
      set: (next: Socket | undefined) => {
        socket = next;
        cancel();
        if (next !== undefined) cancel = this.options.clock.schedule(() => drop(next), attemptMs);
      },
    });
    return () => {
      cancel();
      if (this.destroyed) return; // destroy() has its own accessor in place
      Object.defineProperty(internals, 'socket', { configurable: true, enumerable: true, writable: true, value: socket });
    };
  }

  /** The session id as 8 bytes (compare with a znode's `ephemeralOwner`). */
  get sessionIdBytes(): Buffer {
    return this.raw.getSessionId();
  }

  /** The session id in hex, as ZooKeeper's own tools print it. */
  get sessionId(): string {
    return `0x${this.raw.getSessionId().toString('hex')}`;
  }

  get sessionPassword(): Buffer {
    return this.raw.getSessionPassword();
  }

  /** The session timeout the server granted, which may differ from the one asked for. */
  get negotiatedTimeoutMs(): number {
    return this.raw.getSessionTimeout();
  }

  get isConnected(): boolean {
    return this.raw.getState() === zookeeper.State.SYNC_CONNECTED;
  }

  /** Connection state changes as the library reports them. Returns an unsubscribe function. */
  onState(listener: (state: ClientState) => void): () => void {
    const map = new Map<string, ClientState>([
      ['connected', 'connected'],
      ['disconnected', 'disconnected'],
      ['expired', 'expired'],
      ['authenticationFailed', 'auth-failed'],
    ]);
    const handlers = [...map].map(([event, state]) => [event, () => listener(state)] as const);
    for (const [event, handler] of handlers) this.raw.on(event, handler);
    return () => {
      for (const [event, handler] of handlers) this.raw.removeListener(event, handler);
    };
  }

  /** Without a deadline: the caller races it (see protected create) and may keep waiting for its fate. */
  createUntimed(path: string, data: Buffer, acl: ACL[], mode: number): Promise<string> {
    return this.call<string>((done) => this.raw.create(path, data, acl, mode, done));
  }

  create(path: string, data: Buffer, acl: ACL[], mode: number): Promise<string> {
    return this.timed(`create ${path}`, this.createUntimed(path, data, acl, mode));
  }

  getChildren(path: string, watcher?: (event: Event) => void): Promise<string[]> {
    const op = this.call<string[]>((done) =>
      watcher ? this.raw.getChildren(path, watcher, done) : this.raw.getChildren(path, done),
    );
    return this.timed(`getChildren ${path}`, op);
  }

  getData(path: string, watcher?: (event: Event) => void): Promise<{ data: Buffer; stat: Stat }> {
    const op = new Promise<{ data: Buffer; stat: Stat }>((resolve, reject) => {
      const done = (error: unknown, data: Buffer | null, stat: Stat): void => {
        if (error) reject(toElectError(error));
        else resolve({ data: data ?? Buffer.alloc(0), stat });
      };
      if (watcher) this.raw.getData(path, watcher, done);
      else this.raw.getData(path, done);
    });
    return this.timed(`getData ${path}`, op);
  }

  /** The node's stat, or null when it does not exist. */
  exists(path: string, watcher?: (event: Event) => void): Promise<Stat | null> {
    const op = this.call<Stat | null>((done) => (watcher ? this.raw.exists(path, watcher, done) : this.raw.exists(path, done)));
    return this.timed(`exists ${path}`, op);
  }

  /**
   * The heartbeat, without a deadline (the session judges staleness itself):
   * a `check` of `/` at any version in a multi — a no-op, but a write, so the
   * server we are connected to can only answer it after the quorum leader
   * committed it, and the leader refuses it once our session has expired.
   * Needs READ on `/` (of the chroot).
   */
  heartbeat(): Promise<unknown> {
    return this.call<unknown>((done) => this.raw.transaction().check('/', -1).commit(done));
  }

  /**
   * One transaction (ZooKeeper's multi): every op or none. Rejects with the
   * first failing op's error, whose `op` (on the error) is its index.
   * The library's `Transaction` turns a version of 0 into -1 ("any"), so
   * the versions are written into its op list after it recorded them.
   */
  multi(ops: readonly MultiOp[]): Promise<void> {
    const tx = this.raw.transaction();
    const recorded = (tx as unknown as { ops: Array<{ version?: number }> }).ops;
    for (const op of ops) {
      if (op.kind === 'check') tx.check(op.path, op.version);
      else if (op.kind === 'create') tx.create(op.path, op.data, op.acl, op.mode);
      else if (op.kind === 'delete') tx.remove(op.path, op.version);
      else tx.setData(op.path, op.data, op.version);
      if (op.kind !== 'create') (recorded[recorded.length - 1] as { version: number }).version = op.version;
    }
    const op = new Promise<void>((resolve, reject) => {
      if (this.destroyed) {
        reject(toElectError({ code: ZkCode.ConnectionLoss, name: 'CONNECTION_LOSS', message: 'client closed' }));
        return;
      }
      tx.commit((error: unknown, results: Array<{ err?: number }> | undefined) => {
        if (!error) return resolve();
        const failed = results?.findIndex((result) => result.err !== undefined && result.err !== 0) ?? -1;
        reject(Object.assign(toElectError(error), { op: failed }));
      });
    });
    return this.timed(`multi ${ops.map((o) => `${o.kind} ${o.path}`).join(', ')}`, op);
  }

  setData(path: string, data: Buffer, version: number): Promise<Stat> {
    return this.timed(`setData ${path}`, this.call<Stat>((done) => this.raw.setData(path, data, version, done)));
  }

  remove(path: string, version = -1): Promise<void> {
    return this.timed(`delete ${path}`, this.call<void>((done) => this.raw.remove(path, version, done)));
  }

  /**
   * Drops the TCP connection so that the library reconnects (to the next
   * server of the ensemble) with the same session. Used when the server
   * stops answering: the library itself would wait forever.
   */
  kick(): void {
    if (!this.destroyed) this.internals().socket?.destroy();
  }

  /**
   * Ends the session on the server (its ephemeral nodes go with it), then
   * destroys the client. Resolves true once the server confirmed the close,
   * false when no confirmation came within `operationTimeoutMs` (the close may
   * or may not have landed; a session we cannot close expires by itself).
   */
  async close(): Promise<boolean> {
    if (this.destroyed) return false;
    // The library's close() sends CLOSE_SESSION without a callback and only
    // reports the socket closing, which a lost connection does as well: hook
    // the request as it is queued to hear the server's own answer.
    const queue = this.internals().packetQueue;
    const push = queue.push;
    const confirmed = new Promise<boolean>((resolve) => {
      queue.push = function (this: unknown, packet: Packet) {
        if (packet.request.header?.type === closeSessionOp) {
          const done = packet.callback;
          packet.callback = (error: unknown) => {
            done(error);
            resolve(!error);
          };
        }
        push.call(this, packet);
      };
      try {
        this.raw.close();
      } finally {
        queue.push = push;
      }
    });
    let cancel = (): void => {};
    const timeout = new Promise<boolean>((resolve) => {
      cancel = this.options.clock.schedule(() => resolve(false), this.options.operationTimeoutMs);
    });
    const closed = await Promise.race([confirmed, timeout]);
    cancel();
    this.destroy();
    return closed;
  }

  /** Stops the client at once, without telling the server: no reconnect, no further traffic. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const internals = this.internals();
    // The library reconnects from its socket-close handler; make that a no-op
    // first. A reconnect already scheduled (it waits up to spinDelay) would
    // still open a socket and re-attach the session: any socket it opens
    // from now on is destroyed on assignment.
    internals.connect = () => {};
    internals.state = closedState;
    if (internals.connectTimeoutHandler) clearTimeout(internals.connectTimeoutHandler);
    let socket = internals.socket;
    socket?.destroy();
    Object.defineProperty(internals, 'socket', {
      configurable: true,
      get: () => socket,
      set: (next: Socket) => {
        socket = next;
        next.destroy();
      },
    });
    // …and its connect timer (it would keep the process alive for nothing).
    Object.defineProperty(internals, 'connectTimeoutHandler', {
      get: () => null,
      set: (timer: ReturnType<typeof setTimeout> | null) => {
        if (timer) clearTimeout(timer);
      },
    });
    this.raw.removeAllListeners();
  }

  private internals(): Internals {
    return (this.raw as unknown as { connectionManager: Internals }).connectionManager;
  }

  private call<T>(start: (done: (error: unknown, result: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.destroyed) {
        reject(toElectError({ code: ZkCode.ConnectionLoss, name: 'CONNECTION_LOSS', message: 'client closed' }));
        return;
      }
      start((error, result) => (error ? reject(toElectError(error)) : resolve(result)));
    });
  }

  /** Rejects with a retryable `TimeoutError` after `operationTimeoutMs`; the request itself may still complete. */
  timed<T>(what: string, op: Promise<T>, ms = this.options.operationTimeoutMs): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const cancel = this.options.clock.schedule(() => reject(new TimeoutError(`ZooKeeper ${what} did not complete within ${ms} ms`)), ms);
      op.then(
        (value) => {
          cancel();
          resolve(value);
        },
        (error: unknown) => {
          cancel();
          reject(error as Error);
        },
      );
    });
  }
}

/**
 * How long one server may take to answer a session request: the session
 * timeout shared among the servers of the connect string (as the Java
 * client's connect timeout), but at least a second and at most the whole
 * connect budget.
 */
function attemptTimeoutMs(options: ClientOptions): number {
  const servers = options.connectString.split('/')[0]!.split(',').length;
  return Math.min(options.connectTimeoutMs, Math.max(1000, Math.round(options.sessionTimeoutMs / servers)));
}
