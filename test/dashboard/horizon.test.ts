/**
 * Issue 18 part 1: the stock OpenStack dashboard (Debian's Horizon 23) against novadock, walked in a
 * real Chromium as a member of `demo` and as an admin would walk it. One novadock, one Horizon and
 * one browser for the whole file; the steps build on each other in file order, like a session.
 * Every page visited must show no error alert or toast and no failed Horizon request.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import sshpk from 'sshpk';
import type { Browser } from 'puppeteer-core';
import { startServer, StartedServer } from '../helpers/server';
import { openstack } from '../helpers/clients';
import { ok, testImage } from '../e2e/support';
import { Dashboard, launchBrowser, startHorizon, StartedHorizon } from './support';

jest.setTimeout(180_000);

let srv: StartedServer;
let horizon: StartedHorizon;
let browser: Browser;
let imageId: string;
let serverId: string;
const started = Date.now();

beforeAll(async () => {
  const image = await testImage('horizon', false);
  [srv, browser] = await Promise.all([startServer(), launchBrowser()]);
  horizon = await startHorizon(`${srv.url}/identity/v3`);
  const os = (args: string[]) => openstack(args, srv.env.admin);
  ok(await os(['image', 'create', '--public', '--file', image.path, '--container-format', 'docker', '--disk-format', 'raw', 'busybox']));
  imageId = ok(await os(['image', 'show', 'busybox', '-f', 'value', '-c', 'id'])).stdout.trim();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  // What Horizon's log holds that may explain a failure above: its failed requests and errors
  // (not the request lines of its successes, nor Python's deprecation and policy warnings).
  const trouble = horizon ? troubleIn(fs.readFileSync(horizon.logFile, 'utf8')) : [];
  if (trouble.length > 0) process.stdout.write(`Horizon's log, failures and errors (${trouble.length}; the last 40):\n${trouble.slice(-40).join('\n')}\n`);
  await horizon?.stop();
  await srv?.cleanup();
  process.stdout.write(`Horizon walk: ${((Date.now() - started) / 1000).toFixed(1)} s (start-up included)\n`);
});

function troubleIn(log: string): string[] {
  return log.split('\n').filter((l) => / HTTP\/1\.[01]" [45]\d\d /.test(l) || (/Traceback|Error|Exception|Broken pipe|reset by peer/.test(l) && !/Warning:/.test(l)));
}

/** No error on screen and no failed request since the last check. */
async function expectNoProblems(d: Dashboard): Promise<void> {
  expect(await d.problems()).toEqual({ alerts: [], failedRequests: [] });
}

describe('a member of demo', () => {
  let d: Dashboard;
  beforeAll(async () => {
    d = await Dashboard.open(browser, horizon.url);
  });
  afterAll(async () => {
    await d?.close();
  });

  it('logs in with the login form', async () => {
    await d.login('demo', srv.passwords.demo, '/project/instances/');
    expect(await d.texts('.context-project')).toEqual([expect.stringContaining('demo')]);
  });

  it('sees the Overview without an error', async () => {
    await d.visit('/project/');
    expect((await d.texts('#main_content')).join(' ')).toMatch(/Limit Summary.*Instances.*Used 0 of \d+/);
    await expectNoProblems(d);
  });

  it('sees the Instances page, empty, without an error', async () => {
    await d.visit('/project/instances/');
    expect(await d.texts('#instances tfoot .table_count, #instances .empty')).toEqual(expect.arrayContaining([expect.stringMatching(/No items to display|Displaying 0 items/)]));
    await expectNoProblems(d);
  });

  it('sees the Images list, and an image\'s detail page', async () => {
    await d.visit('/project/images/');
    await d.page.waitForSelector(`a[href$="ngdetails/OS::Glance::Image/${imageId}"]`);
    await d.clickAndWait(`a[href$="ngdetails/OS::Glance::Image/${imageId}"]`);
    await d.textAppears('#main_content', 'busybox');
    expect((await d.texts('#main_content')).join(' ')).toMatch(/Active/);
    await expectNoProblems(d);
  });

  it('creates a key pair, then imports one', async () => {
    await d.visit('/project/key_pairs/');
    await d.page.click('button ::-p-text(Create Key Pair)');
    await d.page.waitForSelector('.modal.in input[name=name]', { visible: true });
    await d.page.type('.modal.in input[name=name]', 'kp-made');
    await d.page.click('.modal.in .modal-footer .btn-primary');
    await d.page.waitForSelector('::-p-text(kp-made)');
    await d.visit('/project/key_pairs/');
    const pem = crypto.generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' });
    const openssh = sshpk.parseKey(pem, 'pem').toString('ssh');
    await d.page.click('button ::-p-text(Import Public Key)');
    await d.page.waitForSelector('.modal.in input[name=name]', { visible: true });
    await d.page.type('.modal.in input[name=name]', 'kp-imported');
    await d.page.type('.modal.in textarea', `${openssh} someone@example`);
    await d.page.click('.modal.in .modal-footer .btn-primary');
    await d.page.waitForSelector('::-p-text(kp-imported)');
    await d.visit('/project/key_pairs/');
    expect((await d.texts('#main_content')).join(' ')).toMatch(/kp-made.*kp-imported|kp-imported.*kp-made/);
    await expectNoProblems(d);
    const listed = ok(await openstack(['keypair', 'list', '-f', 'value', '-c', 'Name'], srv.env.demo)).stdout.trim().split('\n').sort();
    expect(listed).toEqual(['kp-imported', 'kp-made']);
  });

  it('launches an instance from an image with a flavor and a key pair, and sees it Active', async () => {
    await d.visit('/project/instances/');
    await d.page.click('#instances__action_launch-ng');
    await d.page.waitForSelector('.modal.in input[name=name]', { visible: true });
    await d.page.type('.modal.in input[name=name]', 'vm-horizon');
    await d.page.click('.modal.in .wizard-nav ::-p-text(Source)');
    await d.allocate('busybox');
    await d.page.click('.modal.in .wizard-nav ::-p-text(Flavor)');
    await d.allocate('m1.tiny');
    // The project's one network is allocated by Horizon itself.
    await d.page.click('.modal.in .wizard-nav ::-p-text(Networks)');
    await d.textAppears('.modal.in', 'private');
    await d.page.click('.modal.in .wizard-nav ::-p-text(Key Pair)');
    await d.allocate('kp-made');
    await expectNoProblems(d);
    await d.page.waitForSelector('.modal.in .btn.finish:not([disabled])');
    await d.page.click('.modal.in .btn.finish');
    await d.page.waitForSelector('.modal.in', { hidden: true });
    await d.visit('/project/instances/');
    expect(await d.rowMatching('vm-horizon', /Active/)).toMatch(/busybox.*m1\.tiny.*kp-made/);
    serverId = ok(await openstack(['server', 'show', 'vm-horizon', '-f', 'value', '-c', 'id'], srv.env.demo)).stdout.trim();
    await expectNoProblems(d);
  });

  it('sees the instance\'s overview, console log and action log', async () => {
    await d.visit(`/project/instances/${serverId}/`);
    expect((await d.texts('#main_content dl')).join(' ')).toMatch(new RegExp(`vm-horizon.*${serverId}.*Active`));
    await d.visit(`/project/instances/${serverId}/?tab=instance_details__log`);
    await d.textAppears('#instance_details__log pre', 'tick');
    await d.visit(`/project/instances/${serverId}/?tab=instance_details__audit`);
    expect((await d.texts('#audit tbody tr td')).join(' ')).toMatch(/Create/);
    await expectNoProblems(d);
  });

  it('sees the network pages: networks and a network\'s subnets and ports, security groups and their rules (adds one), floating IPs, routers, the instance\'s interfaces', async () => {
    // A network of demo's own beside `private` (no server on it: the engine is not asked for it).
    const demoOs = (args: string[]) => openstack(args, srv.env.demo);
    const netId = ok(await demoOs(['network', 'create', 'hznet', '-f', 'value', '-c', 'id'])).stdout.trim();
    ok(await demoOs(['subnet', 'create', '--network', 'hznet', '--subnet-range', '10.245.30.0/24', 'hzsub']));
    await d.visit('/project/networks/');
    const networks = (await d.texts('#networks tbody tr')).join(' | ');
    expect(networks).toMatch(/private/);
    expect(networks).toMatch(/hznet.*hzsub 10\.245\.30\.0\/24/);
    await expectNoProblems(d);
    await d.visit(`/project/networks/${netId}/detail`);
    expect((await d.texts('#main_content dl')).join(' ')).toMatch(new RegExp(`hznet.*${netId}`));
    await expectNoProblems(d);
    await d.visit(`/project/networks/${netId}/detail?tab=network_tabs__subnets_tab`);
    expect((await d.texts('#subnets tbody tr')).join(' ')).toMatch(/hzsub.*10\.245\.30\.0\/24/);
    await expectNoProblems(d);
    await d.visit(`/project/networks/${netId}/detail?tab=network_tabs__ports_tab`);
    await expectNoProblems(d);

    await d.visit('/project/security_groups/');
    expect((await d.texts('#security_groups tbody tr')).join(' ')).toMatch(/default/);
    await expectNoProblems(d);
    const sgId = ok(await demoOs(['security', 'group', 'show', 'default', '-f', 'value', '-c', 'id'])).stdout.trim();
    await d.visit(`/project/security_groups/${sgId}/`);
    expect((await d.texts('#rules tbody tr')).join(' ')).toMatch(/Egress/);
    await d.page.click('#rules__action_add_rule');
    await d.page.waitForSelector('.modal.in #id_port', { visible: true });
    await d.page.select('.modal.in #id_rule_menu', 'tcp');
    await d.page.type('.modal.in #id_port', '8080');
    await d.clickAndWait('.modal.in .modal-footer [type=submit]');
    expect((await d.texts('#rules tbody tr')).join(' ')).toMatch(/Ingress IPv4 TCP 8080/);
    const rules = ok(await demoOs(['security', 'group', 'rule', 'list', 'default', '-f', 'value', '-c', 'Port Range'])).stdout;
    expect(rules).toContain('8080:8080');
    await expectNoProblems(d);

    for (const p of ['/project/floating_ips/', '/project/routers/']) {
      await d.visit(p);
      await expectNoProblems(d);
    }
    await d.visit(`/project/instances/${serverId}/?tab=instance_details__interfaces`);
    const address = /\d+\.\d+\.\d+\.\d+/.exec(ok(await demoOs(['server', 'show', serverId, '-f', 'value', '-c', 'addresses'])).stdout)?.[0];
    expect((await d.texts('#interfaces tbody tr')).join(' ')).toContain(address);
    await expectNoProblems(d);
    ok(await demoOs(['network', 'delete', 'hznet']));
  });

  it('shuts the server off, and starts it again', async () => {
    await d.rowAction('/project/instances/', 'instances', serverId, 'stop');
    await d.rowStatus('instances', serverId, 'Shutoff');
    await d.rowAction('/project/instances/', 'instances', serverId, 'start');
    await d.rowStatus('instances', serverId, 'Active');
    await expectNoProblems(d);
  });

  it('creates a snapshot of the server, which becomes an Active image', async () => {
    await d.page.click(`#instances__row_${serverId}__action_snapshot`);
    await d.page.waitForSelector('.modal.in #id_name', { visible: true });
    await d.page.type('.modal.in #id_name', 'vm-horizon-snap');
    await d.clickAndWait('.modal.in .modal-footer [type=submit]');
    await d.visit('/project/images/');
    await d.page.waitForSelector('::-p-text(vm-horizon-snap)');
    expect(await d.rowMatching('vm-horizon-snap', /Active/)).toMatch(/Snapshot/);
    await expectNoProblems(d);
  });

  it('deletes the server; the list still loads and no longer shows it', async () => {
    await d.visit('/project/instances/');
    await d.rowAction('/project/instances/', 'instances', serverId, 'delete');
    await d.page.waitForSelector(`#instances__row__${serverId}`, { hidden: true, timeout: 120_000 });
    await d.visit('/project/instances/');
    expect(await d.page.$(`#instances__row__${serverId}`)).toBeNull();
    await expectNoProblems(d);
  });
});

describe('an admin', () => {
  let d: Dashboard;
  beforeAll(async () => {
    d = await Dashboard.open(browser, horizon.url);
  });
  afterAll(async () => {
    await d?.close();
  });

  it('logs in with the login form', async () => {
    await d.login('admin', srv.passwords.admin, '/admin/hypervisors/');
    expect(await d.texts('.context-project')).toEqual([expect.stringContaining('admin')]);
  });

  it('sees the Hypervisors page with usage figures', async () => {
    await d.visit('/admin/hypervisors/');
    const text = (await d.texts('#main_content')).join(' ');
    expect(text).toMatch(/VCPU Usage\s*Used \d+ of \d+/);
    expect(text).toMatch(/Memory Usage\s*Used [\d.]+\s*[MGT]B of [\d.]+\s*[MGT]B/);
    expect(await d.texts('#hypervisors tbody tr td:nth-child(2)')).toContain('docker');
    await expectNoProblems(d);
  });

  it('sees every project\'s instances with the project\'s name', async () => {
    const id = ok(await openstack(['server', 'create', '--image', 'busybox', '--flavor', 'm1.tiny', '--wait', 'vm-of-demo', '-f', 'value', '-c', 'id'], srv.env.demo)).stdout.trim();
    await d.visit('/admin/instances/');
    const row = (await d.texts(`#instances__row__${id} td`)).join(' | ');
    expect(row).toMatch(/\| demo \|/);
    expect(row).toMatch(/vm-of-demo/);
    await expectNoProblems(d);
  });

  it('lists, creates and deletes a flavor', async () => {
    await d.visit('/admin/flavors/');
    expect((await d.texts('#flavors tbody tr td')).join(' ')).toMatch(/m1\.tiny/);
    await d.page.click('#flavors__action_create');
    await d.page.waitForSelector('.modal.in #id_name', { visible: true });
    await d.page.type('.modal.in #id_name', 'm1.horizon');
    await d.page.type('.modal.in #id_vcpus', '1');
    await d.page.type('.modal.in #id_memory_mb', '128');
    await d.page.type('.modal.in #id_disk_gb', '1');
    await d.clickAndWait('.modal.in .modal-footer [type=submit]');
    const row = await d.page.waitForSelector('#flavors tbody tr ::-p-text(m1.horizon)');
    expect(row).not.toBeNull();
    const id = ok(await openstack(['flavor', 'show', 'm1.horizon', '-f', 'value', '-c', 'id'], srv.env.admin)).stdout.trim();
    await d.rowAction('/admin/flavors/', 'flavors', id, 'delete');
    expect(await d.page.$(`#flavors__row__${id}`)).toBeNull();
    expect((await openstack(['flavor', 'show', 'm1.horizon'], srv.env.admin)).code).not.toBe(0);
    await expectNoProblems(d);
  });

  it('lists Identity\'s projects and users', async () => {
    await d.visit('/identity/');
    expect((await d.texts('#tenants tbody tr td')).join(' ')).toMatch(/admin.*demo|demo.*admin/);
    await expectNoProblems(d);
    await d.visit('/identity/users/');
    const users = (await d.texts('#users tbody tr td')).join(' ');
    expect(users).toMatch(/\badmin\b/);
    expect(users).toMatch(/\bdemo\b/);
    await expectNoProblems(d);
  });
});
