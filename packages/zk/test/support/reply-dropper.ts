/**
 * A TCP proxy for the protected-create test: it forwards normally until
 * armed; once armed, the first ZooKeeper `create` request it sees from the
 * client goes through to the server, and from then on nothing the server
 * says reaches the client — the create happens, its reply is lost. `reset()`
 * then drops both sockets so the client reconnects (same session) through
 * the proxy, which forwards normally again.
 *
 * It can also hold (`hold()`): once a request of a given type on a given
 * path goes through, what the server says — the answer to that request
 * first — is kept back until `release()`,
 * which hands all of it to the client in one write — as a busy event loop
 * would read a reply and the notification behind it in one go.
 *
 * Client-to-server framing: a 4-byte length, then (after the first frame,
 * the ConnectRequest) a request header of xid (int32) and type (int32), then
 * for path requests the path (int32 length, bytes). Server-to-client frames
 * start with the xid; a watch notification has xid -1.
 */
import net from 'node:net';

const createOp = 1;
const multiOp = 14;
const notificationXid = -1;

/** A hold on the server's answers (see `ReplyDropper.hold`). */
export interface Hold {
  /**
   * Resolves once the server has answered the matching request (the answer is
   * held): the server has done what the request asked — a watch it sets is in
   * place — before the test goes on. Resolving when the request was merely
   * written would race it: a write from another client could reach the
   * server first.
   */
  readonly holding: Promise<void>;
  /** Resolves once a watch notification is among the held answers. */
  readonly notified: Promise<void>;
  /** Hands everything held to the client in one write, and forwards normally again. */
  release(): void;
}

interface HoldState {
  type: number;
  pathPrefix: string;
  active: boolean;
  /** The matching request's xid, once it went through. */
  xid?: number;
  held: Buffer[];
  scan: Buffer;
  onHolding: () => void;
  onNotified: () => void;
  client?: net.Socket;
}

export class ReplyDropper {
  armed = false;
  /** True once a create went through while armed. */
  swallowed = false;
  private readonly server: net.Server;
  private readonly links = new Set<{ client: net.Socket; upstream: net.Socket }>();
  private pendingHold: HoldState | undefined;

  /** Holds the server's answers once a request of `type` on a path starting with `pathPrefix` goes through. */
  hold(type: number, pathPrefix: string): Hold {
    let onHolding!: () => void;
    let onNotified!: () => void;
    const holding = new Promise<void>((resolve) => (onHolding = resolve));
    const notified = new Promise<void>((resolve) => (onNotified = resolve));
    const state: HoldState = { type, pathPrefix, active: false, held: [], scan: Buffer.alloc(0), onHolding, onNotified };
    this.pendingHold = state;
    return {
      holding,
      notified,
      release: () => {
        state.active = false;
        if (this.pendingHold === state) this.pendingHold = undefined;
        const all = Buffer.concat(state.held.splice(0));
        if (all.length > 0) state.client?.write(all);
      },
    };
  }

  private constructor(server: net.Server) {
    this.server = server;
  }

  static async start(target: { host: string; port: number }): Promise<ReplyDropper> {
    const server = net.createServer();
    const dropper = new ReplyDropper(server);
    server.on('connection', (client) => dropper.accept(client, target));
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    return dropper;
  }

  get address(): string {
    const { port } = this.server.address() as net.AddressInfo;
    return `127.0.0.1:${port}`;
  }

  private accept(client: net.Socket, target: { host: string; port: number }): void {
    const upstream = net.connect(target);
    const link: { client: net.Socket; upstream: net.Socket; hold?: HoldState } = { client, upstream };
    this.links.add(link);
    let pending = Buffer.alloc(0);
    let first = true;
    let dropping = false;
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      // Forward whole frames, looking at each request's type.
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const size = pending.readInt32BE(0);
        const frame = pending.subarray(0, 4 + size);
        pending = pending.subarray(4 + size);
        const type = !first && size >= 8 ? frame.readInt32BE(8) : undefined;
        first = false;
        const hold = this.pendingHold;
        if (hold && !hold.active && type === hold.type && size >= 12 && requestPath(frame).startsWith(hold.pathPrefix)) {
          this.pendingHold = undefined;
          hold.active = true;
          hold.xid = frame.readInt32BE(4);
          hold.client = client;
          link.hold = hold;
        }
        upstream.write(frame);
        if (this.armed && type === createOp) {
          this.armed = false;
          this.swallowed = true;
          dropping = true;
        }
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      const hold = link.hold;
      if (hold?.active) {
        hold.held.push(chunk);
        hold.scan = Buffer.concat([hold.scan, chunk]);
        while (hold.scan.length >= 8 && hold.scan.length >= 4 + hold.scan.readInt32BE(0)) {
          const xid = hold.scan.readInt32BE(4);
          if (xid === hold.xid) hold.onHolding();
          if (xid === notificationXid) hold.onNotified();
          hold.scan = hold.scan.subarray(4 + hold.scan.readInt32BE(0));
        }
        return;
      }
      if (!dropping) client.write(chunk);
    });
    const close = (): void => {
      this.links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  }

  /** Drops every connection: the client sees a connection loss and reconnects. */
  reset(): void {
    for (const { client, upstream } of [...this.links]) {
      client.resetAndDestroy();
      upstream.destroy();
    }
  }

  async close(): Promise<void> {
    this.reset();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * The path of a request frame whose payload starts with one (length-prefixed
 * UTF-8); of a multi (type 14), its first op's — after the op's header of
 * type (int32), done (bool) and err (int32).
 */
function requestPath(frame: Buffer): string {
  const at = frame.length >= 12 && frame.readInt32BE(8) === multiOp ? 21 : 12;
  if (frame.length < at + 4) return '';
  const length = frame.readInt32BE(at);
  return length > 0 && frame.length >= at + 4 + length ? frame.subarray(at + 4, at + 4 + length).toString('utf8') : '';
}
