/**
 * Every way novadock is started passes its Node flags (src/node-flags.ts): V8 takes them only
 * on the command line, so a launcher that drops one silently costs large uploads CPU.
 */
import fs from 'node:fs';
import path from 'node:path';
import { missingNodeFlags, NODE_FLAGS } from '../../src/node-flags';

const ROOT = path.join(__dirname, '..', '..');
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');

describe('novadock node flags', () => {
  it.each([
    ['npm start', () => JSON.parse(read('package.json')).scripts.start as string],
    ['scripts/up.sh', () => /^.*node .*dist\/src\/main\.js.*$/m.exec(read('scripts/up.sh'))![0]],
    ['scripts/conformance.sh', () => /^.*node .*dist\/src\/main\.js.*$/m.exec(read('scripts/conformance.sh'))![0]],
    ['the Dockerfile', () => /^CMD .*$/m.exec(read('Dockerfile'))![0]],
  ])('%s starts the server with every flag', (_launcher, command) => {
    const line = command();
    expect(line).toMatch(/dist\/src\/main\.js/);
    for (const f of NODE_FLAGS) expect(line).toContain(f);
  });

  it("the tests' server helper starts it with every flag", () => {
    expect(read('test/helpers/server.ts')).toMatch(/spawn\(process\.execPath, \[\.\.\.NODE_FLAGS, MAIN\]/);
  });

  it('says which flags a process lacks', () => {
    expect(missingNodeFlags(['--inspect'])).toEqual(NODE_FLAGS);
    expect(missingNodeFlags([...NODE_FLAGS])).toEqual([]);
  });
});
