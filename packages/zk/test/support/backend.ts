/**
 * The zk backend as the conformance suite sees it: every handle is its own
 * connection (its own session) reaching the servers through its own TCP
 * proxies, so that `cut()` blackholes that handle alone — the library keeps
 * saying "connected" — and `expire()` ends its session on the server with
 * the forced-expiry trick (re-attach with id + password, close).
 * `deleteEntry()` deletes a candidate's node with a client of its own.
 */
import type { Election } from '@elect/core';
import type { ConformanceBackend, ConformanceHandle, OpenOptions } from '@elect/core/conformance';
import { expireSession, proxyCluster, timingBase, type Cluster } from '@elect/test';
import { latchPath, type ZooKeeperConnection } from '@elect/zk';
import { children, connect, rawClient, sessionTimeoutMs, uniqueName } from './zk.js';

export const invalidNames: readonly string[] = [
  '',
  '/',
  '/a/',
  'a/',
  '/a//b',
  '/a/./b',
  '/a/../b',
  '..',
  'bad\u0000name',
  'bad\u0007name',
  '/zookeeper/x',
];

/** The session id and password behind a connection, for the forced-expiry trick. */
export function credentials(connection: ZooKeeperConnection): { sessionId: Buffer; sessionPassword: Buffer } {
  const session = connection.current;
  if (!session) throw new Error('the connection has no session right now');
  return { sessionId: session.client.sessionIdBytes, sessionPassword: session.client.sessionPassword };
}

export interface ZkConformanceBackend extends ConformanceBackend {
  readonly cluster: Cluster;
}

/**
 * `alternate`: the handles of one election reach one server each, in turn
 * the first member and the last (with `laggingFollowerMs`, the lagging
 * follower and a current server), rather than the one their client picks: a
 * reading on one handle of another's change then meets the lag in most tests.
 */
export function zkBackend(cluster: Cluster, backendOptions: { alternate?: boolean; label?: string } = {}): ZkConformanceBackend {
  const label = backendOptions.label ?? (cluster.members.length === 1 ? 'standalone' : `${cluster.members.length}-node ensemble`);
  const handlesOf = new Map<string, number>();
  const pick = (electionName: string, endpoints: readonly string[]): string => {
    const index = handlesOf.get(electionName) ?? 0;
    handlesOf.set(electionName, index + 1);
    return index % 2 === 0 ? endpoints[0]! : endpoints[endpoints.length - 1]!;
  };
  return {
    cluster,
    name: `zookeeper (${label})`,
    sessionTimeoutMs,
    timing: timingBase,
    invalidNames,
    uniqueName: () => uniqueName('conformance'),
    async open(electionName: string, options: OpenOptions = {}): Promise<ConformanceHandle> {
      latchPath(electionName); // an invalid name fails here, before any proxy or session exists
      const proxies = await proxyCluster(cluster);
      let connection: ZooKeeperConnection | undefined;
      let election: Election;
      try {
        const servers = backendOptions.alternate ? pick(electionName, proxies.endpoints) : proxies.connectString;
        connection = await connect(servers, options.logger ? { logger: options.logger } : {});
        election = connection.election(electionName);
      } catch (error) {
        await connection?.close();
        await proxies.close();
        throw error;
      }
      const opened = connection;
      let closed: Promise<void> | undefined;
      return {
        election,
        another: (name) => opened.election(name),
        expire: () => expireSession(cluster.connectString, credentials(opened)),
        cut: async () => proxies.blackhole(),
        heal: async () => proxies.heal(),
        close: () =>
          (closed ??= (async () => {
            try {
              await election.close();
              await opened.close();
            } finally {
              await proxies.close();
            }
          })()),
      };
    },
    async deleteEntry(key: string): Promise<void> {
      // As an operator forcing a failover would: from outside, at any version.
      const client = await rawClient(cluster.connectString);
      try {
        await new Promise<void>((resolve, reject) => client.remove(key, -1, (error) => (error ? reject(error) : resolve())));
      } finally {
        client.close();
      }
    },
    async residue(electionName: string): Promise<string[]> {
      const client = await rawClient(cluster.connectString);
      try {
        return await children(client, latchPath(electionName));
      } finally {
        client.close();
      }
    },
  };
}
