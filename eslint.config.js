// Layering enforced by lint, not goodwill (house style 13): knex only under src/db, dockerode only
// under src/virt/docker, express only in routers (src/compute/api/**, src/identity/router.ts,
// src/image/router.ts), src/http and the composition root.
const tseslint = require('typescript-eslint');

const restrict = (names, message) => ({ paths: names.map((name) => ({ name, message, allowTypeImports: true })), patterns: [] });

module.exports = tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test/**', 'bench/**', 'migrations/**', '*.js'] },
  ...tseslint.configs.recommended,
  {
    files: ['src/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-namespace': 'off',
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [
          { name: 'knex', message: 'knex belongs to src/db (repositories).', allowTypeImports: true },
          { name: 'dockerode', message: 'dockerode belongs to src/virt/docker (the Docker driver).', allowTypeImports: true },
          { name: 'express', message: 'express belongs to routers and src/http.', allowTypeImports: true },
        ],
      }],
    },
  },
  { files: ['src/db/**/*.ts'], rules: { '@typescript-eslint/no-restricted-imports': ['error', restrict(['dockerode', 'express'], 'not in the data layer')] } },
  { files: ['src/virt/docker/**/*.ts'], rules: { '@typescript-eslint/no-restricted-imports': ['error', restrict(['knex', 'express'], 'not in a driver')] } },
  {
    files: ['src/http/**/*.ts', 'src/**/router.ts', 'src/compute/api/**/*.ts', 'src/compute/microversion.ts', 'src/app.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', restrict(['knex', 'dockerode'], 'routers talk to services, not to the database or the engine')] },
  },
  // The compute routers get their services handed in (house style: routers get only what they use):
  // record types from src/db are fine, repositories, drivers and the whole Services bag are not.
  {
    files: ['src/compute/api/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        ...restrict(['knex', 'dockerode'], 'routers talk to services, not to the database or the engine'),
        patterns: [{ group: ['**/db/*', '**/virt/**', '**/store/**', '**/compose'], message: 'a router takes its services as deps; it does not reach the database, drivers or the Services bag.', allowTypeImports: true }],
      }],
    },
  },
  { files: ['src/main.ts', 'src/compose.ts'], rules: { '@typescript-eslint/no-restricted-imports': 'off' } },
);
