/**
 * etcd as local processes: one member or a 3-member cluster of `/usr/bin/etcd`,
 * each with its own data directory and client/peer ports from the OS. Ready
 * means `/health` says true (the member has a leader and answers), and the
 * server-side leader comes from the maintenance status API.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Janitor } from './janitor.js';
import { ProcessMember } from './member.js';
import { NetworkNamespace } from './netns.js';
import { type ProcessRuntimeOptions, ProcessCluster, launchAll } from './process-cluster.js';
import { ETCD_RAFT_FLAGS, type EtcdOptions, etcdHealthy, etcdLeader, freePorts, retryOnPortClash } from '@elect/testcontainers';

export type ProcessEtcdOptions = EtcdOptions & ProcessRuntimeOptions;

const ETCD = process.env.ELECT_TEST_ETCD ?? '/usr/bin/etcd';

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
