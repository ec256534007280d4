// The CLI tests run the real binary, bin/elect.js, which loads the bundle
// made from dist/: build it (and the packages it depends on) and bundle it,
// once before the tests.
import { execFileSync } from 'node:child_process';
import { URL, fileURLToPath } from 'node:url';
import { buildProject } from '../../../jest.base.js';

export default function buildElect() {
  buildProject('packages/cli', 'elect for the CLI tests');
  try {
    execFileSync(process.execPath, [fileURLToPath(new URL('../scripts/bundle.mjs', import.meta.url))], { stdio: 'pipe' });
  } catch (error) {
    throw new Error(`bundling elect for the CLI tests failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
  }
}
