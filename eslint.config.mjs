// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

const NODE_BUILTINS = [
  'fs',
  'path',
  'os',
  'child_process',
  'http',
  'https',
  'net',
  'crypto',
  'stream',
  'worker_threads',
];

export default tseslint.config(
  {
    ignores: ['dist/', 'node_modules/', '.mlops/', 'bin/', 'scripts/dev/run-tests.mjs', 'eslint.config.mjs'],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's describe/it return promises the runner itself awaits.
        {
          allowForKnownSafeCalls: [
            { from: 'package', name: ['describe', 'it', 'test', 'suite'], package: 'node:test' },
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code is replayed deterministically inside Temporal's sandbox: no Node APIs, no I/O.
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...NODE_BUILTINS.flatMap((name) => [name, `node:${name}`]),
            '@temporalio/client',
            '@temporalio/worker',
            '@temporalio/activity',
            '@tensorflow/tfjs',
            'sharp',
            'fastify',
            '@google-cloud/storage',
          ],
          // Values only from contracts/ (and the workflows' own files); types from anywhere.
          // scripts/dev/check-imports.ts checks the same from the type checker's view.
          patterns: [
            {
              regex: '^(\\.\\./)+(activities|lib|workers|scripts)(/|$)',
              allowTypeImports: true,
              message:
                'workflows import values only from contracts/ and @temporalio/workflow; types from anywhere',
            },
            { regex: '^(\\.\\./)+serving(/|$)', message: 'serving code does I/O' },
          ],
        },
      ],
    },
  },
);
