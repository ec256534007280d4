import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', 'packages/*/bundle/**', 'packages/*/bundle.*/**', '**/node_modules/**', 'coverage/**', 'docker/images/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Packages talk to each other only through their public entry points.
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@elect/*/src', '@elect/*/src/*', '@elect/*/dist', '@elect/*/dist/*', '@elect/core/*/*'],
              message: 'Import another package only through its exports (e.g. @elect/core, @elect/core/testing).',
            },
            {
              group: ['../../*/src/*', '../../../packages/*', '../../packages/*', '**/packages/*/src/**'],
              message: 'Do not reach into another package by relative path; import @elect/<name> instead.',
            },
          ],
        },
      ],
    },
  },
);
