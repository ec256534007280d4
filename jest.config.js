// Runs every package's tests. Real-server tests start JVMs and etcd members:
// two workers on a two-core machine is the sane ceiling.
export default {
  projects: [
    '<rootDir>/packages/core',
    '<rootDir>/packages/zk',
    '<rootDir>/packages/etcd',
    '<rootDir>/packages/cli',
    '<rootDir>/test',
  ],
  maxWorkers: 2,
};
