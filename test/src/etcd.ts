/**
 * etcd as local processes: one member or a 3-member cluster of `/usr/bin/etcd`,
 * each with its own data directory and client/peer ports from the OS. Ready
 * means `/health` says true (the member has a leader and answers), and the
 * server-side leader comes from the maintenance status API.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Janitor } from './janitor.js';
import { ProcessMember } from './member.js';
import { NetworkNamespace } from './netns.js';
import { freePorts } from './ports.js';
import { type ProcessRuntimeOptions, ProcessCluster, launchAll, retryOnPortClash } from './process-cluster.js';
import { scaled, waitUntil } from './timing.js';
import type { EtcdOptions, Member } from './types.js';

export type ProcessEtcdOptions = EtcdOptions & ProcessRuntimeOptions;

const ETCD = process.env.ELECT_TEST_ETCD ?? '/usr/bin/etcd';

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

/** The timing of a cluster started by this harness. */
export function etcdTiming(): EtcdTiming {
  const lossDetectionMs = 2 * ETCD_RAFT.electionTimeoutMs;
  const electionMs = 2 * ETCD_RAFT.electionTimeoutMs;
  return { lossDetectionMs, electionMs, recoveryMs: lossDetectionMs + electionMs };
}

type Target = Member | { host: string; port: number };

/** One plain-HTTP request to a member's client port (the JSON gateway); rejects on error, timeout or non-2xx. */
async function request(target: Target, method: 'GET' | 'POST', urlPath: string, timeoutMs: number): Promise<unknown> {
  const host = target.host;
  const port = 'clientPort' in target ? target.clientPort : target.port;
  return await new Promise((resolve, reject) => {
    const req = http.request(
      { host, port, method, path: urlPath, agent: false, timeout: scaled(timeoutMs), headers: { 'content-type': 'application/json' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          if ((res.statusCode ?? 0) >= 300) reject(new Error(`${method} ${urlPath} on ${host}:${port}: ${res.statusCode} ${body}`));
          else {
            try {
              resolve(JSON.parse(body));
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
    req.end(method === 'POST' ? '{}' : undefined);
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

async function startOnce(options: ProcessEtcdOptions): Promise<ProcessCluster> {
  const size = options.size ?? 1;
  if (size !== 1 && size !== 3) throw new Error(`etcd size must be 1 or 3, got ${String(size)}`);
  const netns = options.netns;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elect-test-etcd-'));
  const janitor = await Janitor.start(`etcd in ${dir}`).catch((error: unknown) => {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  janitor.removeAtEnd(dir);
  const bridges: Array<{ close(): Promise<void> }> = [];
  try {
    const ports = await freePorts(size * 2);
    const peers = [];
    for (let i = 0; i < size; i++) {
      const host = netns ? await netns.allocateAddress() : '127.0.0.1';
      peers.push({ name: `etcd${i + 1}`, host, clientPort: ports[i * 2]!, peerPort: ports[i * 2 + 1]! });
    }
    const initialCluster = peers.map((p) => `${p.name}=http://${p.host}:${p.peerPort}`).join(',');
    // A fresh token per cluster: a member of some other test's cluster that reused a port is not let in.
    const token = `elect-${randomBytes(6).toString('hex')}`;
    let outer = peers.map((peer) => ({ host: peer.host, port: peer.clientPort }));
    if (netns) {
      fs.chmodSync(dir, 0o755); // members run as their own uids (see netns.ts)
      const bridge = await netns.bridge(outer);
      bridges.push(bridge);
      outer = bridge.proxies.map((proxy) => ({ host: proxy.host, port: proxy.port }));
    }
    const members = peers.map((peer, i) => {
      const memberDir = path.join(dir, peer.name);
      fs.mkdirSync(memberDir);
      const clientUrl = `http://${peer.host}:${peer.clientPort}`;
      const peerUrl = `http://${peer.host}:${peer.peerPort}`;
      let command = ETCD;
      let args = [
        `--name=${peer.name}`,
        `--data-dir=${path.join(memberDir, 'data')}`,
        `--listen-client-urls=${clientUrl}`,
        `--advertise-client-urls=${clientUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=${initialCluster}`,
        '--initial-cluster-state=new',
        `--initial-cluster-token=${token}`,
        '--logger=zap',
        '--log-outputs=stderr',
        ...ETCD_RAFT_FLAGS,
        ...(options.extraArgs ?? []),
      ];
      if (netns) {
        const uid = NetworkNamespace.uidFor(peer.host);
        fs.chownSync(memberDir, uid, uid);
        ({ command, args } = netns.wrap(command, args, peer.host));
      }
      const member: ProcessMember = new ProcessMember({
        name: peer.name,
        host: outer[i]!.host,
        clientPort: outer[i]!.port,
        innerHost: peer.host,
        innerPort: peer.clientPort,
        dir: memberDir,
        log: path.join(memberDir, 'server.log'),
        janitor,
        command,
        args,
        probe: () => etcdHealthy(member),
        startTimeoutMs: options.startTimeoutMs ?? 30_000,
      });
      return member;
    });
    const cluster = new ProcessCluster({
      kind: 'etcd',
      members,
      janitor,
      endpoints: outer.map((o) => `http://${o.host}:${o.port}`),
      innerEndpoints: peers.map((peer) => `http://${peer.host}:${peer.clientPort}`),
      bridges,
      netns,
      serverLeader: () => etcdLeader(members),
    });
    return await launchAll(cluster);
  } catch (error) {
    await Promise.allSettled(bridges.map((bridge) => bridge.close()));
    await janitor.close();
    throw error;
  }
}

/** Starts etcd processes and resolves once every member is healthy. */
export async function startEtcdProcess(options: ProcessEtcdOptions = {}): Promise<ProcessCluster> {
  return await retryOnPortClash(() => startOnce(options));
}
