/**
 * The etcd backend for core's conformance suite. Every handle is a separate
 * connection (its own lease) through its own TCP proxies, one per member:
 * `cut()` blackholes them (the client is not told; bytes wait), `heal()` lets
 * them flow again. `expire()` revokes the handle's current lease from a
 * separate admin client, as an operator or another process would, and
 * `deleteEntry()` deletes a key from that client.
 */
import type { Etcd3 } from 'etcd3';
import type { ConformanceBackend, ConformanceHandle, OpenOptions } from '@elect/core/conformance';
import { connectEtcd, type EtcdConnection } from '@elect/etcd';
import { proxyCluster, startEtcd, timingBase, type Cluster } from '@elect/test';
import { TTL_MS, admin, residue, revokeHex, uniqueName } from './harness.js';

export interface EtcdConformanceBackend extends ConformanceBackend {
  readonly cluster: Cluster;
  readonly admin: Etcd3;
  close(): Promise<void>;
}

export async function etcdBackend(size: 1 | 3): Promise<EtcdConformanceBackend> {
  const cluster = await startEtcd({ size });
  const client = admin(cluster.endpoints);
  return {
    name: size === 1 ? 'etcd (single member)' : 'etcd (3-member cluster)',
    sessionTimeoutMs: TTL_MS,
    timing: timingBase,
    cluster,
    admin: client,
    invalidNames: ['', 'trailing/', 'nul\0byte', 'line\nbreak'],
    uniqueName: () => uniqueName('conformance'),
    residue: (name) => residue(client, name),
    deleteEntry: async (key) => void (await client.delete().key(key)),
    open: (name, options) => open(cluster, client, name, options),
    async close() {
      client.close();
      await cluster.close();
    },
  };
}

async function open(cluster: Cluster, client: Etcd3, name: string, options: OpenOptions = {}): Promise<ConformanceHandle> {
  const proxies = await proxyCluster(cluster);
  let connection: EtcdConnection | undefined;
  try {
    connection = await connectEtcd({ endpoints: [...proxies.endpoints], ttlMs: TTL_MS, ...(options.logger && { logger: options.logger }) });
    const conn = connection;
    const election = conn.election(name);
    let closing: Promise<void> | undefined;
    return {
      election,
      another: (other) => conn.election(other),
      // A connection that never campaigned has no lease, and nothing to expire.
      expire: async () => {
        if (conn.leaseId !== '') await revokeHex(client, conn.leaseId);
      },
      cut: async () => proxies.blackhole(),
      heal: async () => proxies.heal(),
      close: () =>
        (closing ??= (async () => {
          await election.close();
          await conn.close();
          await proxies.close();
        })()),
    };
  } catch (error) {
    await connection?.close();
    await proxies.close();
    throw error;
  }
}
