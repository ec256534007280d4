/**
 * @elect/etcd — leader election on etcd v3, wire-compatible with etcd's Go
 * `concurrency.Election` and `etcdctl elect` (keys `<name>/<lease hex>`,
 * value = proposal, lowest create revision leads).
 *
 *     await using etcd = await connectEtcd({ endpoints: 'http://127.0.0.1:2379', ttlMs: 5000 });
 *     const election = etcd.election('billing');
 *     await using leadership = await election.campaign({ id: 'host-a' });
 *     await work(leadership.signal, leadership.token);
 */
export { connectEtcd, type EtcdConnection } from './connection.js';
export type { EtcdElectionOptions } from './election.js';
export type { EtcdConnectionOptions, EtcdTlsOptions } from './options.js';
export { electionName } from './keys.js';
export { steadyLeadMs } from './pacing.js';
