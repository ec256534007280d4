/**
 * Free TCP ports from the OS. Several engineers (and CI jobs) run servers on
 * this machine at once, so a fixed port is a collision waiting to happen: we
 * listen on port 0, read back what the kernel chose, and close.
 *
 * There is an unavoidable window between closing our listener and the server
 * binding the port; the cluster starters retry once with fresh ports when a
 * server reports "address already in use" (see {@link isPortClash}).
 */
import net from 'node:net';

async function listenOnce(host: string): Promise<net.Server> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => resolve(server));
  });
}

async function closeServer(server: net.Server): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/**
 * `count` distinct free ports on `host` (default 127.0.0.1). All listeners are
 * held open together so the kernel cannot hand out the same port twice.
 */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listenOnce(host));
    return servers.map((server) => (server.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map(closeServer));
  }
}

/** One free port on `host` (default 127.0.0.1). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await freePorts(1, host);
  return port as number;
}

/** True when a start failure looks like somebody else grabbed one of our ports. */
export function isPortClash(error: unknown): boolean {
  const text = error instanceof Error ? `${error.message}\n${String(error.cause ?? '')}` : String(error);
  return /address already in use|BindException|EADDRINUSE/i.test(text);
}

/**
 * Runs `attempt` again (with fresh ports) when it failed because another
 * process took one of the ports between our probe and the server's bind.
 */
export async function retryOnPortClash<T>(attempt: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (i >= attempts || !isPortClash(error)) throw error;
    }
  }
}
