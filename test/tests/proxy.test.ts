/**
 * The TCP proxy's faults seen by real clients: `cut` drops connections (the
 * client notices), `blackhole` hangs them (only timers notice), `heal`
 * restores service. One standalone ZooKeeper and one etcd member serve the file.
 */
import { afterAll, afterEach, beforeAll, describe, expect, jest, test } from '@jest/globals';
import type { Etcd3 } from 'etcd3';
import {
  fourLetter,
  type Proxy,
  proxyCluster,
  scaled,
  startEtcd,
  startProxy,
  startZooKeeper,
  TimeoutError,
  waitUntil,
} from '../src/index.js';
import type { Cluster } from '../src/index.js';
import { connectZk, etcdClient, nextEvent, zk, type ZkClient } from './support/clients.js';

jest.setTimeout(scaled(60_000));

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
async function proxyTo(cluster: Cluster): Promise<Proxy> {
  const [member] = cluster.members;
  const proxy = await startProxy({ host: member!.host, port: member!.clientPort });
  cleanups.push(() => proxy.close());
  return proxy;
}
async function zkVia(connectString: string): Promise<ZkClient> {
  const client = await connectZk(connectString, { sessionTimeoutMs: 20_000 });
  cleanups.push(() => client.close());
  return client;
}
function etcdVia(endpoints: string, deadlineMs = 1000): Etcd3 {
  const client = etcdClient(endpoints, { deadlineMs });
  cleanups.push(() => client.close());
  return client;
}

describe('proxy in front of ZooKeeper', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startZooKeeper({ size: 1 });
    const setup = await zkVia(cluster.connectString);
    await zk.create(setup, '/proxied', 'data');
  });
  afterAll(async () => {
    await cluster?.close();
  });

  test('cut drops the connection; heal brings the same session back', async () => {
    const proxy = await proxyTo(cluster);
    const client = await zkVia(proxy.address);
    expect(proxy.connections).toBe(1);
    const session = client.getSessionId().toString('hex');

    const disconnected = nextEvent(client, 'disconnected', 5000, 'the client to see the cut');
    proxy.cut();
    await disconnected;
    expect(proxy.mode).toBe('cut');
    await expect(fourLetter(proxy, 'ruok')).rejects.toThrow(/ECONNRESET|closed|socket hang up/i);

    const connected = nextEvent(client, 'connected', 10_000, 'the client to reconnect after heal');
    proxy.heal();
    await connected;
    expect(client.getSessionId().toString('hex')).toBe(session);
    expect(await zk.getData(client, '/proxied')).toBe('data');
  });

  test('a slow link: every answer replyDelayMs late, in full, with the server\'s end after it', async () => {
    const [member] = cluster.members;
    const slow = await startProxy(member!, { replyDelayMs: 300 });
    cleanups.push(() => slow.close());
    // `srvr`: the server answers, then closes — the answer must not be cut short by the close.
    const direct = await fourLetter(member!, 'srvr');
    const started = performance.now();
    const answer = await fourLetter(slow, 'srvr');
    expect(performance.now() - started).toBeGreaterThanOrEqual(300);
    expect(answer.split('\n')[0]).toBe(direct.split('\n')[0]);
    expect(answer).toMatch(/Mode: standalone/);
    // A session through it: each request's answer 300 ms late, in order.
    const client = await zkVia(slow.address);
    const before = performance.now();
    const [first, second] = await Promise.all([zk.getData(client, '/proxied'), zk.exists(client, '/proxied')]);
    expect(performance.now() - before).toBeGreaterThanOrEqual(300);
    expect([first, second]).toEqual(['data', true]);
  });

  test('blackhole hangs requests (no disconnect) until heal, then they complete', async () => {
    const proxy = await proxyTo(cluster);
    const client = await zkVia(proxy.address);
    let disconnects = 0;
    client.on('disconnected', () => disconnects++);

    proxy.blackhole();
    const pending = zk.getData(client, '/proxied', 30_000);
    await expect(zk.getData(client, '/proxied', 500)).rejects.toBeInstanceOf(TimeoutError);
    // New connections are accepted but answered by no one.
    await expect(fourLetter(proxy, 'ruok', { timeoutMs: 300 })).rejects.toThrow(/no answer/);
    expect(disconnects).toBe(0);

    proxy.heal();
    expect(await pending).toBe('data');
    expect(await fourLetter(proxy, 'ruok')).toBe('imok');
    expect(disconnects).toBe(0);
  });
});

describe('proxy in front of etcd', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startEtcd({ size: 1 });
    const setup = etcdVia(cluster.connectString);
    await setup.put('proxied').value('data');
  });
  afterAll(async () => {
    await cluster?.close();
  });

  test('cut fails requests at once; heal serves again', async () => {
    const proxy = await proxyTo(cluster);
    const client = etcdVia(`http://${proxy.address}`, 5000);
    expect(await client.get('proxied').string()).toBe('data');

    proxy.cut();
    const started = Date.now();
    await expect(client.get('proxied').string()).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(scaled(4000)); // refused, not timed out

    proxy.heal();
    // gRPC reconnects with its own backoff; wait for that, not for a fixed time.
    expect(await waitUntil(() => client.get('proxied').string(), { timeoutMs: 20_000, what: 'etcd through the healed proxy' })).toBe('data');
  });

  test('blackhole makes requests time out until heal', async () => {
    const proxy = await proxyTo(cluster);
    const client = etcdVia(`http://${proxy.address}`, 500);
    expect(await client.get('proxied').string()).toBe('data');

    proxy.blackhole();
    await expect(client.get('proxied').string()).rejects.toThrow(/deadline/i);

    proxy.heal();
    expect(await waitUntil(() => client.get('proxied').string(), { timeoutMs: 20_000, what: 'etcd through the healed proxy' })).toBe('data');
  });

  test('proxyCluster routes every member through its own proxy', async () => {
    const proxies = await proxyCluster(cluster);
    cleanups.push(() => proxies.close());
    expect(proxies.proxies).toHaveLength(cluster.members.length);
    expect(proxies.connectString).toBe(proxies.endpoints.join(','));
    expect(proxies.proxyFor(cluster.members[0]!)).toBe(proxies.proxies[0]);
    const client = etcdVia(proxies.connectString);
    expect(await client.get('proxied').string()).toBe('data');
    proxies.cut();
    await expect(client.get('proxied').string()).rejects.toThrow();
    proxies.heal();
    expect(await waitUntil(() => client.get('proxied').string(), { timeoutMs: 20_000, what: 'etcd through healed proxies' })).toBe('data');
  });
});
