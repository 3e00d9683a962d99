/**
 * The built-in page (issue 18 part 2) in a real Chromium (Debian's, driven by puppeteer-core)
 * against a started novadock: log in, upload an image from a file through the page, boot it, see
 * it ACTIVE, stop it, see SHUTOFF, read its console log, delete it, with the engine checked at
 * each step; and a 200 MiB upload through the page during which the server's resident memory
 * grows by less than half the file's size (a memory bound, read from /proc: not a timing).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer, { Browser, Page } from 'puppeteer-core';
import { startServer, StartedServer } from '../helpers/server';
import { docker } from '../helpers/clients';
import type { TestImage } from '../helpers/test-image';
import { containerState, imageInEngine, ok, poll, testImage } from './support';

jest.setTimeout(300_000);

/** What the test reads of a page element (the test compiles without the DOM's types). */
type El = { value: string | number; hidden: boolean; textContent: string | null; dataset: Record<string, string> };

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const MiB = 1024 * 1024;
let srv: StartedServer;
let browser: Browser;
let page: Page;
let busybox: TestImage;
let work: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-e2e-ui-'));
  busybox = await testImage('e2e-ui', false);
  srv = await startServer();
  // CI runs as root: Chromium's sandbox needs a user namespace it does not get there.
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  page = await browser.newPage();
  page.on('dialog', (d) => { void d.accept(); });
}, 240_000);
afterAll(async () => {
  await browser?.close();
  await srv?.cleanup();
  fs.rmSync(work, { recursive: true, force: true });
});

const alertText = () => page.$eval('#alert', (e) => ((e as unknown as El).hidden ? '' : e.textContent ?? ''));

/** Waits for a selector; on a give-up, says what the page's alert line showed. */
async function waitFor(selector: string, timeout = 90_000): Promise<void> {
  try {
    await page.waitForSelector(selector, { timeout });
  } catch (e) {
    throw new Error(`${selector} did not appear; the page's alert said: '${await alertText()}' (${(e as Error).message})`);
  }
}

/** Uploads `file` as image `name` through the page's form; resolves when its row shows active. */
async function uploadThroughPage(name: string, file: string): Promise<string> {
  await page.goto(`${srv.url}/#images`);
  await waitFor('#upload');
  await page.type('#upload input[name=name]', name);
  const input = await page.$('#upload input[type=file]');
  await input!.uploadFile(file);
  await page.click('#upload button[type=submit]');
  await waitFor(`#images tr[data-name="${name}"] .status.active`, 180_000);
  return page.$eval(`#images tr[data-name="${name}"]`, (e) => (e as unknown as El).dataset.id!);
}

/** Logs demo in through the page's form (the token then lives in the tab's sessionStorage). */
async function logIn(): Promise<void> {
  await page.goto(`${srv.url}/`);
  await waitFor('#login:not([hidden])');
  await page.$eval('#login input[name=user]', (e) => { (e as unknown as El).value = ''; });
  await page.$eval('#login input[name=project]', (e) => { (e as unknown as El).value = ''; });
  await page.type('#login input[name=user]', 'demo');
  await page.type('#login input[name=password]', srv.passwords.demo);
  await page.type('#login input[name=project]', 'demo');
  await page.click('#login button[type=submit]');
  await waitFor('#nav:not([hidden])');
}

async function serverRow(name: string): Promise<{ id: string; status: string } | null> {
  return page.$$eval(`#servers tr[data-name="${name}"]`, (rows) => (rows[0] ? { id: (rows[0] as unknown as El).dataset.id!, status: (rows[0] as unknown as El).dataset.status! } : null));
}

describe('a member uses the page: log in, upload, boot, stop, console log, delete', () => {
  let imageId: string;
  let serverId: string;

  it('a browser at / gets the login form, and demo logs in with Keystone credentials', async () => {
    await logIn();
    expect(await page.$eval('#who-name', (e) => e.textContent)).toBe('demo · demo');
  });

  it('an image uploaded from a file through the page becomes active, with the progress bar full and the image in the engine', async () => {
    imageId = await uploadThroughPage('busybox-ui', busybox.path);
    expect(await page.$eval('#upload-progress', (e) => (e as unknown as El).value)).toBe(100);
    expect(await imageInEngine(busybox.imageId)).toBe(true);
  });

  it('booted from the page with that image and m1.tiny, the server shows ACTIVE and its container runs', async () => {
    await page.goto(`${srv.url}/#servers`);
    await waitFor(`#boot select[name=imageRef] option[value="${imageId}"]`);
    const tiny = await page.$$eval('#boot select[name=flavorRef] option', (opts) => opts.find((o) => o.textContent!.startsWith('m1.tiny '))!.getAttribute('value')!);
    await page.type('#boot input[name=name]', 'web-ui');
    await page.select('#boot select[name=imageRef]', imageId);
    await page.select('#boot select[name=flavorRef]', tiny);
    await page.click('#boot button[type=submit]');
    await waitFor('#servers tr[data-name="web-ui"][data-status="ACTIVE"]');
    serverId = (await serverRow('web-ui'))!.id;
    expect(await containerState(serverId)).toBe('running');
  });

  it('Stop: the row goes to SHUTOFF (live, without a reload) and the container has exited', async () => {
    await waitFor('#servers tr[data-name="web-ui"] button[data-action="os-stop"]');
    await page.click('#servers tr[data-name="web-ui"] button[data-action="os-stop"]');
    await waitFor('#servers tr[data-name="web-ui"][data-status="SHUTOFF"]');
    expect(await containerState(serverId)).toBe('exited');
    expect(await page.$$eval('#servers tr[data-name="web-ui"] button', (b) => b.map((x) => (x as unknown as El).dataset.action))).toContain('os-start');
  });

  it('Console log shows what the server printed', async () => {
    await page.click('#servers tr[data-name="web-ui"] button[data-action="console"]');
    await page.waitForFunction("/tick 1\\b/.test(document.querySelector('#console-output').textContent)", { timeout: 30_000 });
  });

  it('Delete: the row goes away and so does the container', async () => {
    await page.click('#servers tr[data-name="web-ui"] button[data-action="delete"]');
    await page.waitForFunction(`!document.querySelector('#servers tr[data-name="web-ui"]')`, { timeout: 90_000 });
    expect(await poll(() => containerState(serverId), (s) => s === 'absent')).toBe('absent');
  });
});

/** VmRSS and VmHWM of a process, in bytes (/proc/<pid>/status reports kB). */
function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

describe('a 200 MiB upload through the page', () => {
  let big: TestImage | undefined;

  beforeAll(async () => {
    // Runs alone too (jest -t): log in unless the first scenario did.
    if (!(await page.$('#nav:not([hidden])'))) await logIn();
  });
  afterAll(async () => {
    if (big) await docker(['rmi', '-f', big.imageId]);
  });

  it('streams: the server\'s peak resident memory grows by less than half the file, as PUT /file\'s does', async () => {
    // A valid docker-save archive with one 200 MiB layer of random bytes (incompressible),
    // imported and saved by id, then taken out of the engine so the upload loads it for real.
    const root = path.join(work, 'root');
    fs.mkdirSync(root);
    execFileSync('bash', ['-c', `head -c ${200 * MiB} /dev/urandom > ${root}/blob && tar -C ${root} -cf ${work}/rootfs.tar . && rm ${root}/blob`]);
    const imported = ok(await docker(['import', `${work}/rootfs.tar`])).stdout.trim();
    fs.rmSync(`${work}/rootfs.tar`);
    big = { imageId: imported.startsWith('sha256:') ? imported : `sha256:${imported}`, path: path.join(work, 'big.tar') };
    ok(await docker(['save', '-o', big.path, big.imageId]));
    ok(await docker(['rmi', big.imageId]));
    const size = fs.statSync(big.path).size;
    expect(size).toBeGreaterThan(200 * MiB);

    // Every process (two behind a balancer in the cluster run): the upload lands on one of them.
    // Reset the kernel's peak-RSS mark (clear_refs 5), so VmHWM afterwards is the upload's peak.
    const pids = srv.processes.map((p) => p.pid());
    const before = pids.map((pid) => {
      fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
      return memoryOf(pid).rss;
    });
    await uploadThroughPage('big-ui', big.path);
    const growth = Math.max(...pids.map((pid, i) => memoryOf(pid).hwm - before[i]));
    expect(await page.$eval('#upload-progress', (e) => (e as unknown as El).value)).toBe(100);
    expect(await imageInEngine(big.imageId)).toBe(true);
    // Measured: 48-56 MiB for the first large upload of a process and ~34 MiB after it, the same as
    // PUT /file's own pass (53 MiB cold, 28 MiB warm); a page route that buffered the file grew by
    // over 600 MiB. The bound is half the file: no copy of it can hide under that.
    expect({ growthMiB: Math.round(growth / MiB), underHalfTheFile: growth < size / 2 }).toEqual({ growthMiB: expect.any(Number), underHalfTheFile: true });
    fs.rmSync(big.path);
    // Removed through Glance, which takes it out of the engine too.
    await page.click('#images tr[data-name="big-ui"] button[data-action="delete"]');
    await page.waitForFunction(`!document.querySelector('#images tr[data-name="big-ui"]')`, { timeout: 60_000 });
  });
});
