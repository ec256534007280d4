import { jestProject } from '../../jest.base.js';

// The tests in test/e2e run bin/elect.js, which needs dist/: built once here.
export default jestProject(import.meta.url, { globalSetup: '<rootDir>/test/global-setup.mjs' });
