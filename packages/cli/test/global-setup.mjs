// The CLI tests run the real binary, bin/elect.js, which loads dist/: build
// it (and the packages it depends on) once before the tests. Incremental, so
// a second run costs about a second.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export default function buildElect() {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  try {
    execFileSync(path.join(root, 'node_modules/.bin/tsc'), ['-b', 'packages/cli'], { cwd: root, stdio: 'pipe' });
  } catch (error) {
    throw new Error(`building elect for the CLI tests failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
  }
}
