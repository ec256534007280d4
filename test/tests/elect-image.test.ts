/**
 * The `elect` container image (docker/images/elect): three containers wrap
 * the same job, one runs it; `docker kill --signal SIGTERM` of that one
 * reaches the job through tini and `elect`, the container exits with the
 * job's status as on a host, and another container's job takes over.
 *
 * Runs in the container pass, after docker/build-elect-image.sh (CI builds
 * the image first); skipped with ELECT_TEST_RUNTIME=process, or when no
 * engine answers or the image is missing outside CI.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { GenericContainer, ImageName, Wait, type StartedTestContainer } from 'testcontainers';
import {
  type Cluster,
  type Watchdog,
  containerEngineAvailable,
  engineEndpoint,
  LABEL_CLUSTER,
  LABEL_TEST,
  runtimeClient,
  scaled,
  startWatchdog,
  startZooKeeper,
  waitUntil,
} from '../src/index.js';

const IMAGE = process.env.ELECT_IMAGE ?? 'elect:latest';
const runtime = process.env.ELECT_TEST_RUNTIME ?? 'auto';
const engine = runtime !== 'process' && (await containerEngineAvailable());
const image = engine && (await (await runtimeClient()).image.exists(ImageName.fromString(IMAGE)).catch(() => false));
if (engine && !image && process.env.CI === 'true') {
  throw new Error(`no ${IMAGE} image: CI builds it with docker/build-elect-image.sh before the container pass`);
}
const suite = engine && image ? describe : describe.skip;
if (!(engine && image)) {
  console.warn(`elect image tests skipped: ${!engine ? 'no container engine (or ELECT_TEST_RUNTIME=process)' : `no ${IMAGE} image (docker/build-elect-image.sh)`}`);
}

const TTL_S = 4;
/** The job: says when it starts (with its fencing token) and when SIGTERM stops it. */
const JOB = ['sh', '-c', 'echo "start $ELECT_ID $ELECT_TOKEN"; trap \'echo "stop $ELECT_ID"; exit 143\' TERM; while :; do sleep 0.1; done'];

interface App {
  readonly name: string;
  readonly container: StartedTestContainer;
  lines(): string[];
}

suite('the elect image', () => {
  const group = randomUUID();
  let watchdog: Watchdog | undefined;
  let zk: Cluster | undefined;
  const apps: App[] = [];

  beforeAll(async () => {
    watchdog = startWatchdog(`${LABEL_CLUSTER}=${group}`, engineEndpoint(await runtimeClient()));
    zk = await startZooKeeper();
  }, scaled(120_000));

  afterAll(async () => {
    try {
      const docker = (await runtimeClient()).container.dockerode;
      const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL_CLUSTER}=${group}`] } });
      await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => {})));
      await zk?.close();
    } finally {
      watchdog?.release();
    }
  }, scaled(60_000));

  async function elect(name: string, args: readonly string[]): Promise<App> {
    const container = await new GenericContainer(IMAGE)
      .withName(`elect-app-${name}-${group.slice(0, 8)}`)
      .withNetworkMode('host')
      .withLabels({ [LABEL_TEST]: 'true', [LABEL_CLUSTER]: group })
      .withCommand([...args])
      // Started once it campaigns (its JSON log line on stderr).
      .withWaitStrategy(Wait.forLogMessage(/"event":"campaigning"/))
      .withStartupTimeout(scaled(30_000))
      .start();
    const lines: string[] = [];
    const stream = await container.logs();
    stream.on('data', (chunk: Buffer | string) => lines.push(...String(chunk).split('\n').filter(Boolean)));
    const app = { name, container, lines: () => lines };
    apps.push(app);
    return app;
  }

  const starts = (app: App): string[] => app.lines().filter((l) => l.startsWith('start '));

  test('one of three containers runs the job; SIGTERM stops it with its status (143), and another takes over', async () => {
    const args = (id: string) => ['-b', 'zk', '-c', zk!.connectString, '-e', `/image-test/${group}`, '--ttl', `${TTL_S}s`, '--id', id, '--', ...JOB];
    const a = await elect('a', args('a'));
    await waitUntil(() => starts(a).length === 1, { timeoutMs: 10_000, what: 'a to start the job' });
    const b = await elect('b', args('b'));
    const c = await elect('c', args('c'));
    expect([starts(b), starts(c)]).toEqual([[], []]);

    const docker = (await runtimeClient()).container.dockerode;
    const exited = docker.getContainer(a.container.getId()).wait() as Promise<{ StatusCode: number }>;
    await docker.getContainer(a.container.getId()).kill({ signal: 'SIGTERM' });
    expect((await exited).StatusCode).toBe(143);
    expect(a.lines()).toContain('stop a');
    // A resign hands over at once; allow a TTL for the server's own timing.
    await waitUntil(() => starts(b).length + starts(c).length === 1, { timeoutMs: TTL_S * 1000 + 5_000, what: 'b or c to take over' });
    const next = starts(b).length === 1 ? b : c;
    const tokenA = BigInt((starts(a)[0] as string).split(' ')[2] as string);
    const tokenNext = BigInt((starts(next)[0] as string).split(' ')[2] as string);
    expect(tokenNext > tokenA).toBe(true);
    expect(starts(next === b ? c : b)).toEqual([]);
  }, scaled(120_000));

  test('a usage error exits 64 from the container, as on a host', async () => {
    const docker = (await runtimeClient()).container.dockerode;
    const container = await docker.createContainer({
      Image: IMAGE,
      Cmd: ['-b', 'zk', '-e', '/x', '--ttl', 'soon', '--', 'true'],
      Labels: { [LABEL_TEST]: 'true', [LABEL_CLUSTER]: group },
      HostConfig: { NetworkMode: 'host' },
    });
    const exited = container.wait({ condition: 'next-exit' }) as Promise<{ StatusCode: number }>;
    await container.start();
    expect((await exited).StatusCode).toBe(64);
  }, scaled(60_000));
});
