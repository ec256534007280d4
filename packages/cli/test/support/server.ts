/**
 * One real server per test file and backend, from the harness, plus the
 * per-test scaffolding the CLI tests share: a fresh election name, a temp
 * dir with the lock and markers files the worker uses, and cleanup of every
 * `elect` a test left running.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, jest } from '@jest/globals';
import { scaled, startEtcd, startZooKeeper, type Cluster } from '@elect/test';
import { killAllElects } from './elect.js';

export type Backend = 'zk' | 'etcd';
export const backends: Backend[] = ['zk', 'etcd'];

/** Session timeout / lease TTL used by the tests (etcd grants whole seconds, at least 2). */
export const ttlMs = 4_000;

export interface ServerHandle {
  readonly cluster: Cluster;
  readonly connect: string;
  /** A new election name for each call (zk: an absolute latch path; etcd: a key prefix). */
  election(label: string): string;
  /** `-b B -c CONNECT -e NAME --ttl 4s`: the flags every candidate needs. */
  args(election: string, ...more: string[]): string[];
}

let serial = 0;

/** Starts the server before the file's tests and stops it after; kills stray `elect`s after each test. */
export function useServer(backend: Backend): ServerHandle {
  // testTimeout in a project's jest config is ignored when jest runs several
  // projects (it is a global option), so set the budget here.
  jest.setTimeout(scaled(90_000));
  let cluster: Cluster | undefined;
  beforeAll(async () => {
    cluster = backend === 'zk' ? await startZooKeeper({ size: 1 }) : await startEtcd({ size: 1 });
  });
  afterEach(killAllElects);
  afterAll(async () => {
    try {
      await killAllElects();
    } finally {
      await cluster?.close();
    }
  });
  const handle: ServerHandle = {
    get cluster() {
      if (!cluster) throw new Error('server not started');
      return cluster;
    },
    get connect() {
      return handle.cluster.connectString;
    },
    election(label) {
      serial += 1;
      const name = `${label}-${process.pid}-${serial}`;
      return backend === 'zk' ? `/cli-tests/${name}` : `cli-tests/${name}`;
    },
    args(election, ...more) {
      return ['-b', backend, '-c', handle.connect, '-e', election, '--ttl', `${ttlMs / 1000}s`, ...more];
    },
  };
  return handle;
}

export interface Scratch {
  dir: string;
  /** The worker's flock file and shared markers file. */
  env: { LOCK: string; MARKERS: string };
  /** Lines appended to the markers file so far, in order. */
  markers(): string[];
}

/** A temp dir per test, removed after it. */
export function useScratch(): () => Scratch {
  const made: string[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'elect-cli-'));
    const env = { LOCK: path.join(dir, 'lock'), MARKERS: path.join(dir, 'markers') };
    made.push(dir);
    return {
      dir,
      env,
      markers: () => {
        try {
          return readFileSync(env.MARKERS, 'utf8').split('\n').filter((line) => line !== '');
        } catch {
          return [];
        }
      },
    };
  };
}
