/**
 * Which runtime serves `startZooKeeper` / `startEtcd`:
 *   ELECT_TEST_RUNTIME=process    local processes (java, /usr/bin/etcd)
 *   ELECT_TEST_RUNTIME=container  containers; no engine is an error
 *   ELECT_TEST_RUNTIME=auto       (default) containers when an engine answers, else processes
 * Options only the process runtime has (a network namespace) always select it.
 */
import { type ProcessEtcdOptions, startEtcdProcess } from './etcd.js';
import { NetworkNamespace } from './netns.js';
import type { ProcessCluster } from './process-cluster.js';
import { type ProcessZooKeeperOptions, startZooKeeperProcess } from './zookeeper.js';
import { type Cluster, type Runtime, containerEngineAvailable, startEtcdContainer, startZooKeeperContainer } from '@elect/testcontainers';

export type RuntimeChoice = Runtime | 'auto';

/** The runtime asked for by `ELECT_TEST_RUNTIME`; throws on an unknown value. */
export function requestedRuntime(): RuntimeChoice {
  const raw = (process.env.ELECT_TEST_RUNTIME ?? 'auto').trim() || 'auto';
  if (raw === 'process' || raw === 'container' || raw === 'auto') return raw;
  throw new Error(`ELECT_TEST_RUNTIME must be process, container or auto, got ${JSON.stringify(raw)}`);
}

let selected: Promise<Runtime> | undefined;

/** The runtime this test process uses, decided once (auto asks the container engine). */
export async function selectedRuntime(): Promise<Runtime> {
  selected ??= (async (): Promise<Runtime> => {
    const requested = requestedRuntime();
    if (requested !== 'auto') return requested;
    // No engine answering is what auto is for.
    return (await containerEngineAvailable()) ? 'container' : 'process';
  })();
  return await selected;
}

function processOnly(what: string): void {
  if (requestedRuntime() === 'container') {
    throw new Error(`${what} needs the process runtime, but ELECT_TEST_RUNTIME=container`);
  }
}

/** Starts ZooKeeper (standalone by default) in the selected runtime; resolves once it serves. */
export async function startZooKeeper(options: ProcessZooKeeperOptions & { netns: NetworkNamespace }): Promise<ProcessCluster>;
export async function startZooKeeper(options?: ProcessZooKeeperOptions): Promise<Cluster>;
export async function startZooKeeper(options: ProcessZooKeeperOptions = {}): Promise<Cluster> {
  if (options.netns !== undefined) processOnly('ZooKeeper in a network namespace');
  if (options.laggingFollowerMs !== undefined) processOnly('a ZooKeeper ensemble with a lagging follower');
  if (options.netns === undefined && options.laggingFollowerMs === undefined && (await selectedRuntime()) === 'container') {
    return await startZooKeeperContainer(options);
  }
  return await startZooKeeperProcess(options);
}

/** Starts etcd (one member by default) in the selected runtime; resolves once it serves. */
export async function startEtcd(options: ProcessEtcdOptions & { netns: NetworkNamespace }): Promise<ProcessCluster>;
export async function startEtcd(options?: ProcessEtcdOptions): Promise<Cluster>;
export async function startEtcd(options: ProcessEtcdOptions = {}): Promise<Cluster> {
  if (options.netns !== undefined) processOnly('etcd in a network namespace');
  if (options.netns === undefined && (await selectedRuntime()) === 'container') {
    return await startEtcdContainer(options);
  }
  return await startEtcdProcess(options);
}

/**
 * Why partition tests (network namespaces, process runtime only) cannot run
 * here, for a `describe.skip` message; undefined when they can.
 */
export function partitionSkipReason(): string | undefined {
  if (requestedRuntime() === 'container') return 'network namespaces need the process runtime (ELECT_TEST_RUNTIME=container)';
  return NetworkNamespace.unavailableReason();
}
