/**
 * The members we talk to. All traffic of a connection — keepalives, watches,
 * reads and writes — goes to one pinned member at a time (like the Go
 * client's balancer), so a single liveness probe, the lease keepalive, tells
 * whether that member still serves us. When it fails (an error, or silence:
 * a hung member accepts connections and answers nothing) we pin the next
 * member and every stream on the old one restarts there.
 *
 * Each member gets its own client (wire/client.ts: one HTTP/2 connection),
 * and the retry policy is ours: no circuit breakers, no random host per call
 * — with a 2-3 s TTL either can cost leadership.
 */
import { isTransient, toElectError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import { MemberClient } from './wire/client.js';

/**
 * How often a connection with streams open pings (HTTP/2 PING). etcd, like
 * every grpc-go server, sends GOAWAY "too_many_pings" to a client that pings
 * more often than `--grpc-keepalive-min-time` (5 s by default) three times;
 * grpc-go's own clients never ping more often than every 10 s.
 */
export const pingEveryMs = 10_000;

export interface Pinned {
  readonly client: MemberClient;
  readonly host: string;
  readonly index: number;
  /** Aborted when this member is given up (streams on it must restart on the next one). */
  readonly signal: AbortSignal;
}

export class Endpoints {
  private readonly clients: (MemberClient | undefined)[];
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

  /** The member in use now. After `close()`, its calls fail at once (ClosedError). */
  pinned(): Pinned {
    const index = this.index;
    let client = this.clients[index];
    if (client === undefined) {
      client = this.client(this.options.hosts[index]!);
      if (this.closed) client.close();
      else this.clients[index] = client;
    }
    return { client, host: this.options.hosts[index]!, index, signal: this.controller.signal };
  }

  /**
   * `pinned` failed us: move to the next member, unless someone already did
   * (a stale report changes nothing). The connection to the member we leave
   * stays: a dead one fails its calls at their deadlines and its streams at
   * their pings. (Destroying it here, with calls still on it, sent
   * candidates into a busy loop in the 3-member chaos soak.) With a single
   * member there is nowhere to go: its streams recover on their own.
   */
  failed(pinned: Pinned, cause: unknown): void {
    if (this.closed || pinned.signal !== this.controller.signal || this.count === 1) return;
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
   * etcd refused the auth token a stream was opened with (a simple token
   * expired after `--auth-token-ttl` unused, or users or roles changed): the
   * next stream authenticates again. (Unary calls do that by themselves.)
   */
  authExpired(pinned: Pinned): void {
    pinned.client.invalidateToken();
  }

  /**
   * One unary call, on the pinned member, then on each other member in turn
   * while the failure is transient. Each attempt carries the operation
   * deadline (MemberClient's `operationTimeoutMs`). Rejects with an ElectError.
   */
  async unary<T>(what: string, call: (client: MemberClient) => Promise<T>): Promise<T> {
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

  private client(host: string): MemberClient {
    const { operationTimeoutMs, tls, auth, secure, clock } = this.options;
    return new MemberClient(host, {
      operationTimeoutMs,
      clock,
      pingEveryMs,
      pingTimeoutMs: operationTimeoutMs,
      ...(auth && { auth }),
      ...(secure && { tls: { ...(tls?.ca && { ca: tls.ca }), ...(tls?.cert && { cert: tls.cert }), ...(tls?.key && { key: tls.key }) } }),
    });
  }
}
