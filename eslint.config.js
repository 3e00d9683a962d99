// Layering enforced by lint, not goodwill (house style 13): knex only under src/db, dockerode only
// under src/virt/docker, express only in routers, src/http and the composition root.
const tseslint = require('typescript-eslint');

const restrict = (names, message) => ({ paths: names.map((name) => ({ name, message, allowTypeImports: true })), patterns: [] });
const VIRT_UP = [{ group: ['**/image/*', '**/compute/*'], message: 'src/virt imports nothing from src/image or src/compute: declare a structural type.' }];
const IMAGE_DOWN = [{
  group: ['**/virt/registry', '**/virt/host-images', '**/virt/docker/*', '**/virt/fake/*'],
  message: 'the image domain reaches engines through its EngineImages port (src/image/engine-images.ts), never a driver.',
}, {
  group: ['**/virt/driver'], importNames: ['ComputeDriver', 'ImageBackend'],
  message: 'the image domain reaches engines through its EngineImages port (src/image/engine-images.ts), never a driver.',
}];

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
  // src/virt serves the domains and knows none of them: structural types, never an import.
  // The image domain reaches engines through its EngineImages port, never a driver.
  { files: ['src/virt/**/*.ts'], rules: { '@typescript-eslint/no-restricted-imports': ['error', { ...restrict(['knex', 'dockerode', 'express'], 'not in src/virt outside its Docker driver'), patterns: VIRT_UP } ] } },
  { files: ['src/virt/docker/**/*.ts'], rules: { '@typescript-eslint/no-restricted-imports': ['error', { ...restrict(['knex', 'express'], 'not in a driver'), patterns: VIRT_UP }] } },
  { files: ['src/image/**/*.ts'], rules: { '@typescript-eslint/no-restricted-imports': ['error', { ...restrict(['knex', 'dockerode', 'express'], 'not in the image domain'), patterns: IMAGE_DOWN }] } },
  { files: ['src/image/router.ts'], rules: { '@typescript-eslint/no-restricted-imports': ['error', { ...restrict(['knex', 'dockerode'], 'routers talk to services, not to the database or the engine'), patterns: IMAGE_DOWN }] } },
  {
    files: ['src/http/**/*.ts', 'src/**/router.ts', 'src/**/*-router.ts', 'src/**/versions.ts', 'src/compute/microversion.ts', 'src/app.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', restrict(['knex', 'dockerode'], 'routers talk to services, not to the database or the engine')] },
  },
  { files: ['src/main.ts', 'src/compose.ts'], rules: { '@typescript-eslint/no-restricted-imports': 'off' } },
);
