/**
 * The real-server harness: ZooKeeper and etcd as local processes or
 * containers (see runtime.ts), and the faults integration tests inject.
 */
export type { Cluster, EtcdOptions, Member, Runtime, ServerKind, ZooKeeperEnsemble, ZooKeeperOptions } from './types.js';
export { type RuntimeChoice, partitionSkipReason, requestedRuntime, selectedRuntime, startEtcd, startZooKeeper } from './runtime.js';
export { type ProcessRuntimeOptions, ProcessCluster } from './process-cluster.js';
export { ProcessMember, logTail } from './member.js';
export {
  type ProcessZooKeeperOptions,
  type ZooKeeperTiming,
  ZOOKEEPER_DEFAULTS,
  ZOOKEEPER_ENSEMBLE,
  ZOOKEEPER_SERVER_DEFAULTS,
  ensembleOf,
  startZooKeeperProcess,
  zooKeeperLeader,
  zooKeeperLeaderNow,
  zooKeeperTiming,
} from './zookeeper.js';
export {
  type EtcdMemberStatus,
  type EtcdTiming,
  type ProcessEtcdOptions,
  ETCD_RAFT,
  etcdHealthy,
  etcdLeader,
  etcdStatus,
  etcdTiming,
  startEtcdProcess,
} from './etcd.js';
export {
  type FourLetterTarget,
  type FourLetterWord,
  type ZooKeeperMode,
  fourLetter,
  parseMode,
  parseWatchCount,
  watchCount,
  zooKeeperMode,
} from './fourletter.js';
export { type ClusterProxies, type Proxy, type ProxyMode, type ProxyOptions, type ProxyTarget, proxyCluster, startProxy } from './proxy.js';
export { type SessionCredentials, type SessionHolder, expireSession, expireSessionById, sessionPassword } from './expiry.js';
export { BRIDGE_ADDRESS, type Endpoint, NetworkNamespace, innerHost } from './netns.js';
export { TimeoutError, type WaitOptions, scaled, timingBase, waitUntil, withTimeout } from './timing.js';
export { freePort, freePorts, isPortClash } from './ports.js';
export { Janitor } from './janitor.js';
export { type LogRecord, RecordingLogger, uniqueName } from './kit.js';
