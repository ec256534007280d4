/**
 * Interop with `etcdctl elect` on the same election: the same key layout
 * (`name/<lease hex>` = proposal), one queue in create-revision order across
 * both, and observers on each side that see the other side's leaders.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import type { Etcd3 } from 'etcd3';
import type { LeaderInfo, Leadership } from '@elect/core';
import { connectEtcd, type EtcdConnection } from '@elect/etcd';
import { scaled, type Cluster } from '@elect/test';
import { Etcdctl } from './support/etcdctl.js';
import { Queue, TTL_MS, eventually, residue, uniqueName, useEtcd } from './support/harness.js';

jest.setTimeout(scaled(90_000));

let cluster: Cluster;
let client: Etcd3;
const open: EtcdConnection[] = [];
const tools: Etcdctl[] = [];

useEtcd({ size: 1 }, (started, admin) => {
  cluster = started;
  client = admin;
});

afterEach(async () => {
  await Promise.all(tools.splice(0).map((t) => t.stop()));
  await Promise.all(open.splice(0).map((c) => c.close()));
  // etcdctl leaves its own sessions' leases (60 s TTL) behind; ours (3 s) must all be gone.
  await eventually(async () => (await ourLeases()).length === 0, 'no leases of ours left');
});

/** Leases granted with our TTL (etcdctl's sessions use 60 s). */
async function ourLeases(): Promise<string[]> {
  const all = (await client.leaseClient.leaseLeases()).leases.map((l) => l.ID);
  const ttls = await Promise.all(all.map((id) => client.leaseClient.leaseTimeToLive({ ID: id })));
  return ttls.filter((t) => Number(t.grantedTTL) === TTL_MS / 1000).map((t) => BigInt(t.ID).toString(16));
}

async function connect(): Promise<EtcdConnection> {
  const conn = await connectEtcd({ endpoints: cluster.connectString, ttlMs: TTL_MS });
  open.push(conn);
  return conn;
}

function etcdctlCandidate(name: string, proposal: string): Etcdctl {
  const tool = Etcdctl.candidate(cluster.endpoints[0]!, name, proposal);
  tools.push(tool);
  return tool;
}

async function queued(name: string, count: number): Promise<void> {
  await eventually(async () => (await residue(client, name)).length === count, `${count} candidates queued`);
}

describe('interop with etcdctl elect', () => {
  it('our observer sees etcdctl as leader; our candidate takes over when etcdctl resigns', async () => {
    const name = uniqueName();
    const conn = await connect();
    const election = conn.election(name);
    const seen = new Queue<LeaderInfo | undefined>(election.observe());
    expect(await seen.next()).toBeUndefined();

    const tool = etcdctlCandidate(name, 'from-etcdctl');
    const elected = await tool.until((r) => r.value === 'from-etcdctl', 'its own election');
    const theirs = await seen.next();
    expect(theirs).toMatchObject({ id: 'from-etcdctl', value: 'from-etcdctl', key: elected.key });
    expect(elected.key).toMatch(new RegExp(`^${name}/[0-9a-f]+$`));

    const ours = election.campaign({ id: 'from-node' });
    await queued(name, 2);
    expect((await election.candidates()).map((c) => c.id)).toEqual(['from-etcdctl', 'from-node']);
    await tool.stop(); // SIGINT: etcdctl resigns, deleting its key
    const leadership = await ours;
    expect(leadership.token).toBeGreaterThan(theirs!.token);
    expect(await seen.next()).toMatchObject({ id: 'from-node', key: `${name}/${conn.leaseId}` });
    await leadership.resign();
  });

  it("etcdctl's observer sees our leader, and an etcdctl candidate queued behind us is elected when we resign", async () => {
    const name = uniqueName();
    const conn = await connect();
    const leadership = await conn.election(name).campaign({ id: 'node-leader' });
    const observer = Etcdctl.observer(cluster.endpoints[0]!, name);
    tools.push(observer);
    await observer.until((r) => r.key === leadership.key && r.value === 'node-leader', 'our leader');

    const tool = etcdctlCandidate(name, 'etcdctl-next');
    await queued(name, 2);
    expect(tool.reported).toEqual([]); // still waiting behind us
    await leadership.resign();
    const elected = await tool.until((r) => r.value === 'etcdctl-next', 'its election after we resigned');
    await observer.until((r) => r.key === elected.key, "etcdctl's observer to report the etcdctl leader");
  });

  it('successors take over in create-revision order across both clients', async () => {
    const name = uniqueName();
    const [a, b] = [await connect(), await connect()];
    const seen = new Queue<LeaderInfo | undefined>(a.election(name).observe());
    expect(await seen.next()).toBeUndefined();

    // Queue: node-1, etcdctl-1, node-2, etcdctl-2 — each written after the previous one.
    const node1 = await a.election(name).campaign({ id: 'node-1' });
    const ctl1 = etcdctlCandidate(name, 'etcdctl-1');
    await queued(name, 2);
    const node2: Promise<Leadership> = b.election(name).campaign({ id: 'node-2' });
    await queued(name, 3);
    const ctl2 = etcdctlCandidate(name, 'etcdctl-2');
    await queued(name, 4);
    const order = await a.election(name).candidates();
    expect(order.map((c) => c.id)).toEqual(['node-1', 'etcdctl-1', 'node-2', 'etcdctl-2']);
    for (let i = 1; i < order.length; i++) expect(order[i]!.token).toBeGreaterThan(order[i - 1]!.token);

    expect((await seen.next())?.id).toBe('node-1');
    await node1.resign();
    await ctl1.until((r) => r.value === 'etcdctl-1', 'etcdctl-1 elected');
    expect((await seen.next())?.id).toBe('etcdctl-1');
    expect(ctl2.reported).toEqual([]);
    await ctl1.stop();
    const led2 = await node2;
    expect((await seen.next())?.id).toBe('node-2');
    expect(ctl2.reported).toEqual([]);
    await led2.resign();
    await ctl2.until((r) => r.value === 'etcdctl-2', 'etcdctl-2 elected');
    expect((await seen.next())?.id).toBe('etcdctl-2');
    await ctl2.stop();
    expect(await seen.next()).toBeUndefined();
    expect(await residue(client, name)).toEqual([]);
  });
});
