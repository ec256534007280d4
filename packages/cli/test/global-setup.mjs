// The CLI tests run the real binary, bin/elect.js, which loads dist/: build
// it (and the packages it depends on) once before the tests.
import { buildProject } from '../../../jest.base.js';

export default function buildElect() {
  buildProject('packages/cli', 'elect for the CLI tests');
}
