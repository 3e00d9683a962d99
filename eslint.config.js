// Layering enforced by lint, not goodwill (house style 13):
// - packages: knex only under src/db, dockerode only under src/virt/docker, express only in routers,
//   src/http and the composition root;
// - this tree's own folders: routers import no src/db or src/virt (they talk to services);
//   src/virt imports nothing from src/image or src/compute (drivers know no domain); src/db knows no
//   HTTP; and no import circles anywhere.
const tseslint = require('typescript-eslint');
const importX = require('eslint-plugin-import-x');

const restrict = (names, message) => ({ paths: names.map((name) => ({ name, message, allowTypeImports: true })), patterns: [] });
const IMAGE_DOWN = [{
  group: ['**/virt/registry', '**/virt/host-images', '**/virt/docker/*', '**/virt/fake/*'],
  message: 'the image domain reaches engines through its EngineImages port (src/image/engine-images.ts), never a driver.',
}, {
  group: ['**/virt/driver'], importNames: ['ComputeDriver', 'ImageBackend'],
  message: 'the image domain reaches engines through its EngineImages port (src/image/engine-images.ts), never a driver.',
}];

/** Routers and the HTTP plumbing: request in, one service call, view out. */
const ROUTERS = ['src/http/**/*.ts', 'src/**/router.ts', 'src/**/*-router.ts', 'src/compute/api/**/*.ts', 'src/**/versions.ts', 'src/compute/microversion.ts', 'src/app.ts'];

module.exports = tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test/**', 'bench/**', 'migrations/**', '*.js'] },
  ...tseslint.configs.recommended,
  {
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [importX.createNodeResolver({ extensions: ['.ts', '.js', '.json'] })],
    },
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
      // No circles, type-only imports included: a circle is a room with no way out.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-restricted-paths': ['error', {
        zones: [
          { target: './src/virt', from: ['./src/image', './src/compute', './src/identity', './src/http', './src/db'], message: 'src/virt (drivers) knows no domain, HTTP or database: pass it plain values.' },
          { target: ROUTERS.map((g) => `./${g}`), from: ['./src/db', './src/virt'], message: 'routers talk to services, not to repositories or drivers.' },
          { target: './src/db', from: ['./src/http', './src/compute/api', './src/virt'], message: 'repositories know no HTTP and no driver.' },
          { target: ['./src/image', './src/store'], from: ['./src/compute'], message: 'the image domain does not depend on compute.' },
        ],
      }],
    },
  },
  { files: ['src/db/**/*.ts'], rules: { '@typescript-eslint/no-restricted-imports': ['error', restrict(['dockerode', 'express'], 'not in the data layer')] } },
  { files: ['src/virt/docker/**/*.ts'], rules: { '@typescript-eslint/no-restricted-imports': ['error', restrict(['knex', 'express'], 'not in a driver')] } },
  { files: ROUTERS, rules: { '@typescript-eslint/no-restricted-imports': ['error', restrict(['knex', 'dockerode'], 'routers talk to services, not to the database or the engine')] } },
  // The image domain reaches engines through its EngineImages port (src/image/engine-images.ts), never a driver.
  { files: ['src/image/**/*.ts'], rules: { '@typescript-eslint/no-restricted-imports': ['error', { ...restrict(['knex', 'dockerode', 'express'], 'not in the image domain'), patterns: IMAGE_DOWN }] } },
  { files: ['src/image/router.ts', 'src/image/metadefs.ts'], rules: { '@typescript-eslint/no-restricted-imports': ['error', { ...restrict(['knex', 'dockerode'], 'routers talk to services, not to the database or the engine'), patterns: IMAGE_DOWN }] } },
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
