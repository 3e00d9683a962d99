/**
 * Where compute hosts' engines pull pushed images from (issue 14): NOVADOCK_REGISTRY_ADDRESS for
 * every host, compute_hosts[].registry_address for one; anything but host:port fails start-up
 * with a message naming the setting.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-seed-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the environment and the seed give host:port addresses; unset is undefined', () => {
  const file = path.join(dir, 'seed.json');
  fs.writeFileSync(file, JSON.stringify({ compute_hosts: [{ name: 'host1', registry_address: '10.251.0.1:8080' }, { name: 'host2' }] }));
  const c = loadConfig({ NOVADOCK_REGISTRY_ADDRESS: 'registry.example:5000', NOVADOCK_CONFIG: file });
  expect(c.registryAddress).toBe('registry.example:5000');
  expect(c.seed.compute_hosts.map((h) => h.registry_address)).toEqual(['10.251.0.1:8080', undefined]);
  expect(loadConfig({}).registryAddress).toBeUndefined();
  expect(loadConfig({ NOVADOCK_REGISTRY_ADDRESS: '[fd00::1]:8080' }).registryAddress).toBe('[fd00::1]:8080');
});

test('a URL or a path is refused, naming the setting', () => {
  expect(() => loadConfig({ NOVADOCK_REGISTRY_ADDRESS: 'http://10.0.0.1:8080' })).toThrow(/NOVADOCK_REGISTRY_ADDRESS must be host or host:port/);
  const file = path.join(dir, 'bad.json');
  fs.writeFileSync(file, JSON.stringify({ compute_hosts: [{ name: 'host1', registry_address: '10.0.0.1:8080/v2' }] }));
  expect(() => loadConfig({ NOVADOCK_CONFIG: file })).toThrow(/compute host host1's registry_address must be host or host:port/);
});
