/**
 * A TCP proxy for the protected-create test: it forwards normally until
 * armed; once armed, the first ZooKeeper `create` request it sees from the
 * client goes through to the server, and from then on nothing the server
 * says reaches the client — the create happens, its reply is lost. `reset()`
 * then drops both sockets so the client reconnects (same session) through
 * the proxy, which forwards normally again.
 *
 * Client-to-server framing: a 4-byte length, then (after the first frame,
 * the ConnectRequest) a request header of xid (int32) and type (int32).
 */
import net from 'node:net';

const createOp = 1;

export class ReplyDropper {
  armed = false;
  /** True once a create went through while armed. */
  swallowed = false;
  private readonly server: net.Server;
  private readonly links = new Set<{ client: net.Socket; upstream: net.Socket }>();

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
    const link = { client, upstream };
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
        upstream.write(frame);
        if (this.armed && type === createOp) {
          this.armed = false;
          this.swallowed = true;
          dropping = true;
        }
      }
    });
    upstream.on('data', (chunk: Buffer) => {
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
