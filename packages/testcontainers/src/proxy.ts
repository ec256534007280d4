/**
 * A TCP proxy in the test process, to fail the network between one client and
 * a server without touching anyone else:
 *   - `cut()`: every open connection is reset and new ones are reset on
 *     accept, as when a server's host vanishes (clients see an error at once);
 *   - `blackhole()`: connections stay open (and new ones are accepted) but no
 *     byte moves in either direction, as on a hung network (clients see
 *     nothing: only their own timers can tell);
 *   - `holdReplies()`: what clients send still reaches the server, but what
 *     the server says waits (requests are applied, their answers are late or,
 *     past the client's deadline, lost);
 *   - `heal()`: forwarding resumes: new connections are forwarded, and
 *     blackholed ones continue where they stopped (nothing is lost, as when a
 *     real network recovers before TCP gives up).
 *
 * With `replyDelayMs`, the link is slow rather than broken: every byte the
 * server sends, and its end of the stream, reaches the client that much
 * later, in order, and every round trip takes that much longer. (Bytes already
 * on their way when the link is blackholed or held still arrive.)
 */
import net from 'node:net';
import type { Cluster, Member } from './types.js';

/** A server's address, a Unix socket, or a cluster member (its client port). */
export type ProxyTarget = { host: string; port: number } | { path: string } | Pick<Member, 'host' | 'clientPort'>;
export type ProxyMode = 'forward' | 'cut' | 'blackhole' | 'hold-replies';

export interface Proxy {
  /** Where clients connect instead of the target. */
  readonly host: string;
  readonly port: number;
  /** `host:port`. */
  readonly address: string;
  readonly mode: ProxyMode;
  /** Connections open through the proxy right now. */
  readonly connections: number;
  cut(): void;
  blackhole(): void;
  holdReplies(): void;
  heal(): void;
  /** Stops listening and resets every connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * Resets a TCP socket (the peer sees ECONNRESET). A Unix socket has no reset,
 * and one we have already `end()`ed must not be reset either: libuv refuses a
 * reset while a shutdown is pending, and Node 20 then never closes the handle
 * (the process spins at exit). Those are just destroyed.
 */
function abort(socket: net.Socket): void {
  if (socket.remoteFamily === undefined || socket.writableEnded) socket.destroy();
  else socket.resetAndDestroy();
}

/** One client connection and its upstream twin. */
class Link {
  upstream: net.Socket | undefined;
  #stalled = false;

  constructor(
    readonly client: net.Socket,
    private readonly target: { host: string; port: number } | { path: string },
    private readonly onClose: (link: Link) => void,
    private readonly replyDelayMs = 0,
  ) {
    client.on('error', () => this.reset());
    client.on('close', () => this.#closed(client));
  }

  /** Connects upstream (once) and lets bytes flow both ways. */
  flow(): void {
    this.#stalled = false;
    if (this.client.destroyed) {
      this.upstream?.end(); // the client left during the outage: the server learns it now
      this.onClose(this);
      return;
    }
    if (this.upstream === undefined) {
      const upstream = net.connect({ ...this.target, allowHalfOpen: true });
      this.upstream = upstream;
      upstream.on('error', () => this.reset());
      upstream.on('close', () => this.#closed(upstream));
      if (this.replyDelayMs > 0) {
        // What pipe() would do, each step replyDelayMs later: the bytes, then
        // the server's end. Timers of one duration fire in the order they were
        // set, so nothing overtakes what the server sent before it.
        upstream.on('data', (chunk: Buffer) => this.#toClientLater(() => this.client.write(chunk)));
        upstream.on('end', () => this.#toClientLater(() => this.client.end()));
      }
    } else if (this.upstream.destroyed) {
      this.reset(); // the server went away during the outage: the client learns it now
      return;
    }
    // Idempotent: a direction still flowing (hold-replies) is not piped twice.
    this.client.unpipe(this.upstream);
    this.upstream.unpipe(this.client);
    this.client.pipe(this.upstream);
    if (this.replyDelayMs > 0) this.upstream.resume();
    else this.upstream.pipe(this.client);
  }

  /** Stops both directions; unread bytes wait in the socket buffers. */
  stall(): void {
    this.#stalled = true;
    this.client.unpipe();
    this.client.pause();
    this.upstream?.unpipe();
    this.upstream?.pause();
  }

  /** Holds the server's bytes back; the client's still flow. */
  holdReplies(): void {
    this.upstream?.unpipe();
    this.upstream?.pause();
  }

  /** Both sides see a reset (ECONNRESET), as when a host vanishes. */
  reset(): void {
    for (const socket of [this.client, this.upstream]) {
      if (socket !== undefined && !socket.destroyed) abort(socket);
    }
    this.onClose(this);
  }

  // A graceful close travels to the other side, but not across a hung network:
  // while stalled, flow() delivers it on heal.
  #closed(side: net.Socket): void {
    const other = side === this.client ? this.upstream : this.client;
    if (other === undefined || other.destroyed) this.onClose(this);
    else if (this.#stalled) return;
    else if (other === this.client && this.replyDelayMs > 0) this.#toClientLater(() => other.end());
    else other.end();
  }

  /** On a slow link: `step` towards the client, replyDelayMs from now, unless the client is gone or ended. */
  #toClientLater(step: () => void): void {
    setTimeout(() => {
      if (!this.client.destroyed && !this.client.writableEnded) step();
    }, this.replyDelayMs);
  }
}

export interface ProxyOptions {
  /** Where to listen; default 127.0.0.1 (the port is the OS's choice). */
  listenHost?: string;
  /** Every byte from the server reaches the client this much later (default 0). */
  replyDelayMs?: number;
}

/** Starts a proxy on `listenHost` (default 127.0.0.1), on a port the OS picks, forwarding to `target`. */
export async function startProxy(to: ProxyTarget, options: ProxyOptions = {}): Promise<Proxy> {
  const target = 'clientPort' in to ? { host: to.host, port: to.clientPort } : to;
  const links = new Set<Link>();
  let mode: ProxyMode = 'forward';
  let closed: Promise<void> | undefined;
  // Half-open connections stay open so that a client's FIN after its request
  // (as four-letter words do) does not cut off the answer.
  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) => {
    if (mode === 'cut') {
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    const link = new Link(client, target, (done) => links.delete(done), options.replyDelayMs);
    links.add(link);
    if (mode === 'forward' || mode === 'hold-replies') link.flow();
    if (mode === 'hold-replies') link.holdReplies();
  });
  const host = options.listenHost ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    host,
    port,
    address: `${host}:${port}`,
    get mode() {
      return mode;
    },
    get connections() {
      return links.size;
    },
    cut() {
      mode = 'cut';
      for (const link of links) link.reset();
    },
    blackhole() {
      mode = 'blackhole';
      for (const link of links) link.stall();
    },
    holdReplies() {
      mode = 'hold-replies';
      for (const link of links) link.holdReplies();
    },
    heal() {
      mode = 'forward';
      for (const link of links) link.flow();
    },
    async close() {
      closed ??= new Promise<void>((resolve) => {
        mode = 'cut';
        server.close(() => resolve());
        for (const link of links) link.reset();
      });
      await closed;
    },
  };
}

/** One proxy per member of a cluster, and the connect string that goes through them. */
export interface ClusterProxies {
  readonly proxies: readonly Proxy[];
  /** ZooKeeper `h:p,…` or etcd `http://h:p,…`, through the proxies. */
  readonly connectString: string;
  /** Per member, in member order, through the proxies (etcd: `http://h:p`). */
  readonly endpoints: readonly string[];
  proxyFor(member: Member): Proxy;
  cut(): void;
  blackhole(): void;
  heal(): void;
  close(): Promise<void>;
}

/** Puts a proxy in front of every member of `cluster`, in member order. */
export async function proxyCluster(cluster: Cluster): Promise<ClusterProxies> {
  const proxies: Proxy[] = [];
  try {
    for (const member of cluster.members) proxies.push(await startProxy({ host: member.host, port: member.clientPort }));
  } catch (error) {
    await Promise.all(proxies.map((proxy) => proxy.close()));
    throw error;
  }
  const endpoints = proxies.map((proxy) => (cluster.kind === 'etcd' ? `http://${proxy.address}` : proxy.address));
  return {
    proxies,
    connectString: endpoints.join(','),
    endpoints,
    proxyFor(member) {
      const index = cluster.members.indexOf(member);
      if (index < 0) throw new Error(`${member.name} is not a member of this cluster`);
      return proxies[index]!;
    },
    cut: () => proxies.forEach((proxy) => proxy.cut()),
    blackhole: () => proxies.forEach((proxy) => proxy.blackhole()),
    heal: () => proxies.forEach((proxy) => proxy.heal()),
    close: async () => {
      await Promise.all(proxies.map((proxy) => proxy.close()));
    },
  };
}
