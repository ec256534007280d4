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
 * it references) when its tests run built code in other processes, and the
 * bundles of `bundles` (scripts/bundle.mjs): a built module imports the
 * libraries through their exports, which are bundles. Incremental, so a
 * second run costs about a second.
 */
export function buildProject(target, what, bundles) {
  try {
    execFileSync(path.join(root, 'node_modules/.bin/tsc'), ['-b', target], { cwd: root, stdio: 'pipe' });
    execFileSync(process.execPath, [path.join(root, 'scripts/bundle.mjs'), ...bundles], { cwd: root, stdio: 'pipe' });
  } catch (error) {
    throw new Error(`building ${what} failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
  }
}

/**
 * For the projects whose tests run the `elect` binary: builds the CLI and
 * its bundle, which bin/elect.js runs, and the libraries' bundles.
 */
export function buildElect(what) {
  buildProject('packages/cli', what, ['core', 'zk', 'etcd', 'cli']);
}
