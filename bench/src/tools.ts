/**
 * The candidates `pnpm bench:peers` compares, one entry per tool and backend:
 * how to start one (or, for the programs that can, several in one process),
 * how it is stopped gracefully, and what it cannot do.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SpawnSpec } from './proc.js';

export type Backend = 'zk' | 'etcd';
export type ToolName = 'curator' | 'etcdctl-lock' | 'etcdctl-elect' | 'lib' | 'cli' | 'floor' | 'floor-cli';

export interface Servers {
  zk: string;
  etcd: string;
}

export interface Tool {
  name: ToolName;
  backend: Backend;
  /** Column header of the table. */
  title: string;
  /** Can one process hold many candidates (stdin `resign` then ends one leadership)? */
  multi: boolean;
  /** Who gets the graceful SIGTERM: the tool's process, or its whole group (etcdctl lock does not pass it on to its command). */
  stopTarget: 'pid' | 'group';
  /** A TTL this tool cannot be told (etcdctl elect's session is 60 s), so the crash scenario skips it. */
  fixedTtl?: string;
  /** Measured in the graceful handoff alone (the Node floor: no session, no failover). */
  handoffOnly?: true;
  /** Whether a line it printed says it leads (anything else it prints is not counted). */
  leads(line: string, election: string): boolean;
  /** `ttlMs` (default TTL_MS) is the session timeout / TTL, for the tools that take one. */
  spawn(election: string, candidates: number, ttlMs?: number): SpawnSpec & { env: NodeJS.ProcessEnv };
}

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const TTL_MS = 2000;
/** What the CLI and `etcdctl lock` run while leading: one line, then wait for a signal. */
const PAYLOAD = ['/bin/sh', '-c', 'echo leading; exec sleep 100000'];
const saysLeading = (line: string): boolean => line.startsWith('leading');
/** The bench's environment without ELECT_* (the CLI reads those as flags and refuses unknown ones). */
const ENV = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ELECT_')));

/** The election name for one scenario run of one tool: ZooKeeper latch path or etcd key prefix. */
export function electionName(tool: Tool, scenario: string): string {
  const base = `bench-${tool.name}-${scenario}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  return tool.backend === 'zk' ? `/bench/${base}` : base;
}

const CURATOR_JARS = [
  'curator-client.jar',
  'curator-framework.jar',
  'curator-recipes.jar',
  'zookeeper.jar',
  'zookeeper-jute.jar',
  'guava.jar',
  'failureaccess.jar',
  'slf4j-api.jar',
  'slf4j-nop.jar',
];

/** Compiles the Curator candidate into `dir`; returns its classpath, or why it cannot run. */
export function compileCurator(dir: string): { classpath: string } | { missing: string } {
  const jars = CURATOR_JARS.map((jar) => path.join('/usr/share/java', jar)).filter((jar) => fs.existsSync(jar));
  const needed = ['curator-recipes.jar', 'curator-framework.jar', 'zookeeper.jar'];
  const absent = needed.filter((jar) => !jars.some((found) => found.endsWith(`/${jar}`)));
  if (absent.length > 0) return { missing: `${absent.join(', ')} not in /usr/share/java (Debian's libcurator-*-java)` };
  const classpath = jars.join(':');
  const source = path.join(root, 'bench', 'java', 'LatchCandidate.java');
  try {
    execFileSync('javac', ['-J-XX:-UsePerfData', '-nowarn', '-cp', classpath, '-d', dir, source], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    return { missing: `javac failed: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}` };
  }
  return { classpath: `${dir}:${classpath}` };
}

export function tools(servers: Servers, curatorClasspath: string | undefined): Tool[] {
  const node = process.execPath;
  const elect = path.join(root, 'packages', 'cli', 'bin', 'elect.js');
  const candidate = path.join(here, 'candidate.js');
  const floor = path.join(here, 'floor.js');
  const etcdctl = process.env.ELECT_BENCH_ETCDCTL ?? 'etcdctl';
  const endpoints = servers.etcd.replace(/^http:\/\//, '');
  const list: Tool[] = [];
  if (curatorClasspath !== undefined) {
    list.push({
      name: 'curator',
      backend: 'zk',
      title: 'Curator LeaderLatch',
      multi: true,
      stopTarget: 'pid',
      leads: saysLeading,
      // The JVM's defaults, except no perf-data file in /tmp (it would outlive the run).
      spawn: (election, n, ttlMs = TTL_MS) => ({ command: 'java', args: ['-XX:-UsePerfData', '-cp', curatorClasspath, 'LatchCandidate', servers.zk, election, String(ttlMs), String(n)], env: ENV }),
    });
  }
  list.push(
    {
      name: 'etcdctl-lock',
      backend: 'etcd',
      title: 'etcdctl lock',
      multi: false,
      stopTarget: 'group',
      leads: saysLeading,
      // `--`: etcdctl would take the payload's `-c` for a flag of its own.
      spawn: (election, _n, ttlMs = TTL_MS) => ({ command: etcdctl, args: [`--endpoints=${endpoints}`, 'lock', `--ttl=${Math.round(ttlMs / 1000)}`, election, '--', ...PAYLOAD], env: ENV }),
    },
    {
      name: 'etcdctl-elect',
      backend: 'etcd',
      title: 'etcdctl elect',
      multi: false,
      stopTarget: 'pid',
      fixedTtl: '60 s session, no flag to change it',
      // Once elected it prints its key (NAME/<lease hex>), then the proposal.
      leads: (line, election) => line.startsWith(`${election}/`),
      spawn: (election) => ({ command: etcdctl, args: [`--endpoints=${endpoints}`, 'elect', election, `p${Math.random().toString(36).slice(2, 8)}`], env: ENV }),
    },
  );
  for (const backend of ['zk', 'etcd'] as const) {
    const connect = servers[backend];
    list.push(
      {
        name: 'lib',
        backend,
        title: 'elect lib',
        multi: true,
        stopTarget: 'pid',
        leads: saysLeading,
        spawn: (election, n, ttlMs = TTL_MS) => ({ command: node, args: [candidate, backend, connect, election, String(ttlMs), String(n)], env: ENV }),
      },
      {
        name: 'floor',
        backend,
        title: 'Node floor',
        multi: false,
        stopTarget: 'pid',
        handoffOnly: true,
        leads: saysLeading,
        spawn: (election) => ({ command: node, args: [floor, backend, connect, election], env: ENV }),
      },
      {
        name: 'floor-cli',
        backend,
        title: 'Node floor running a command',
        multi: false,
        stopTarget: 'pid',
        handoffOnly: true,
        leads: saysLeading,
        spawn: (election) => ({ command: node, args: [floor, backend, connect, election, '--', ...PAYLOAD], env: ENV }),
      },
      {
        name: 'cli',
        backend,
        title: 'elect cli',
        multi: false,
        stopTarget: 'pid',
        leads: saysLeading,
        // --rejoin, as Curator's LeaderLatch does on its own: a
        // leader that loses its session campaigns again. Without it, a herd
        // of `elect run` processes starting at once on two cores loses
        // leaders to the start-up storm (their event loops starved past the
        // 2 s deadline), each exits 75, and the queue never fills.
        spawn: (election, _n, ttlMs = TTL_MS) => ({
          command: node,
          args: [elect, 'run', '--backend', backend, '--connect', connect, '--election', election, '--ttl', `${ttlMs}ms`, '--rejoin', '--log-level', 'warn', '--', ...PAYLOAD],
          env: ENV,
        }),
      },
    );
  }
  return list;
}

export { TTL_MS };
