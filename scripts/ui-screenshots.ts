/**
 * Screenshots of the built-in page for the README (docs/ui-*.png): a fresh novadock with a
 * busybox image and three servers in three states, seen by admin in Debian's Chromium.
 * Run with `bash scripts/ui-screenshots.sh`; not part of the tests.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import { ROOT, startServer } from '../test/helpers/server';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const srv = await startServer();
  const browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  try {
    const { token } = await srv.login('admin');
    const call = async (method: string, p: string, body?: unknown, type = 'application/json') => {
      const res = await fetch(`${srv.url}${p}`, { method, headers: { 'X-Auth-Token': token, 'Content-Type': type }, body: body === undefined ? undefined : (body as string) });
      if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
      const text = await res.text();
      return text ? JSON.parse(text) : null;
    };
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-ui-shots-'));
    const img = { path: path.join(work, 'busybox.tar') };
    execFileSync('bash', [path.join(ROOT, 'scripts', 'build-test-image.sh'), img.path, 'ui-screenshots'], { stdio: ['ignore', 'ignore', 'inherit'] });
    const { id: imageId } = await call('POST', '/image/v2/images', JSON.stringify({ name: 'busybox', container_format: 'docker', disk_format: 'raw' }));
    await call('PUT', `/image/v2/images/${imageId}/file`, fs.readFileSync(img.path), 'application/octet-stream');
    fs.rmSync(work, { recursive: true, force: true });
    const status = async (id: string) => (await call('GET', `/compute/v2.1/servers/${id}`)).server.status as string;
    const until = async (id: string, want: string) => { while ((await status(id)) !== want) await sleep(300); };
    const ids: Record<string, string> = {};
    for (const [name, flavorRef] of [['web-1', '1'], ['db-1', '2'], ['batch-1', '1']]) {
      ids[name] = (await call('POST', '/compute/v2.1/servers', JSON.stringify({ server: { name, imageRef: imageId, flavorRef } }))).server.id;
    }
    for (const id of Object.values(ids)) await until(id, 'ACTIVE');
    await call('POST', `/compute/v2.1/servers/${ids['db-1']}/action`, JSON.stringify({ 'os-stop': null }));
    await call('POST', `/compute/v2.1/servers/${ids['batch-1']}/action`, JSON.stringify({ pause: null }));
    await until(ids['db-1'], 'SHUTOFF');
    await until(ids['batch-1'], 'PAUSED');
    await sleep(3000); // a few lines of console output

    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 860 });
    await page.goto(`${srv.url}/`);
    await page.waitForSelector('#login:not([hidden])');
    await page.type('#login input[name=password]', srv.passwords.admin);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#servers tr[data-name="batch-1"][data-status="PAUSED"]');
    await page.click('#servers tr[data-name="web-1"] button[data-action="console"]');
    await page.waitForFunction("/tick/.test(document.querySelector('#console-output').textContent)");
    const out = path.join(ROOT, 'docs');
    await page.screenshot({ path: path.join(out, 'ui-servers.png'), fullPage: true });
    await page.goto(`${srv.url}/#images`);
    await page.waitForSelector('#images tr[data-name="busybox"]');
    await page.screenshot({ path: path.join(out, 'ui-images.png'), fullPage: true });
    await page.goto(`${srv.url}/#hosts`);
    await page.waitForSelector('#hosts .host');
    await page.screenshot({ path: path.join(out, 'ui-hosts.png'), fullPage: true });
    console.log(`wrote ${['ui-servers.png', 'ui-images.png', 'ui-hosts.png'].map((f) => path.join('docs', f)).join(', ')}`);
  } finally {
    await browser.close();
    await srv.cleanup();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
