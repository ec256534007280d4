/**
 * Our own etcd v3 client (src/wire) against a real member, checked against
 * what etcd3 — a separate client — reads and writes: every field we send
 * arrives, every field we read is what the server holds, and each failure
 * comes back as the gRPC status etcd gives it.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import type { Etcd3 } from 'etcd3';
import { freePort, scaled, startProxy, withTimeout, type Cluster } from '@elect/test';
import { MemberClient, type TypedStream } from '../src/wire/client.js';
import { GrpcError, Status } from '../src/wire/grpc.js';
import { CompareResult, CompareTarget, SortOrder, SortTarget, WatchFilter, type WatchRequest, type WatchResponse } from '../src/wire/messages.js';
import { uniqueName, useEtcd } from './support/harness.js';

jest.setTimeout(scaled(60_000));

let cluster: Cluster;
let etcd3: Etcd3;
const clients: MemberClient[] = [];

useEtcd({ size: 1 }, (started, admin) => {
  cluster = started;
  etcd3 = admin;
});

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

function client(host = cluster.endpoints[0]!, operationTimeoutMs = scaled(3000)): MemberClient {
  const made = new MemberClient(host.replace(/^https?:\/\//, ''), { operationTimeoutMs });
  clients.push(made);
  return made;
}

const b = (text: string): Buffer => Buffer.from(text);

/** The next `count` responses of a stream, within a scaled budget. */
function responses<Req, Res>(stream: TypedStream<Req, Res>, count: number, what: string): Promise<Res[]> {
  const seen: Res[] = [];
  return withTimeout(
    new Promise<Res[]>((resolve, reject) => {
      stream.onMessage((res) => {
        seen.push(res);
        if (seen.length === count) resolve(seen);
      });
      stream.onEnd((error) => reject(error ?? new Error(`${what}: the stream ended after ${seen.length} responses`)));
    }),
    10_000,
    what,
  );
}

describe('our etcd v3 client on a real member', () => {
  it('creates a key only if absent, reads it back whole, and the other client agrees', async () => {
    const c = client();
    const name = uniqueName('wire');
    const key = b(`${name}/k`);
    const create = {
      compare: [{ key, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: '0' }],
      success: [{ request_put: { key, value: b('v1') } }],
      failure: [{ request_range: { key } }],
    };
    const first = await c.txn(create);
    expect(first.succeeded).toBe(true);
    expect(first.responses[0]?.response_put).toBeDefined();
    const second = await c.txn(create);
    expect(second.succeeded).toBe(false);
    const kv = second.responses[0]?.response_range?.kvs[0];
    expect(kv?.value.toString()).toBe('v1');
    expect(kv?.create_revision).toBe(first.header.revision);
    expect(kv?.mod_revision).toBe(first.header.revision);
    expect(kv?.version).toBe('1');
    expect(kv?.lease).toBe('0');
    const theirs = await etcd3.get(`${name}/k`).exec();
    expect(theirs.kvs[0]?.create_revision).toBe(first.header.revision);
    expect(BigInt(second.header.revision)).toBeGreaterThanOrEqual(BigInt(first.header.revision));
    await etcd3.delete().prefix(`${name}/`);
  });

  it('ranges with prefix, sort, limit, more, create-revision bounds and a past revision', async () => {
    const c = client();
    const name = uniqueName('wire');
    const revisions: string[] = [];
    for (const id of ['c', 'a', 'b']) revisions.push((await etcd3.put(`${name}/${id}`).value(id).exec()).header.revision);
    const prefix = b(`${name}/`);
    const end = b(`${name}0`); // '/' + 1
    const all = await c.range({ key: prefix, range_end: end, sort_order: SortOrder.Ascend, sort_target: SortTarget.Create });
    expect(all.kvs.map((kv) => kv.key.toString())).toEqual([`${name}/c`, `${name}/a`, `${name}/b`]);
    expect(all.more).toBe(false);
    const one = await c.range({ key: prefix, range_end: end, sort_order: SortOrder.Descend, sort_target: SortTarget.Create, limit: 1 });
    expect(one.kvs.map((kv) => kv.key.toString())).toEqual([`${name}/b`]);
    expect(one.more).toBe(true);
    const below = await c.range({ key: prefix, range_end: end, sort_order: SortOrder.Descend, sort_target: SortTarget.Create, max_create_revision: BigInt(revisions[2]!) - 1n, limit: 1 });
    expect(below.kvs[0]?.key.toString()).toBe(`${name}/a`);
    const above = await c.range({ key: prefix, range_end: end, sort_order: SortOrder.Ascend, sort_target: SortTarget.Create, min_create_revision: BigInt(revisions[0]!) + 1n });
    expect(above.kvs.map((kv) => kv.key.toString())).toEqual([`${name}/a`, `${name}/b`]);
    await etcd3.delete().key(`${name}/a`);
    const past = await c.range({ key: prefix, range_end: end, revision: revisions[2] });
    expect(past.kvs.map((kv) => kv.key.toString()).sort()).toEqual([`${name}/a`, `${name}/b`, `${name}/c`]);
    const count = await c.range({ key: prefix, range_end: end, count_only: true });
    expect(count.count).toBe('2');
    await etcd3.delete().prefix(`${name}/`);
  });

  it('grants a lease with our id, keeps it alive over one stream, reports its TTL, and revokes it', async () => {
    const c = client();
    const id = String(BigInt.asUintN(62, BigInt(Date.now()) * 7919n) + 1n);
    const granted = await c.leaseGrant({ TTL: 5, ID: id });
    expect(granted.ID).toBe(id);
    expect(granted.TTL).toBe('5');
    const name = uniqueName('wire');
    const key = b(`${name}/leased`);
    await c.txn({ success: [{ request_put: { key, value: b('x'), lease: id } }] });
    const info = await c.leaseTimeToLive({ ID: id, keys: true });
    expect(info.grantedTTL).toBe('5');
    expect(info.keys.map(String)).toEqual([`${name}/leased`]);
    expect((await etcd3.get(`${name}/leased`).exec()).kvs[0]?.lease).toBe(id);
    // Only the lease compare matches the key's lease.
    const onLease = await c.txn({ compare: [{ key, target: CompareTarget.Lease, result: CompareResult.Equal, lease: id }] });
    expect(onLease.succeeded).toBe(true);
    const noLease = await c.txn({ compare: [{ key, target: CompareTarget.Lease, result: CompareResult.Equal, lease: '0' }] });
    expect(noLease.succeeded).toBe(false);
    const keepAlive = await c.leaseKeepAlive();
    const answers = responses(keepAlive, 2, 'two keepalive answers');
    keepAlive.write({ ID: id });
    keepAlive.write({ ID: id });
    expect((await answers).map((res) => [res.ID, res.TTL])).toEqual([
      [id, '5'],
      [id, '5'],
    ]);
    await c.leaseRevoke({ ID: id });
    expect((await c.leaseTimeToLive({ ID: id })).TTL).toBe('-1');
    expect((await etcd3.get(`${name}/leased`).exec()).kvs).toEqual([]);
    const gone = responses(keepAlive, 1, 'the keepalive answer for a revoked lease');
    keepAlive.write({ ID: id });
    expect((await gone)[0]?.TTL).toBe('0');
    keepAlive.cancel();
    await expect(c.leaseRevoke({ ID: id })).rejects.toMatchObject({ code: Status.NOT_FOUND, details: expect.stringContaining('requested lease not found') });
  });

  it('watches from a revision: puts and deletes with their revisions, deletes only when asked, and compaction', async () => {
    const c = client();
    const name = uniqueName('wire');
    const start = BigInt((await etcd3.put(`${name}/first`).value('1').exec()).header.revision);
    await etcd3.put(`${name}/second`).value('2').exec();
    await etcd3.delete().key(`${name}/first`);
    const watch = await c.watch();
    const seen: WatchResponse[] = [];
    const events = new Promise<void>((resolve, reject) => {
      watch.onMessage((res) => {
        seen.push(res);
        if (seen.flatMap((r) => r.events).length === 3) resolve();
      });
      watch.onEnd((error) => reject(error ?? new Error('ended')));
    });
    const create: WatchRequest = { create_request: { key: b(`${name}/`), range_end: b(`${name}0`), start_revision: start } };
    watch.write(create);
    await withTimeout(events, 10_000, 'three events');
    expect(seen[0]?.created).toBe(true);
    const flat = seen.flatMap((r) => r.events);
    expect(flat.map((e) => [e.type, e.kv.key.toString()])).toEqual([
      ['Put', `${name}/first`],
      ['Put', `${name}/second`],
      ['Delete', `${name}/first`],
    ]);
    expect(flat[0]?.kv.create_revision).toBe(start.toString());
    watch.cancel();

    const deletes = await c.watch();
    const only = responses(deletes, 2, 'created, then one delete');
    deletes.write({ create_request: { key: b(`${name}/`), range_end: b(`${name}0`), filters: [WatchFilter.NoPut] } });
    const [created] = await responses(deletes, 1, 'created');
    expect(created?.created).toBe(true);
    await etcd3.put(`${name}/third`).value('3').exec();
    await etcd3.delete().key(`${name}/second`);
    const [, deleted] = await only;
    expect(deleted?.events.map((e) => [e.type, e.kv.key.toString(), e.kv.mod_revision])).toEqual([['Delete', `${name}/second`, deleted?.header.revision]]);
    deletes.cancel();

    const last = await etcd3.put(`${name}/third`).value('4').exec();
    await etcd3.kv.compact({ revision: last.header.revision });
    const compacted = await c.watch();
    const answer = responses(compacted, 2, 'created, then canceled for compaction');
    compacted.write({ create_request: { key: b(`${name}/`), range_end: b(`${name}0`), start_revision: start } });
    const canceled = (await answer).find((r) => r.canceled);
    expect(canceled?.compact_revision).toBe(last.header.revision);
    compacted.cancel();
    await etcd3.delete().prefix(`${name}/`);
  });

  it('fails as etcd and the network say: UNAVAILABLE before any connection, DEADLINE_EXCEEDED from a silent member, UNAVAILABLE on reset', async () => {
    const nobody = client(`127.0.0.1:${await freePort()}`);
    const refused = await nobody.range({ key: b('x') }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(GrpcError);
    expect(refused).toMatchObject({ code: Status.UNAVAILABLE, message: expect.stringContaining('No connection established') });

    const member = cluster.members[0]!;
    const proxy = await startProxy({ host: member.host, port: member.clientPort });
    try {
      const c = client(`${proxy.host}:${proxy.port}`, scaled(500));
      await c.range({ key: b('x') }); // connected
      proxy.blackhole();
      const silent = await c.range({ key: b('x') }).catch((error: unknown) => error);
      expect(silent).toMatchObject({ code: Status.DEADLINE_EXCEEDED });
      const pending = c.range({ key: b('x') }).catch((error: unknown) => error);
      await new Promise((resolve) => setImmediate(resolve)); // the call is on the wire
      c.reset();
      expect(await pending).toMatchObject({ code: Status.UNAVAILABLE });
      proxy.heal();
      await expect(c.range({ key: b('x') })).resolves.toMatchObject({ kvs: [] });
    } finally {
      await proxy.close();
    }
  });
});
