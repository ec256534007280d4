/**
 * ZooKeeper in containers: a standalone server or a 3-node ensemble, each
 * server configured only through the official image's ZOO_* variables, so
 * the official `zookeeper` image and ours (docker/build-images.sh) both work.
 */
import { zooKeeperMode } from '../fourletter.js';
import { freePorts, isPortClash } from '../ports.js';
import type { Cluster, ZooKeeperOptions } from '../types.js';
import { ZOOKEEPER_DEFAULTS, ensembleOf, zooKeeperElectionJvmFlags, zooKeeperLeader } from '../zookeeper.js';
import { startContainerCluster, type MemberPlan } from './cluster.js';
import { zooKeeperImage } from './engine.js';

/** Four-letter words tests and the harness may use. */
const FOUR_LETTER_WORDS = 'srvr,stat,mntr,ruok,cons,wchs,wchc,dump,conf';

/** A small heap and a fast-starting JIT: these servers hold little data and live briefly; the election as in ../zookeeper.ts. */
const JVM_FLAGS = '-Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData';

/**
 * Starts the servers and resolves once every one serves. Ports come from the
 * OS; if another process takes one before a server binds it, the cluster is
 * started once more on fresh ports.
 */
export async function startZooKeeperContainer(opts: ZooKeeperOptions = {}): Promise<Cluster> {
  try {
    return await startOnce(opts);
  } catch (error) {
    if (!isPortClash(error)) throw error;
    return await startOnce(opts);
  }
}

async function startOnce(opts: ZooKeeperOptions): Promise<Cluster> {
  const size = opts.size ?? ZOOKEEPER_DEFAULTS.size;
  const tickTimeMs = opts.tickTimeMs ?? ZOOKEEPER_DEFAULTS.tickTimeMs;
  const ensemble = ensembleOf(opts);
  const ports = await freePorts(size * 3);
  const servers = Array.from({ length: size }, (_, i) => ({
    id: i + 1,
    name: `zk${i + 1}`,
    clientPort: ports[i * 3]!,
    quorumPort: ports[i * 3 + 1]!,
    electionPort: ports[i * 3 + 2]!,
  }));
  // `server.N=host:quorum:election;clientHost:clientPort`: the client port in
  // the server line is the one form both images understand for every server.
  const serverLines = servers
    .map((s) => `server.${s.id}=127.0.0.1:${s.quorumPort}:${s.electionPort};127.0.0.1:${s.clientPort}`)
    .join(' ');
  // The same server settings as the process runtime (../zookeeper.ts), so a
  // test behaves the same on either.
  const extra = (index: number): string[] => [
    `minSessionTimeout=${opts.minSessionTimeoutMs ?? 2 * tickTimeMs}`,
    `maxSessionTimeout=${opts.members?.[index]?.maxSessionTimeoutMs ?? opts.maxSessionTimeoutMs ?? 60_000}`,
    // Test data is disposable: no fsync, no 64 MB preallocated logs.
    'forceSync=no',
    'preAllocSize=4096',
    `cnxTimeout=${ensemble.cnxTimeoutMs}`,
    ...(opts.maxClientConnections === undefined ? [] : [`maxClientCnxns=${opts.maxClientConnections}`]),
  ];

  const members: MemberPlan[] = servers.map((s, index) => ({
    name: s.name,
    clientPort: s.clientPort,
    env: {
      ZOO_MY_ID: String(s.id),
      ZOO_SERVERS: serverLines,
      ZOO_TICK_TIME: String(tickTimeMs),
      // In ticks: how long followers may take to connect and sync, and to answer.
      ZOO_INIT_LIMIT: String(ensemble.initLimit),
      ZOO_SYNC_LIMIT: String(ensemble.syncLimit),
      ZOO_STANDALONE_ENABLED: 'true',
      // Its HTTP port (8080) would collide between members on the host network.
      ZOO_ADMINSERVER_ENABLED: 'false',
      ZOO_4LW_COMMANDS_WHITELIST: FOUR_LETTER_WORDS,
      ZOO_CFG_EXTRA: extra(index).join(' '),
      JVMFLAGS: [JVM_FLAGS, ...zooKeeperElectionJvmFlags(ensemble)].join(' '),
    },
    probe: async () => {
      if ((await zooKeeperMode({ host: '127.0.0.1', port: s.clientPort })) === undefined) {
        throw new Error(`${s.name} answers but does not serve yet`);
      }
    },
  }));

  return startContainerCluster({
    kind: 'zookeeper',
    image: zooKeeperImage(),
    members,
    connectString: servers.map((s) => `127.0.0.1:${s.clientPort}`).join(','),
    endpoints: servers.map((s) => `127.0.0.1:${s.clientPort}`),
    // The same rule as the process runtime: the one running server that
    // answers `srvr` as leader (a paused one cannot answer).
    serverLeader: (all) => zooKeeperLeader(all),
  });
}
