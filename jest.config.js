import { timing } from './jest.base.js';

// Runs every package's tests. Real-server tests start JVMs and etcd members:
// two workers on a two-core machine is the sane ceiling. `testTimeout` is a
// global option (projects cannot set it), so the timing base applies here.
export default {
  projects: [
    '<rootDir>/packages/core',
    '<rootDir>/packages/zk',
    '<rootDir>/packages/etcd',
    '<rootDir>/packages/metrics',
    '<rootDir>/packages/testcontainers',
    '<rootDir>/packages/cli',
    '<rootDir>/packages/chaos',
    '<rootDir>/test',
  ],
  maxWorkers: 2,
  testTimeout: Math.round(60_000 * timing),
  // After its last test a worker's loop is empty within a few milliseconds
  // (nothing but its stdio and IPC pipes is left), yet the process takes a
  // further 160-500 ms to terminate and be reaped on this two-core machine
  // (Node tearing down the vm contexts of every test file; the runner's own
  // loop busy writing results), up to 550 ms with a second suite running.
  // Jest's default grace of 500 ms then force-kills a worker that had left
  // nothing open. A worker that really leaks a handle never exits, so it is
  // still force-killed and reported, after 5 s; scripts/test-all.sh fails the
  // pass when that happens.
  workerGracefulExitTimeout: 5_000,
};
