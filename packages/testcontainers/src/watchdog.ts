/**
 * Containers must not outlive the test process that started them, even when
 * that process is SIGKILLed (a jest worker killed on timeout) and no reaper
 * container runs. Each cluster starts a tiny watchdog: a detached Node process
 * that holds the read end of a pipe from the test process. When the pipe
 * closes — close() ends it, or the OS closes it because the test process died
 * however it died — the watchdog removes every container carrying the
 * cluster's label, then exits.
 */
import { spawn } from 'node:child_process';

/** Plain JavaScript run with `node -e`, so it needs no build step. */
const WATCHDOG_SOURCE = String.raw`
const [label, endpointJson] = process.argv.slice(1);
const endpoint = JSON.parse(endpointJson);
const base = endpoint.baseUrl ? new URL(endpoint.baseUrl) : undefined;
const http = require(base && base.protocol === 'https:' ? 'node:https' : 'node:http');

function call(method, path) {
  return new Promise((resolve, reject) => {
    const options = base
      ? { method, host: base.hostname, port: base.port, path }
      : { method, socketPath: endpoint.socketPath, path };
    const req = http.request(options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.setTimeout(30000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

let cleaning;
function cleanUp() {
  cleaning ??= (async () => {
    try {
      const filters = encodeURIComponent(JSON.stringify({ label: [label] }));
      const list = await call('GET', '/containers/json?all=1&filters=' + filters);
      const ids = list.status === 200 ? JSON.parse(list.body).map((c) => c.Id) : [];
      await Promise.all(ids.map((id) => call('DELETE', '/containers/' + id + '?force=1&v=1').catch(() => {})));
    } finally {
      process.exit(0);
    }
  })();
}

process.stdin.on('data', () => {});
process.stdin.on('end', cleanUp);
process.stdin.on('close', cleanUp);
process.stdin.on('error', cleanUp);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, cleanUp);
process.stdin.resume();
`;

export type EngineEndpoint = { socketPath: string } | { baseUrl: string };

/** The arguments of `node` that run a watchdog for containers labelled `label` (`key=value`). */
export function watchdogArgs(label: string, endpoint: EngineEndpoint): string[] {
  return ['-e', WATCHDOG_SOURCE, label, JSON.stringify(endpoint)];
}

export interface Watchdog {
  /** Tells the watchdog to clean up now and exit (idempotent). */
  release(): void;
}

/**
 * Starts a watchdog that removes all containers labelled `label` (`key=value`)
 * once this process lets go of it or dies.
 */
export function startWatchdog(label: string, endpoint: EngineEndpoint): Watchdog {
  const child = spawn(process.execPath, watchdogArgs(label, endpoint), {
    stdio: ['pipe', 'ignore', 'ignore'],
    // Its own process group: a Ctrl-C or a kill of the test's group must
    // not take the watchdog down before it has cleaned up.
    detached: true,
    env: { PATH: process.env.PATH ?? '' },
  });
  child.on('error', () => {});
  const stdin = child.stdin;
  stdin?.on('error', () => {});
  // Neither the child nor its pipe may keep the test process alive.
  child.unref();
  (stdin as unknown as { unref?: () => void } | null)?.unref?.();
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      stdin?.end();
    },
  };
}
