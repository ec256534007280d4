/**
 * A TCP proxy that can blackhole its connections (no byte moves either way,
 * nothing is closed), for the cut-failover benchmark.
 */
import net from 'node:net';

export interface Blackhole {
  address: string;
  cut(): void;
  close(): Promise<void>;
}

export async function blackhole(target: { host: string; port: number }): Promise<Blackhole> {
  const sockets = new Set<net.Socket>();
  let cut = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(target);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    if (cut) return client.pause();
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    cut() {
      cut = true;
      for (const s of sockets) {
        s.unpipe();
        s.pause();
      }
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
