/**
 * What only the container runtime has: images chosen by environment
 * variables, labelled containers on host networking, cleanup by close() and
 * by the watchdog when the test process is SIGKILLed, and member faults that
 * keep the same container (data and ports).
 *
 * Runs when a container engine answers (ELECT_TEST_RUNTIME=container makes a
 * missing engine an error); skipped with ELECT_TEST_RUNTIME=process.
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import zookeeper from 'node-zookeeper-client';
import { GenericContainer } from 'testcontainers';
import {
  containerEngineAvailable,
  etcdImage,
  LABEL_CLUSTER,
  LABEL_TEST,
  startEtcdContainer,
  startZooKeeperContainer,
  zooKeeperImage,
} from '../src/index.js';
import { engineEndpoint, runtimeClient } from '../src/engine.js';
import { watchdogArgs } from '../src/watchdog.js';
import { freePorts } from '../src/ports.js';
import { scaled, waitUntil } from '../src/timing.js';
import type { Cluster } from '../src/types.js';

const runtime = process.env.ELECT_TEST_RUNTIME ?? 'auto';
const engine = runtime !== 'process' && (await containerEngineAvailable());
if (runtime === 'container' && !engine) {
  throw new Error(
    'ELECT_TEST_RUNTIME=container but no container engine answers: start one (as root: ' +
      'export "$(scripts/start-dockerd.sh)") or set DOCKER_HOST',
  );
}
const suite = engine ? describe : describe.skip;
/** Per test: each starts real servers (jest's testTimeout is not applied per project). */
const TIMEOUT = scaled(60_000);
if (!engine) {
  const why = runtime === 'process' ? 'ELECT_TEST_RUNTIME=process' : 'no container engine answers';
  console.warn(`container runtime tests skipped: ${why}`);
}

async function docker() {
  return (await runtimeClient()).container.dockerode;
}

async function containersLabelled(label: string): Promise<string[]> {
  const found = await (await docker()).listContainers({ all: true, filters: { label: [label] } });
  return found.map((c) => c.Id);
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** One request to etcd's JSON gateway (no gRPC client needed for a key or two). */
function etcdPost<T>(baseUrl: string, path: string, body: unknown, timeoutMs = 2000): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}${path}`, { method: 'POST', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(JSON.parse(text) as T) : reject(new Error(`${path}: ${res.statusCode} ${text}`)),
      );
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${path} timed out`)));
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

async function etcdPut(url: string, key: string, value: string): Promise<void> {
  await etcdPost(url, '/v3/kv/put', { key: b64(key), value: b64(value) });
}

async function etcdGet(url: string, key: string): Promise<string | undefined> {
  const answer = await etcdPost<{ kvs?: { value?: string }[] }>(url, '/v3/kv/range', { key: b64(key) });
  const value = answer.kvs?.[0]?.value;
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

/** Runs `fn` with a connected ZooKeeper client and closes it. */
async function withZooKeeper<T>(connectString: string, fn: (client: zookeeper.Client) => Promise<T>): Promise<T> {
  const client = zookeeper.createClient(connectString, { sessionTimeout: 4000, retries: 0 });
  const connected = new Promise<void>((resolve) => client.once('connected', () => resolve()));
  client.connect();
  try {
    await connected;
    return await fn(client);
  } finally {
    client.close();
  }
}

suite('container runtime', () => {
  test('an etcd cluster is labelled containers on host networking, of the configured image; close() removes them', async () => {
    const cluster = await startEtcdContainer({ size: 3 });
    let closed = false;
    try {
      expect(cluster.runtime).toBe('container');
      expect(cluster.members.map((m) => m.host)).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1']);
      expect(cluster.endpoints).toEqual(cluster.members.map((m) => `http://127.0.0.1:${m.clientPort}`));
      const infos = await Promise.all(
        cluster.members.map(async (m) => (await docker()).getContainer(containerIdOf(cluster, m.name)).inspect()),
      );
      for (const info of infos) {
        expect(info.HostConfig.NetworkMode).toBe('host');
        expect(info.Config.Image).toBe(etcdImage());
        expect(info.Config.Labels[LABEL_TEST]).toBe('true');
      }
      const clusterLabel = `${LABEL_CLUSTER}=${infos[0]!.Config.Labels[LABEL_CLUSTER]}`;
      expect(await containersLabelled(clusterLabel)).toHaveLength(3);
      await cluster.close();
      closed = true;
      expect(await containersLabelled(clusterLabel)).toEqual([]);
      await cluster.close(); // idempotent
    } finally {
      if (!closed) await cluster.close();
    }
  }, TIMEOUT);

  describe('images named by environment variables', () => {
    const saved = { zk: process.env.ELECT_TEST_ZK_IMAGE, etcd: process.env.ELECT_TEST_ETCD_IMAGE };
    const alias = `elect-test/zookeeper-alias:${process.pid}`;

    beforeAll(async () => {
      // Another name for the default image, so this works wherever the default does.
      const [repo, tag] = alias.split(':') as [string, string];
      await (await docker()).getImage(zooKeeperImage()).tag({ repo, tag });
    });

    afterAll(async () => {
      process.env.ELECT_TEST_ZK_IMAGE = saved.zk;
      process.env.ELECT_TEST_ETCD_IMAGE = saved.etcd;
      if (saved.zk === undefined) delete process.env.ELECT_TEST_ZK_IMAGE;
      if (saved.etcd === undefined) delete process.env.ELECT_TEST_ETCD_IMAGE;
      await (await docker()).getImage(alias).remove().catch(() => {});
    });

    test('ELECT_TEST_ZK_IMAGE picks the ZooKeeper image', async () => {
      process.env.ELECT_TEST_ZK_IMAGE = alias;
      const cluster = await startZooKeeperContainer();
      try {
        const info = await (await docker()).getContainer(containerIdOf(cluster, 'zk1')).inspect();
        expect(info.Config.Image).toBe(alias);
      } finally {
        await cluster.close();
      }
    }, TIMEOUT);

    test('an image that is neither present nor pullable fails with a hint, leaving nothing behind', async () => {
      process.env.ELECT_TEST_ETCD_IMAGE = 'elect-test/no-such-image:never';
      await expect(startEtcdContainer()).rejects.toThrow(/not available.*docker\/build-images\.sh/s);
      const left = await (await docker()).listContainers({
        all: true,
        filters: { ancestor: ['elect-test/no-such-image:never'] },
      });
      expect(left).toEqual([]);
    }, TIMEOUT);
  });

  test('the watchdog removes the containers when the test process is SIGKILLed', async () => {
    const label = `org.elect.test.watchdog-check=${process.pid}-${Date.now()}`;
    const [clientPort, peerPort] = await freePorts(2);
    const container = await new GenericContainer(etcdImage())
      .withNetworkMode('host')
      .withLabels({ [LABEL_TEST]: 'true', [label.split('=')[0]!]: label.split('=')[1]! })
      .withCommand([
        '/usr/local/bin/etcd',
        '--data-dir=/tmp/watchdog-check',
        `--listen-client-urls=http://127.0.0.1:${clientPort}`,
        `--advertise-client-urls=http://127.0.0.1:${clientPort}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
      ])
      .start();
    try {
      // A stand-in for a jest worker: it starts the watchdog exactly as the
      // harness does, says so, and is then SIGKILLed.
      const holderSource = String.raw`
        const args = JSON.parse(process.argv[1]);
        const child = require('node:child_process').spawn(process.execPath, args, { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
        child.unref();
        process.stdout.write('watching\n');
        setInterval(() => {}, 1 << 30);
      `;
      const endpoint = engineEndpoint(await runtimeClient());
      const holder = spawn(process.execPath, ['-e', holderSource, JSON.stringify(watchdogArgs(label, endpoint))], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve, reject) => {
        holder.stdout!.once('data', () => resolve());
        holder.once('exit', (code) => reject(new Error(`holder exited early (${code})`)));
      });
      expect(await containersLabelled(label)).toEqual([container.getId()]);
      const exited = new Promise((resolve) => holder.once('exit', resolve));
      holder.kill('SIGKILL');
      await exited;
      await waitUntil(async () => (await containersLabelled(label)).length === 0, {
        timeoutMs: 20_000,
        what: 'the watchdog to remove the container',
      });
    } finally {
      await (await docker()).getContainer(container.getId()).remove({ force: true, v: true }).catch(() => {});
    }
  }, TIMEOUT);

  test('etcd member faults keep the same container, data and port', async () => {
    const cluster = await startEtcdContainer();
    try {
      const [m] = cluster.members;
      const url = cluster.endpoints[0]!;
      const id = containerIdOf(cluster, m!.name);
      await etcdPut(url, 'k', 'v1');

      await m!.stop();
      expect(m!.running).toBe(false);
      await expect(etcdGet(url, 'k')).rejects.toThrow(/ECONNREFUSED/);
      await m!.start();
      expect(await etcdGet(url, 'k')).toBe('v1');

      await m!.kill();
      await m!.start();
      expect(await etcdGet(url, 'k')).toBe('v1');

      await m!.pause();
      expect(m!.running).toBe(true);
      await expect(etcdPost(url, '/v3/kv/range', { key: b64('k') }, 300)).rejects.toThrow(/timed out/);
      await m!.resume();
      expect(await etcdGet(url, 'k')).toBe('v1');

      await m!.restart();
      expect(await etcdGet(url, 'k')).toBe('v1');
      expect(containerIdOf(cluster, m!.name)).toBe(id);
    } finally {
      await cluster.close();
    }
  }, TIMEOUT);

  test('a ZooKeeper ensemble survives losing its leader, and the old leader rejoins with its data', async () => {
    const cluster = await startZooKeeperContainer({ size: 3 });
    try {
      await withZooKeeper(cluster.connectString, (client) =>
        new Promise<void>((resolve, reject) =>
          client.create('/container-check', Buffer.from('x'), (err) => (err ? reject(err) : resolve())),
        ),
      );
      const leader = await cluster.serverLeader();
      await leader.kill();
      const next = await cluster.serverLeader();
      expect(next.name).not.toBe(leader.name);
      await leader.start();
      // Ask the restarted server alone: it must have the node (from its own data or the new leader).
      const exists = await withZooKeeper(leader.clientAddress, (client) =>
        new Promise<boolean>((resolve, reject) =>
          client.exists('/container-check', (err, stat) => (err ? reject(err) : resolve(Boolean(stat)))),
        ),
      );
      expect(exists).toBe(true);
      await cluster.waitServing();
    } finally {
      await cluster.close();
    }
  }, TIMEOUT);
});

/** The container id behind a member (the container runtime's members carry it). */
function containerIdOf(cluster: Cluster, name: string): string {
  const member = cluster.members.find((m) => m.name === name) as unknown as { container?: { id: string } };
  if (member.container === undefined) throw new Error(`${name} is not a container member`);
  return member.container.id;
}
