// Layering enforced by lint, not goodwill (house style 13): knex only under src/db, dockerode only
// under src/virt/docker, express only in routers, src/http and the composition root.
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
    files: ['src/http/**/*.ts', 'src/**/router.ts', 'src/**/*-router.ts', 'src/**/versions.ts', 'src/compute/microversion.ts', 'src/app.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', restrict(['knex', 'dockerode'], 'routers talk to services, not to the database or the engine')] },
  },
  { files: ['src/main.ts', 'src/compose.ts'], rules: { '@typescript-eslint/no-restricted-imports': 'off' } },
);
