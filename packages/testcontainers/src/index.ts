/**
 * ZooKeeper and etcd in containers for integration tests, with the faults a
 * service must survive: cut, blackhole or slow a client's link (`startProxy`),
 * pause, kill and restart members (`Member`), expire a ZooKeeper session
 * (`expireSession`), revoke an etcd lease (`revokeLease`).
 */
export type { Cluster, EtcdOptions, Member, Runtime, ServerKind, ZooKeeperEnsemble, ZooKeeperOptions } from './types.js';
export {
  type ZooKeeperTiming,
  ZOOKEEPER_DEFAULTS,
  ZOOKEEPER_ENSEMBLE,
  ZOOKEEPER_SERVER_DEFAULTS,
  ensembleOf,
  startZooKeeperContainer,
  zooKeeperElectionJvmFlags,
  zooKeeperLeader,
  zooKeeperLeaderNow,
  zooKeeperTiming,
} from './zookeeper.js';
export {
  type EtcdMemberStatus,
  type EtcdTiming,
  ETCD_RAFT,
  ETCD_RAFT_FLAGS,
  etcdHealthy,
  etcdLeader,
  etcdStatus,
  etcdTiming,
  revokeLease,
  startEtcdContainer,
} from './etcd.js';
export { DEFAULT_ETCD_IMAGE, DEFAULT_ZOOKEEPER_IMAGE, containerEngineAvailable, engineEndpoint, etcdImage, runtimeClient, zooKeeperImage } from './engine.js';
export { type EngineEndpoint, type Watchdog, startWatchdog } from './watchdog.js';
export { LABEL_CLUSTER, LABEL_RUN, LABEL_TEST } from './cluster.js';
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
export { TimeoutError, type WaitOptions, scaled, timingBase, waitUntil, withTimeout } from './timing.js';
export { freePort, freePorts, isPortClash, retryOnPortClash } from './ports.js';
