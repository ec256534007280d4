// Shared Jest settings: ESM TypeScript through ts-jest, and @elect/* mapped to
// the packages' sources so that tests run on a clean checkout without a build.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));

/** One timing base scales every test timeout (see packages/testcontainers/src/timing.ts). */
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
      '^@elect/core/backend$': `${root}/packages/core/src/backend.ts`,
      '^@elect/(zk|etcd|metrics|cli|chaos|testcontainers)$': `${root}/packages/$1/src/index.ts`,
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

/**
 * For a project's globalSetup: builds `target` (a tsconfig project, with what
 * it references) when its tests run built code in other processes.
 * Incremental, so a second run costs about a second.
 */
export function buildProject(target, what) {
  try {
    execFileSync(path.join(root, 'node_modules/.bin/tsc'), ['-b', target], { cwd: root, stdio: 'pipe' });
  } catch (error) {
    throw new Error(`building ${what} failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
  }
}

/**
 * For the projects whose tests run the `elect` binary: builds the CLI and
 * its bundle (packages/cli/scripts/bundle.mjs), which bin/elect.js runs.
 * Nothing is redone while both are up to date.
 */
export function buildElect(what) {
  buildProject('packages/cli', what);
  try {
    execFileSync(process.execPath, [path.join(root, 'packages/cli/scripts/bundle.mjs')], { cwd: root, stdio: 'pipe' });
  } catch (error) {
    throw new Error(`bundling elect for ${what} failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
  }
}
