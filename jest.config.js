import { timing } from './jest.base.js';

// Runs every package's tests. Real-server tests start JVMs and etcd members:
// two workers on a two-core machine is the sane ceiling. `testTimeout` is a
// global option (projects cannot set it), so the timing base applies here.
export default {
  projects: [
    '<rootDir>/packages/core',
    '<rootDir>/packages/zk',
    '<rootDir>/packages/etcd',
    '<rootDir>/packages/cli',
    '<rootDir>/packages/chaos',
    '<rootDir>/test',
  ],
  maxWorkers: 2,
  testTimeout: Math.round(60_000 * timing),
};
