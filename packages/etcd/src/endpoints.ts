/**
 * The members we talk to. All traffic of a connection — keepalives, watches,
 * reads and writes — goes to one pinned member at a time (like the Go
 * client's balancer), so a single liveness probe, the lease keepalive, tells
 * whether that member still serves us. When it fails (an error, or silence:
 * a hung member accepts connections and answers nothing) we pin the next
 * member and every stream on the old one restarts there.
 *
 * etcd3 picks a random host per call and puts a 5 s circuit breaker on each;
 * with a 2-3 s TTL that alone can cost leadership. So each member gets its own
 * single-host etcd3 client with fault handling switched off, and the retry
 * policy is ours.
 */
import { noop } from 'cockatiel';
import { Etcd3, type IOptions } from 'etcd3';
import { isTransient, toElectError } from './errors.js';
import type { ResolvedOptions } from './options.js';

export interface Pinned {
  readonly client: Etcd3;
  readonly host: string;
  readonly index: number;
  /** Aborted when this member is given up (streams on it must restart on the next one). */
  readonly signal: AbortSignal;
}

export class Endpoints {
  private readonly clients: (Etcd3 | undefined)[];
  private index = 0;
  private controller = new AbortController();
  private closed = false;
  private lastWarned = 0;

  constructor(private readonly options: ResolvedOptions) {
    this.clients = options.hosts.map(() => undefined);
  }

  get operationTimeoutMs(): number {
    return this.options.operationTimeoutMs;
  }

  get count(): number {
    return this.options.hosts.length;
  }

  /** The member in use now. */
  pinned(): Pinned {
    const index = this.index;
    let client = this.clients[index];
    if (client === undefined) {
      client = new Etcd3(this.clientOptions(this.options.hosts[index]!));
      this.clients[index] = client;
    }
    return { client, host: this.options.hosts[index]!, index, signal: this.controller.signal };
  }

  /**
   * `pinned` failed us: move to the next member, unless someone already did.
   * With a single member there is nowhere to go; its streams recover on
   * their own when it answers again.
   */
  failed(pinned: Pinned, cause: unknown): void {
    if (this.closed || pinned.index !== this.index || this.count === 1) return;
    this.index = (this.index + 1) % this.count;
    const previous = this.controller;
    this.controller = new AbortController();
    // While every member is down we go round in circles: say so once in a while, not every lap.
    const now = Date.now();
    const level = now - this.lastWarned > 5000 ? 'warn' : 'debug';
    if (level === 'warn') this.lastWarned = now;
    this.options.logger[level](
      { event: 'endpoint-failover', from: pinned.host, to: this.options.hosts[this.index], err: String(cause) },
      'etcd member unresponsive; switching members',
    );
    previous.abort(cause);
  }

  /**
   * etcd refused the auth token a stream was opened with (simple tokens
   * expire after `--auth-token-ttl` unused). etcd3 fetches a new token only
   * for unary calls; for streams we drop the cached one so the next stream
   * authenticates again. (The token cache is internal to etcd3: reached by
   * name, and harmless if it is not there.)
   */
  authExpired(pinned: Pinned): void {
    const pool = (pinned.client as unknown as { pool?: { authenticator?: { invalidateMetadata?: () => void } } }).pool;
    pool?.authenticator?.invalidateMetadata?.();
  }

  /**
   * One unary call, on the pinned member, then on each other member in turn
   * while the failure is transient. Each attempt carries the operation
   * deadline (set through `defaultCallOptions`). Rejects with an ElectError.
   */
  async unary<T>(what: string, call: (client: Etcd3) => Promise<T>): Promise<T> {
    let lastError: unknown;
    for (let attempt = 0; attempt < this.count; attempt++) {
      if (this.closed) break;
      const pinned = this.pinned();
      try {
        return await call(pinned.client);
      } catch (error) {
        lastError = error;
        if (!isTransient(error)) break;
        this.failed(pinned, error);
      }
    }
    throw toElectError(lastError ?? new Error('connection closed'), what);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.controller.abort(new Error('connection closed'));
    for (const client of this.clients) client?.close();
  }

  private clientOptions(host: string): IOptions {
    const { operationTimeoutMs, tls, auth, secure } = this.options;
    return {
      hosts: `${secure ? 'https' : 'http'}://${host}`,
      ...(tls && { credentials: { rootCertificate: tls.ca as Buffer, privateKey: tls.key, certChain: tls.cert } }),
      ...(auth && { auth: { username: auth.username, password: auth.password } }),
      // Every unary call gets a deadline; streams (keepalive, watch) are
      // supervised by their own timers instead.
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + operationTimeoutMs }),
      faultHandling: { host: () => noop, global: noop },
      grpcOptions: {
        // A connection's own sockets, like a separate process would have: a
        // fault on one connection must not leak into another in this process.
        'grpc.use_local_subchannel_pool': 1,
        // gRPC's default reconnect backoff grows to 2 minutes; a member that
        // comes back must be usable again well within one TTL.
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.min_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
      },
    };
  }
}
