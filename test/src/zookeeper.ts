/**
 * ZooKeeper as local processes: a standalone server or a 3-node ensemble,
 * each `java … QuorumPeerMain zoo.cfg` with its own data directory and ports
 * from the OS. Ready means `srvr` reports a serving mode, not "the JVM started".
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Janitor } from './janitor.js';
import { ProcessMember } from './member.js';
import { NetworkNamespace } from './netns.js';
import { type ProcessRuntimeOptions, ProcessCluster, launchAll } from './process-cluster.js';
import {
  type ZooKeeperOptions,
  ZOOKEEPER_DEFAULTS,
  ensembleOf,
  freePorts,
  retryOnPortClash,
  startProxy,
  zooKeeperElectionJvmFlags,
  zooKeeperLeader,
  zooKeeperMode,
} from '@elect/testcontainers';

export type ProcessZooKeeperOptions = ZooKeeperOptions &
  ProcessRuntimeOptions & {
    /**
     * An ensemble whose first server (zk1, which never leads: with the same
     * data every other vote beats its lower id, and it only ever has what
     * the others sent it) hears the others this much later: its
     * links to their quorum ports go through proxies that delay what they
     * send it. It applies every commit that much after the quorum, so its
     * clients read a copy that trails — as far as ZooKeeper allows, without
     * the chance a test otherwise needs to see it.
     */
    laggingFollowerMs?: number;
  };

const JAVA_DIR = '/usr/share/java';
// The server needs only these; slf4j-simple logs to stderr, which goes to the member's log file.
const JARS = ['zookeeper.jar', 'zookeeper-jute.jar', 'slf4j-api.jar', 'slf4j-simple.jar'];

function classpath(): string {
  const override = process.env.ELECT_TEST_ZK_CLASSPATH;
  if (override) return override;
  const jars = JARS.map((jar) => path.join(JAVA_DIR, jar));
  const missing = jars.filter((jar) => !fs.existsSync(jar));
  if (missing.length > 0) {
    throw new Error(`ZooKeeper jars missing (${missing.join(', ')}): install Debian's zookeeper package or set ELECT_TEST_ZK_CLASSPATH`);
  }
  return jars.join(':');
}

// A small heap, serial GC, C1 only and no perf-data file: a test server starts
// in well under a second and three fit on a two-core machine.
const JVM_FLAGS = ['-Xms32m', '-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-XX:-UsePerfData', '-Djava.net.preferIPv4Stack=true'];

interface Peer {
  id: number;
  host: string;
  clientPort: number;
  quorumPort: number;
  electionPort: number;
}

function config(options: ProcessZooKeeperOptions, peer: Peer, peers: Peer[], dataDir: string, quorumOf: (p: Peer) => string): string {
  const tick = options.tickTimeMs ?? ZOOKEEPER_DEFAULTS.tickTimeMs;
  const ensemble = ensembleOf(options);
  const lines = [
    `tickTime=${tick}`,
    // Followers must connect and sync within initLimit ticks and answer within syncLimit ticks.
    `initLimit=${ensemble.initLimit}`,
    `syncLimit=${ensemble.syncLimit}`,
    `dataDir=${dataDir}`,
    `clientPort=${peer.clientPort}`,
    `clientPortAddress=${peer.host}`,
    'admin.enableServer=false',
    '4lw.commands.whitelist=srvr,mntr,wchs,wchc,cons,ruok,stat',
    `minSessionTimeout=${options.minSessionTimeoutMs ?? 2 * tick}`,
    `maxSessionTimeout=${options.members?.[peers.indexOf(peer)]?.maxSessionTimeoutMs ?? options.maxSessionTimeoutMs ?? 60_000}`,
    // Test data is disposable: no fsync, no 64 MB preallocated logs.
    'forceSync=no',
    'preAllocSize=4096',
    `cnxTimeout=${ensemble.cnxTimeoutMs}`,
    ...(options.maxClientConnections === undefined ? [] : [`maxClientCnxns=${options.maxClientConnections}`]),
  ];
  if (peers.length > 1) {
    for (const p of peers) lines.push(`server.${p.id}=${quorumOf(p)}:${p.electionPort}`);
  }
  return `${lines.join('\n')}\n`;
}

async function startOnce(options: ProcessZooKeeperOptions): Promise<ProcessCluster> {
  const size = options.size ?? ZOOKEEPER_DEFAULTS.size;
  if (size !== 1 && size !== 3) throw new Error(`ZooKeeper size must be 1 or 3, got ${String(size)}`);
  const netns = options.netns;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elect-test-zk-'));
  const janitor = await Janitor.start(`ZooKeeper in ${dir}`).catch((error: unknown) => {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  janitor.removeAtEnd(dir);
  const bridges: Array<{ close(): Promise<void> }> = [];
  try {
    const ports = await freePorts(size * 3);
    const peers: Peer[] = [];
    for (let i = 0; i < size; i++) {
      peers.push({
        id: i + 1,
        host: netns ? await netns.allocateAddress() : '127.0.0.1',
        clientPort: ports[i * 3]!,
        quorumPort: ports[i * 3 + 1]!,
        electionPort: ports[i * 3 + 2]!,
      });
    }
    // zk1's view of the others' quorum ports (see laggingFollowerMs).
    const lagged = new Map<Peer, string>();
    if (options.laggingFollowerMs !== undefined) {
      if (size !== 3 || netns) throw new Error('laggingFollowerMs needs an ensemble of 3, outside a network namespace');
      for (const other of peers.slice(1)) {
        const proxy = await startProxy({ host: other.host, port: other.quorumPort }, { replyDelayMs: options.laggingFollowerMs });
        bridges.push(proxy);
        lagged.set(other, `${proxy.host}:${proxy.port}`);
      }
    }
    let outer = peers.map((peer) => ({ host: peer.host, port: peer.clientPort }));
    if (netns) {
      fs.chmodSync(dir, 0o755); // members run as their own uids (see netns.ts)
      const bridge = await netns.bridge(outer);
      bridges.push(bridge);
      outer = bridge.proxies.map((proxy) => ({ host: proxy.host, port: proxy.port }));
    }
    const cp = classpath();
    const members = peers.map((peer, i) => {
      const memberDir = path.join(dir, `zk${peer.id}`);
      const dataDir = path.join(memberDir, 'data');
      fs.mkdirSync(dataDir, { recursive: true });
      fs.writeFileSync(path.join(dataDir, 'myid'), `${peer.id}\n`);
      const cfg = path.join(memberDir, 'zoo.cfg');
      const quorumOf = (p: Peer): string => (peer === peers[0] && lagged.get(p)) || `${p.host}:${p.quorumPort}`;
      fs.writeFileSync(cfg, config(options, peer, peers, dataDir, quorumOf));
      let command = 'java';
      let args = [...JVM_FLAGS, ...zooKeeperElectionJvmFlags(ensembleOf(options)), '-cp', cp, 'org.apache.zookeeper.server.quorum.QuorumPeerMain', cfg];
      if (netns) {
        const uid = NetworkNamespace.uidFor(peer.host);
        for (const entry of [memberDir, dataDir, path.join(dataDir, 'myid'), cfg]) fs.chownSync(entry, uid, uid);
        ({ command, args } = netns.wrap(command, args, peer.host));
      }
      const member: ProcessMember = new ProcessMember({
        name: `zk${peer.id}`,
        host: outer[i]!.host,
        clientPort: outer[i]!.port,
        innerHost: peer.host,
        innerPort: peer.clientPort,
        dir: memberDir,
        log: path.join(memberDir, 'server.log'),
        janitor,
        command,
        args,
        probe: async () => (await zooKeeperMode(member, { timeoutMs: 1000 })) !== undefined,
        startTimeoutMs: options.startTimeoutMs ?? 30_000,
      });
      return member;
    });
    const cluster = new ProcessCluster({
      kind: 'zookeeper',
      members,
      janitor,
      endpoints: outer.map((o) => `${o.host}:${o.port}`),
      innerEndpoints: peers.map((peer) => `${peer.host}:${peer.clientPort}`),
      bridges,
      netns,
      serverLeader: () => zooKeeperLeader(members),
    });
    return await launchAll(cluster);
  } catch (error) {
    await Promise.allSettled(bridges.map((bridge) => bridge.close()));
    await janitor.close();
    throw error;
  }
}

/** Starts ZooKeeper processes and resolves once every member serves. */
export async function startZooKeeperProcess(options: ProcessZooKeeperOptions = {}): Promise<ProcessCluster> {
  return await retryOnPortClash(() => startOnce(options));
}
