/**
 * `npm run screenshots`: the README's pictures of Debian's Horizon against novadock
 * (docs/horizon-instances.png, docs/horizon-launch.png). Starts a novadock and Horizon of its own,
 * as the dashboard test does, boots one server so the Instances page has a row, and removes
 * everything afterwards. Not a test: it asserts nothing, it only takes the pictures.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT, startServer } from '../test/helpers/server';
import { openstack } from '../test/helpers/clients';
import { Dashboard, launchBrowser, startHorizon } from '../test/dashboard/support';

const DOCS = path.join(ROOT, 'docs');

/** The tests' busybox archive (test/helpers/test-image.ts finds its builder from its source folder, not from dist). */
function busyboxArchive(): string {
  const archive = path.join(ROOT, 'test', '.cache', 'busybox-horizon.tar');
  if (!fs.existsSync(archive)) {
    fs.mkdirSync(path.dirname(archive), { recursive: true });
    execFileSync('bash', [path.join(ROOT, 'scripts', 'build-test-image.sh'), archive, 'horizon'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return archive;
}

async function must(p: Promise<{ code: number; stdout: string; stderr: string }>): Promise<string> {
  const r = await p;
  if (r.code !== 0) throw new Error(r.stderr || r.stdout);
  return r.stdout.trim();
}

async function main(): Promise<void> {
  const archive = busyboxArchive();
  const srv = await startServer();
  const horizon = await startHorizon(`${srv.url}/identity/v3`).catch(async (e) => {
    await srv.cleanup();
    throw e;
  });
  const browser = await launchBrowser();
  try {
    await must(openstack(['image', 'create', '--public', '--file', archive, '--container-format', 'docker', '--disk-format', 'raw', 'busybox'], srv.env.admin));
    await must(openstack(['server', 'create', '--image', 'busybox', '--flavor', 'm1.tiny', '--wait', 'web-1'], srv.env.demo));
    const d = await Dashboard.open(browser, horizon.url);
    await d.login('demo', srv.passwords.demo, '/project/instances/');
    await d.page.screenshot({ path: path.join(DOCS, 'horizon-instances.png') });
    await d.page.click('#instances__action_launch-ng');
    await d.page.waitForSelector('.modal.in input[name=name]', { visible: true });
    await d.page.type('.modal.in input[name=name]', 'web-2');
    await d.page.click('.modal.in .wizard-nav ::-p-text(Source)');
    await d.allocate('busybox');
    await d.page.click('.modal.in .wizard-nav ::-p-text(Flavor)');
    await d.allocate('m1.tiny');
    await d.page.screenshot({ path: path.join(DOCS, 'horizon-launch.png') });
    process.stdout.write(`saved docs/horizon-instances.png and docs/horizon-launch.png\n`);
  } finally {
    await browser.close();
    await horizon.stop();
    await srv.cleanup();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
