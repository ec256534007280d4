/**
 * @elect/zk — leader election on ZooKeeper, wire-compatible with Apache
 * Curator's LeaderLatch, with loss decided on our own clock.
 *
 *     await using zk = await connectZooKeeper({ connectString: 'zk1:2181,zk2:2181' });
 *     const election = zk.election('/services/billing/leader');
 *     await using leadership = await election.campaign({ id: 'host-a' });
 *     await work({ signal: leadership.signal, token: leadership.token });
 */
export { connectZooKeeper, ZooKeeperConnection } from './connection.js';
export type { ZooKeeperElection, ZooKeeperElectionOptions } from './election.js';
export { type ZooKeeperAcl, type ZooKeeperConnectionOptions } from './options.js';
export { defaultRoot, latchPath } from './names.js';
export { steadyLeadMs } from './pacing.js';
