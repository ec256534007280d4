/**
 * etcd in containers: one member or a 3-member cluster, configured only by
 * command-line flags, so the official etcd image and equivalents built
 * offline both work. Also the raft timing every etcd of ours runs with, and
 * what a test asks a member over its JSON gateway: health, status, the
 * leader, and revoking a lease.
 */
import http from 'node:http';
import { startContainerCluster, type MemberPlan } from './cluster.js';
import { etcdImage } from './engine.js';
import { freePorts, retryOnPortClash } from './ports.js';
import { scaled, waitUntil } from './timing.js';
import type { Cluster, EtcdOptions, Member } from './types.js';

/**
 * The raft timing every member gets, in both runtimes: etcd's own defaults,
 * passed explicitly so that budgets derived from them (`etcdTiming`) are what
 * the servers run with. `extraArgs` may override them.
 */
export const ETCD_RAFT = { heartbeatIntervalMs: 100, electionTimeoutMs: 1000 } as const;

/** The command-line flags for ETCD_RAFT. */
export const ETCD_RAFT_FLAGS: readonly string[] = [
  `--heartbeat-interval=${ETCD_RAFT.heartbeatIntervalMs}`,
  `--election-timeout=${ETCD_RAFT.electionTimeoutMs}`,
];

/** How long a cluster takes to do what it does after a fault, from its raft timing (base ms, for the timing helpers). */
export interface EtcdTiming {
  /**
   * Until a member acts on a lost peer: a follower that hears no leader
   * campaigns after a randomized election timeout (below twice the setting),
   * and a leader that hears no quorum steps down after one (check-quorum).
   */
  lossDetectionMs: number;
  /** One election: a campaign, and after a split vote another randomized election timeout. */
  electionMs: number;
  /** From the leader being lost to a leader again: detection, then an election. */
  recoveryMs: number;
}

/** The timing of a cluster started here (or by elect's harness, with the same flags). */
export function etcdTiming(): EtcdTiming {
  const lossDetectionMs = 2 * ETCD_RAFT.electionTimeoutMs;
  const electionMs = 2 * ETCD_RAFT.electionTimeoutMs;
  return { lossDetectionMs, electionMs, recoveryMs: lossDetectionMs + electionMs };
}

type Target = Member | { host: string; port: number };

/** One plain-HTTP request to a member's client port (the JSON gateway); rejects on error, timeout or non-2xx. */
async function request(target: Target, method: 'GET' | 'POST', urlPath: string, timeoutMs: number, body: object = {}): Promise<unknown> {
  const host = target.host;
  const port = 'clientPort' in target ? target.clientPort : target.port;
  return await new Promise((resolve, reject) => {
    const req = http.request(
      { host, port, method, path: urlPath, agent: false, timeout: scaled(timeoutMs), headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          if ((res.statusCode ?? 0) >= 300) reject(new Error(`${method} ${urlPath} on ${host}:${port}: ${res.statusCode} ${text}`));
          else {
            try {
              resolve(JSON.parse(text));
            } catch (error) {
              reject(error as Error);
            }
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath} on ${host}:${port} timed out`)));
    req.on('error', reject);
    req.end(method === 'POST' ? JSON.stringify(body) : undefined);
  });
}

/** True when `GET /health` on the member says `"health":"true"` (it has a leader and serves). */
export async function etcdHealthy(target: Target, options: { timeoutMs?: number } = {}): Promise<boolean> {
  const body = (await request(target, 'GET', '/health', options.timeoutMs ?? 1000)) as { health?: string };
  return body.health === 'true';
}

export interface EtcdMemberStatus {
  /** This member's id (decimal string, as etcd's JSON gateway prints uint64). */
  memberId: string;
  /** The id of the member this one believes leads ("0" when it knows none). */
  leader: string;
  raftTerm: bigint;
}

/** The maintenance status of one member (`POST /v3/maintenance/status`). */
export async function etcdStatus(target: Target, options: { timeoutMs?: number } = {}): Promise<EtcdMemberStatus> {
  const body = (await request(target, 'POST', '/v3/maintenance/status', options.timeoutMs ?? 1000)) as {
    header: { member_id: string };
    leader?: string;
    raftTerm?: string;
  };
  return { memberId: body.header.member_id, leader: body.leader ?? '0', raftTerm: BigInt(body.raftTerm ?? '0') };
}

/**
 * Revokes a lease, as an operator's `etcdctl lease revoke` would: every key
 * attached to it goes at once, and its holder learns on its next keepalive.
 * `lease`: a bigint, or hex as etcdctl and elect's logs print it (with or
 * without `0x`). Rejects if the member refuses (e.g. the lease is already
 * gone).
 */
export async function revokeLease(target: Target, lease: bigint | string, options: { timeoutMs?: number } = {}): Promise<void> {
  const id = typeof lease === 'bigint' ? lease : BigInt(/^0x/i.test(lease) ? lease : `0x${lease}`);
  // The gateway reads the id as an int64, in decimal.
  await request(target, 'POST', '/v3/lease/revoke', options.timeoutMs ?? 5000, { ID: BigInt.asIntN(64, id).toString() });
}

/**
 * The running member that leads: it reports itself as leader. After a
 * failure an old leader may still believe it leads for an election timeout,
 * so the one with the highest raft term wins; polls until there is one.
 */
export async function etcdLeader(members: readonly Member[]): Promise<Member> {
  return await waitUntil(
    async () => {
      const running = members.filter((member) => member.running);
      const statuses = await Promise.all(running.map((member) => etcdStatus(member).catch(() => undefined)));
      let best: { member: Member; term: bigint } | undefined;
      running.forEach((member, i) => {
        const status = statuses[i];
        if (status === undefined || status.memberId !== status.leader) return;
        if (best === undefined || status.raftTerm > best.term) best = { member, term: status.raftTerm };
      });
      return best?.member;
    },
    { timeoutMs: 30_000, what: 'an etcd member to lead' },
  );
}


/**
 * Starts the members and resolves once every one serves a linearizable read.
 * Ports come from the OS; if another process takes one before a member binds
 * it, the cluster is started again on fresh ports.
 */
export async function startEtcdContainer(opts: EtcdOptions = {}): Promise<Cluster> {
  return await retryOnPortClash(() => startOnce(opts));
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
    image: opts.image ?? etcdImage(),
    members: plans,
    connectString: members.map((m) => m.clientUrl).join(','),
    endpoints: members.map((m) => m.clientUrl),
    // The same rule as for local processes: the running member that reports
    // itself leader at the highest raft term (a paused one cannot answer).
    serverLeader: (all) => etcdLeader(all),
  });
}
