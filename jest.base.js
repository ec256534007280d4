// Shared Jest settings: ESM TypeScript through ts-jest, and @elect/* mapped to
// the packages' sources so that tests run on a clean checkout without a build.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));

/** One timing base scales every test timeout (see test/src/timing.ts). */
export const timing = Number(process.env.ELECT_TEST_TIMING ?? '1') || 1;

export function jestProject(configUrl, overrides = {}) {
  const dir = path.dirname(fileURLToPath(configUrl));
  return {
    displayName: path.relative(root, dir),
    rootDir: dir,
    testEnvironment: 'node',
    testMatch: ['<rootDir>/test/**/*.test.ts', '<rootDir>/tests/**/*.test.ts'],
    extensionsToTreatAsEsm: ['.ts'],
    moduleNameMapper: {
      '^@elect/core$': `${root}/packages/core/src/index.ts`,
      '^@elect/core/(testing|conformance)$': `${root}/packages/core/src/$1/index.ts`,
      '^@elect/(zk|etcd|cli|chaos)$': `${root}/packages/$1/src/index.ts`,
      '^@elect/test$': `${root}/test/src/index.ts`,
      '^(\\.{1,2}/.*)\\.js$': '$1',
    },
    transform: {
      '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: `${root}/tsconfig.jest.json` }],
    },
    testTimeout: Math.round(60_000 * timing),
    ...overrides,
  };
}
