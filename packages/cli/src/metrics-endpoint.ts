/**
 * `--metrics HOST:PORT`: `elect run`'s metrics (`@elect/metrics`) and health
 * over HTTP.
 *
 * - `/metrics`: Prometheus text — is-leader, transitions by reason, campaign
 *   duration, time left to the loss deadline, heartbeat round trip, session
 *   state, fencing token;
 * - `/healthz`: 200 while `elect` runs (it answers at all);
 * - `/readyz`: 200 while the backend session is live on our clock, 503 while
 *   it is suspended, ended or not yet open.
 *
 * Loaded only when the flag is given: prom-client costs start-up time a run
 * without metrics should not pay.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock, Election, SessionStatus, SessionTelemetry } from '@elect/core';
import type { Logger } from './log.js';
import type { MetricsAddress } from './options.js';
import { UsageError } from './options.js';

export interface MetricsEndpoint {
  /** The connection's `telemetry` option. */
  readonly telemetry: SessionTelemetry;
  /** The election, measured. */
  election(election: Election): Election;
  /** Stops serving. */
  close(): Promise<void>;
}

export async function startMetrics(address: MetricsAddress, backend: string, logger: Logger, clock: Clock): Promise<MetricsEndpoint> {
  const [{ ElectMetrics }, { Registry, collectDefaultMetrics }] = await Promise.all([import('@elect/metrics'), import('prom-client')]);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = new ElectMetrics({ registry, clock });
  const measured = metrics.telemetry(backend);
  let session: SessionStatus['kind'] | undefined;
  const telemetry: SessionTelemetry = {
    sessionStatus: (status) => {
      session = status.kind;
      measured.sessionStatus?.(status);
    },
    roundTrip: (ms) => measured.roundTrip?.(ms),
  };
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') return reply(405, 'GET only\n');
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => reply(200, text, registry.contentType),
        (error: unknown) => reply(500, `${String(error)}\n`),
      );
    } else if (path === '/healthz') reply(200, 'ok\n');
    else if (path === '/readyz') reply(session === 'live' ? 200 : 503, `session ${session ?? 'not open'}\n`);
    else reply(404, 'not found: /metrics, /healthz, /readyz\n');
  });
  await listen(server, address);
  // After listening: a failed accept (EMFILE while scraped) is logged, never fatal.
  server.on('error', (error) => logger.warn({ event: 'metrics-error', err: error }, `metrics endpoint: ${error.message}`));
  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  logger.info({ event: 'metrics', url: `http://${host}:${bound.port}/metrics` }, `serving metrics on http://${host}:${bound.port}/metrics`);
  return {
    telemetry,
    election: (election) => metrics.election(election),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function listen(server: Server, { host, port }: MetricsAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    const where = host === undefined ? `:${port}` : host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    const failed = (error: NodeJS.ErrnoException): void => reject(new UsageError(`--metrics ${where}: cannot listen there (${error.code ?? error.message})`));
    server.once('error', failed);
    server.listen(host === undefined ? { port } : { host, port }, () => {
      server.off('error', failed);
      server.unref();
      resolve();
    });
  });
}
