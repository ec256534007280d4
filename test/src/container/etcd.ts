/**
 * etcd in containers: one member or a 3-member cluster, configured only by
 * command-line flags, so the official etcd image and ours
 * (docker/build-images.sh) both work.
 */
import { ETCD_RAFT_FLAGS, etcdHealthy, etcdLeader } from '../etcd.js';
import { freePorts, isPortClash } from '../ports.js';
import type { Cluster, EtcdOptions } from '../types.js';
import { startContainerCluster, type MemberPlan } from './cluster.js';
import { etcdImage } from './engine.js';

/**
 * Starts the members and resolves once every one serves a linearizable read.
 * Ports come from the OS; if another process takes one before a member binds
 * it, the cluster is started once more on fresh ports.
 */
export async function startEtcdContainer(opts: EtcdOptions = {}): Promise<Cluster> {
  try {
    return await startOnce(opts);
  } catch (error) {
    if (!isPortClash(error)) throw error;
    return await startOnce(opts);
  }
}

async function startOnce(opts: EtcdOptions): Promise<Cluster> {
  const size = opts.size ?? 1;
  const ports = await freePorts(size * 2);
  const members = Array.from({ length: size }, (_, i) => {
    const name = `etcd${i + 1}`;
    return {
      name,
      clientPort: ports[i * 2]!,
      clientUrl: `http://127.0.0.1:${ports[i * 2]!}`,
      peerUrl: `http://127.0.0.1:${ports[i * 2 + 1]!}`,
    };
  });
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  // Unique per cluster, so members of two clusters can never join each other.
  const token = `elect-${ports[0]}-${Date.now().toString(36)}`;

  const plans: MemberPlan[] = members.map((m) => ({
    name: m.name,
    clientPort: m.clientPort,
    command: [
      '/usr/local/bin/etcd',
      `--name=${m.name}`,
      // Inside the container's own filesystem: kept across stop/start, gone with the container.
      `--data-dir=/var/lib/etcd/${m.name}`,
      `--listen-client-urls=${m.clientUrl}`,
      `--advertise-client-urls=${m.clientUrl}`,
      `--listen-peer-urls=${m.peerUrl}`,
      `--initial-advertise-peer-urls=${m.peerUrl}`,
      `--initial-cluster=${initialCluster}`,
      `--initial-cluster-token=${token}`,
      '--initial-cluster-state=new',
      '--logger=zap',
      ...ETCD_RAFT_FLAGS,
      // Last, so that they win over the defaults above.
      ...(opts.extraArgs ?? []),
    ],
    // `/health` is true once the member has a leader and answers a quorum read.
    probe: async () => {
      if (!(await etcdHealthy({ host: '127.0.0.1', port: m.clientPort }))) {
        throw new Error(`${m.name} answers but is not healthy yet`);
      }
    },
  }));

  return startContainerCluster({
    kind: 'etcd',
    image: etcdImage(),
    members: plans,
    connectString: members.map((m) => m.clientUrl).join(','),
    endpoints: members.map((m) => m.clientUrl),
    // The same rule as the process runtime: the running member that reports
    // itself leader at the highest raft term (a paused one cannot answer).
    serverLeader: (all) => etcdLeader(all),
  });
}
