// The README's worked example, run here against a real ZooKeeper in a
// container: a service whose job must run on one instance only, and the test
// a user writes for it — cut the leader off, and the job must have stopped
// there before it starts anywhere else. The README quotes the part between
// the markers — with the import of jest's globals first, and `describe`
// where this file says `suite` (skipped here when no container engine
// answers, or with ELECT_TEST_RUNTIME=process) — and the last test checks
// that it still does.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { containerEngineAvailable } from '../src/index.js';

const runtime = process.env.ELECT_TEST_RUNTIME ?? 'auto';
const engine = runtime !== 'process' && (await containerEngineAvailable());
const suite = engine ? describe : describe.skip;
const jestImport = "import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';";

// --- README example start ---
import { runWhileLeader } from '@elect/core';
import { connectZooKeeper } from '@elect/zk';
import { startProxy, startZooKeeperContainer, waitUntil, type Cluster } from '@elect/testcontainers';

const sessionTimeoutMs = 4_000;

/** The service: runs `job` on exactly one instance at a time, until `shutdown`. */
export async function runReports(
  connectString: string,
  instance: string,
  job: (signal: AbortSignal) => Promise<void>,
  shutdown: AbortSignal,
): Promise<void> {
  await using zk = await connectZooKeeper({ connectString, sessionTimeoutMs });
  try {
    await runWhileLeader(zk.election('/services/reports/leader'), (leadership) => job(leadership.signal), {
      id: instance,
      rejoin: true,
      signal: shutdown,
    });
  } catch (error) {
    if (!shutdown.aborted) throw error; // shutting down is not a failure
  }
}

// The test: two instances, each through its own link to ZooKeeper.
suite('reports', () => {
  let zk: Cluster;
  beforeAll(async () => {
    zk = await startZooKeeperContainer();
  }, 120_000);
  afterAll(async () => {
    await zk?.close();
  });

  test('a leader cut off stops its job before another instance starts it', async () => {
    const log: string[] = [];
    const job = (name: string) => async (signal: AbortSignal) => {
      log.push(`start ${name}`);
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      log.push(`stop ${name}`);
    };
    const server = zk.members[0]!;
    const [linkA, linkB] = [await startProxy(server), await startProxy(server)];
    const shutdown = new AbortController();
    const services = [runReports(linkA.address, 'a', job('a'), shutdown.signal)];
    try {
      await waitUntil(() => log.includes('start a'), { timeoutMs: 10_000, what: 'a to lead' });
      services.push(runReports(linkB.address, 'b', job('b'), shutdown.signal));

      linkA.blackhole(); // a's packets go nowhere; only its own clock can tell
      await waitUntil(() => log.includes('start b'), { timeoutMs: 3 * sessionTimeoutMs, what: 'b to take over' });
      expect(log).toEqual(['start a', 'stop a', 'start b']);
    } finally {
      linkA.heal();
      shutdown.abort();
      await Promise.allSettled(services);
      await Promise.all([linkA.close(), linkB.close()]);
    }
  }, 60_000);
});
// --- README example end ---

describe('the README', () => {
  test('quotes the example as it runs here', () => {
    const source = readFileSync(new URL(import.meta.url), 'utf8');
    const example = source.split('// --- README example start ---\n')[1]!.split('// --- README example end ---')[0]!;
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(`${jestImport}\n${example.trim().replace("suite('reports'", "describe('reports'")}`);
  });
});
