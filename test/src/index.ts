/**
 * The real-server harness: ZooKeeper and etcd as local processes or
 * containers (see runtime.ts), and the faults integration tests inject. The
 * containers, the faults that need no local process (proxies, session
 * expiry, lease revocation) and the servers' settings and timing are
 * @elect/testcontainers, the public package users test with; this adds the
 * local-process runtime, network namespaces, and the runtime choice.
 */
export * from '@elect/testcontainers';
export { type RuntimeChoice, partitionSkipReason, requestedRuntime, selectedRuntime, startEtcd, startZooKeeper } from './runtime.js';
export { type ProcessRuntimeOptions, ProcessCluster } from './process-cluster.js';
export { ProcessMember, logTail } from './member.js';
export { type ProcessZooKeeperOptions, startZooKeeperProcess } from './zookeeper.js';
export { type ProcessEtcdOptions, startEtcdProcess } from './etcd.js';
export { BRIDGE_ADDRESS, type Endpoint, NetworkNamespace, innerHost } from './netns.js';
export { Janitor } from './janitor.js';
export { type LogRecord, RecordingLogger, campaignRounds, uniqueName } from './kit.js';
export { type AnonymousZk, type Certificates, type TlsMember, anonymousZk, digestOnlyZnode, enableEtcdAuth, makeCertificates, startTlsEtcd } from './security.js';
