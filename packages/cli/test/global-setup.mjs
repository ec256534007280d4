// The CLI tests run the real binary, bin/elect.js, which runs the bundle
// made from dist/: build both (and the packages they depend on) once before
// the tests.
import { buildElect } from '../../../jest.base.js';

export default function setup() {
  buildElect('the CLI tests');
}
