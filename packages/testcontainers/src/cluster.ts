/**
 * What ZooKeeper and etcd clusters in containers share: starting the member
 * containers (host networking, labelled, watched), waiting until they serve,
 * and removing everything on close().
 */
import { randomUUID } from 'node:crypto';
import type { ContainerRuntimeClient } from 'testcontainers';
import { engineEndpoint, imageHint, runtimeClient } from './engine.js';
import { ContainerMember, START_TIMEOUT_MS } from './member.js';
import { scaled } from './timing.js';
import type { Cluster, Member, ServerKind } from './types.js';
import { startWatchdog, type Watchdog } from './watchdog.js';

/** Labels on every container started here (`docker ps --filter label=org.elect.test`). */
export const LABEL_TEST = 'org.elect.test';
export const LABEL_RUN = 'org.elect.test.run';
export const LABEL_CLUSTER = 'org.elect.test.cluster';

/** Identifies this test process's containers; set ELECT_TEST_RUN_ID to group several processes. */
const runId = process.env.ELECT_TEST_RUN_ID || `${process.pid}-${Date.now().toString(36)}`;

export interface MemberPlan {
  name: string;
  clientPort: number;
  env?: Record<string, string>;
  command?: string[];
  probe: () => Promise<void>;
}

export interface ClusterPlan {
  kind: ServerKind;
  image: string;
  members: MemberPlan[];
  connectString: string;
  endpoints: string[];
  serverLeader: (members: readonly ContainerMember[]) => Promise<Member>;
}

export class ContainerCluster implements Cluster {
  readonly runtime = 'container' as const;
  readonly kind: ServerKind;
  readonly connectString: string;
  readonly endpoints: readonly string[];
  readonly #members: ContainerMember[];
  readonly #watchdog: Watchdog;
  readonly #serverLeader: ClusterPlan['serverLeader'];
  #closing: Promise<void> | undefined;

  readonly #sweep: () => Promise<void>;

  constructor(plan: ClusterPlan, members: ContainerMember[], watchdog: Watchdog, sweep: () => Promise<void>) {
    this.kind = plan.kind;
    this.#sweep = sweep;
    this.connectString = plan.connectString;
    this.endpoints = plan.endpoints;
    this.#members = members;
    this.#watchdog = watchdog;
    this.#serverLeader = plan.serverLeader;
  }

  get members(): readonly ContainerMember[] {
    return this.#members;
  }

  serverLeader(): Promise<Member> {
    return this.#serverLeader(this.#members);
  }

  /** Every running member that is not paused answers a real request. */
  async waitServing(): Promise<void> {
    await Promise.all(this.#members.filter((m) => m.running && !m.paused).map((m) => m.waitServing()));
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await Promise.all(this.#members.map((m) => m.remove()));
        // Also any container whose start failed half-way.
        await this.#sweep();
      } finally {
        this.#watchdog.release();
      }
    })();
    return this.#closing;
  }
}

/**
 * Starts every member's container at once, then waits until all serve. On
 * any failure everything started so far is removed and the error carries the
 * members' last log lines.
 */
export async function startContainerCluster(plan: ClusterPlan): Promise<ContainerCluster> {
  const client = await runtimeClient();
  const clusterId = randomUUID();
  const watchdog = startWatchdog(`${LABEL_CLUSTER}=${clusterId}`, engineEndpoint(client));
  const members: ContainerMember[] = [];
  const sweep = () => removeLabelled(client, `${LABEL_CLUSTER}=${clusterId}`);
  const cluster = new ContainerCluster(plan, members, watchdog, sweep);
  try {
    const started = await Promise.allSettled(
      plan.members.map((m) => startMember(client, plan, m, clusterId)),
    );
    for (const result of started) if (result.status === 'fulfilled') members.push(result.value);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw await imageHint(client, plan.image, failed.reason);
    await cluster.waitServing();
    return cluster;
  } catch (err) {
    await cluster.close().catch(() => {});
    throw err;
  }
}

async function startMember(
  client: ContainerRuntimeClient,
  plan: ClusterPlan,
  m: MemberPlan,
  clusterId: string,
): Promise<ContainerMember> {
  const { GenericContainer } = await import('testcontainers');
  let container = new GenericContainer(plan.image)
    .withName(`elect-${m.name}-${clusterId.slice(0, 8)}`)
    // Host networking: every server listens on 127.0.0.1 at a port the OS
    // gave this process; no bridge, no private-range addresses.
    .withNetworkMode('host')
    .withLabels({ [LABEL_TEST]: 'true', [LABEL_RUN]: runId, [LABEL_CLUSTER]: clusterId })
    .withEnvironment(m.env ?? {})
    .withStartupTimeout(scaled(START_TIMEOUT_MS));
  if (m.command) container = container.withCommand(m.command);
  const started = await container.start();
  return new ContainerMember({
    name: m.name,
    clientPort: m.clientPort,
    client,
    container: client.container.getById(started.getId()),
    probe: m.probe,
  });
}

/** Removes every container (running or not) that carries `label` (`key=value`). */
async function removeLabelled(client: ContainerRuntimeClient, label: string): Promise<void> {
  const docker = client.container.dockerode;
  const found = await docker.listContainers({ all: true, filters: { label: [label] } });
  await Promise.all(
    found.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => {}),
    ),
  );
}
