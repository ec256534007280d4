/**
 * What the process runtime's ZooKeeper and etcd clusters share: members under
 * one janitor (watchdog), one temp directory, optional bridges into a network
 * namespace, and a `close()` that leaves nothing behind.
 */
import { Janitor } from './janitor.js';
import type { ProcessMember } from './member.js';
import type { NetworkNamespace } from './netns.js';
import type { Cluster, Member, ServerKind } from '@elect/testcontainers';

/** Options the process runtime adds to `ZooKeeperOptions` / `EtcdOptions`. */
export interface ProcessRuntimeOptions {
  /**
   * Run every member inside this network namespace (root only), each on its
   * own loopback address (127.0.0.2, .3, …), so that `netns.partition()` /
   * `netns.isolate()` can cut them apart. The test process reaches them
   * through bridges: `members[i].host`/`clientPort` and `connectString` are
   * the bridges, `innerConnectString` is the addresses inside the namespace.
   */
  netns?: NetworkNamespace;
  /** Base budget (scaled) for the cluster to serve after start; default 30 s. */
  startTimeoutMs?: number;
}

export interface ProcessClusterParts {
  kind: ServerKind;
  members: ProcessMember[];
  janitor: Janitor;
  endpoints: string[];
  innerEndpoints: string[];
  /** Bridges into the network namespace, closed with the cluster. */
  bridges: Array<{ close(): Promise<void> }>;
  netns: NetworkNamespace | undefined;
  serverLeader: () => Promise<Member>;
}

export class ProcessCluster implements Cluster {
  readonly kind: ServerKind;
  readonly runtime = 'process' as const;
  readonly members: readonly ProcessMember[];
  readonly endpoints: readonly string[];
  /** Endpoints inside the network namespace (equal to `endpoints` without one). */
  readonly innerEndpoints: readonly string[];
  readonly netns: NetworkNamespace | undefined;
  readonly #parts: ProcessClusterParts;
  #closing: Promise<void> | undefined;

  constructor(parts: ProcessClusterParts) {
    this.#parts = parts;
    this.kind = parts.kind;
    this.members = parts.members;
    this.endpoints = parts.endpoints;
    this.innerEndpoints = parts.innerEndpoints;
    this.netns = parts.netns;
  }

  get connectString(): string {
    return this.endpoints.join(',');
  }

  /** The connect string for clients inside the network namespace (`NetworkNamespace.spawn`). */
  get innerConnectString(): string {
    return this.innerEndpoints.join(',');
  }

  async serverLeader(): Promise<Member> {
    return await this.#parts.serverLeader();
  }

  async waitServing(): Promise<void> {
    await Promise.all(this.members.filter((member) => member.running).map((member) => member.waitReady()));
  }

  /**
   * SIGKILLs every member (the data is thrown away, so a graceful stop would
   * only cost time), closes the bridges, and lets the watchdog remove the
   * directory. Idempotent; safe after a failed start.
   */
  async close(): Promise<void> {
    this.#closing ??= (async () => {
      const results = await Promise.allSettled([
        ...this.members.map((member) => member.kill()),
        ...this.#parts.bridges.map((bridge) => bridge.close()),
      ]);
      await this.#parts.janitor.close();
      const failed = results.find((result) => result.status === 'rejected');
      if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    })();
    await this.#closing;
  }
}

/** Launches every member, then waits until all serve; on failure closes what started and rethrows. */
export async function launchAll(cluster: ProcessCluster): Promise<ProcessCluster> {
  try {
    await Promise.all(cluster.members.map((member) => member.launch()));
    await cluster.waitServing();
    return cluster;
  } catch (error) {
    await cluster.close().catch(() => {});
    throw error;
  }
}
