/**
 * Debian's Horizon (openstack-dashboard) against a started novadock, driven by a real Chromium
 * (Debian's /usr/bin/chromium through puppeteer-core), the way a person clicks through it.
 *
 * `startHorizon` runs scripts/horizon.sh (the same script `npm run horizon` runs) on a free port;
 * `Dashboard` is one browser page with helpers that fail loudly on what a user would see as an
 * error: an error toast or alert, or a Horizon page that answers 500.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ChildProcess, spawn } from 'node:child_process';
import type { Browser, HTTPRequest, HTTPResponse, Page } from 'puppeteer-core';
import { freePort, ROOT } from '../helpers/server';

export const CHROMIUM = '/usr/bin/chromium';

// puppeteer-core is an ES module only: jest's module loader (its require and its createRequire)
// cannot load it, Node's own require can (require of ES modules, Node 20.19 and later), so it is
// loaded through Node's own `module`, which process.getBuiltinModule hands out past jest.
const nodeModule = process.getBuiltinModule('node:module') as typeof import('node:module');
const puppeteer = (nodeModule.createRequire(__filename)('puppeteer-core') as typeof import('puppeteer-core')).default;

// What the functions run inside the page use of it (the tsconfig has no DOM library, and adding it
// to the whole program would change the types of Node's own fetch elsewhere).
interface PageElement {
  textContent: string | null;
  offsetParent: unknown;
  classList: { contains(name: string): boolean };
  querySelector(selector: string): { click(): void } | null;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
}
declare const document: {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
};

export interface StartedHorizon {
  url: string;
  logFile: string;
  stop(): Promise<void>;
}

/** Horizon on 127.0.0.1:<free port> against `keystoneUrl`, ready when its login page answers. */
export async function startHorizon(keystoneUrl: string): Promise<StartedHorizon> {
  const port = await freePort();
  const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-horizon-')), 'horizon.log');
  const out = fs.openSync(logFile, 'a');
  const child: ChildProcess = spawn('bash', [path.join(ROOT, 'scripts', 'horizon.sh')], {
    cwd: ROOT,
    env: { ...process.env, NOVADOCK_HORIZON_PORT: String(port), NOVADOCK_HORIZON_KEYSTONE_URL: keystoneUrl, NOVADOCK_HORIZON_LOG_LEVEL: 'WARNING' },
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    fs.rmSync(path.dirname(logFile), { recursive: true, force: true });
  };
  // Django's server takes a few seconds to import Horizon: poll its login page (bounded).
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`horizon.sh exited ${child.exitCode}:\n${fs.readFileSync(logFile, 'utf8')}`);
    try {
      if ((await fetch(`${url}/auth/login/`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      const log = fs.readFileSync(logFile, 'utf8');
      await stop();
      throw new Error(`Horizon did not answer within 60 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, logFile, stop };
}

export async function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

/** What a page showed as an error: alert boxes and toasts, and Horizon's own failed requests. */
export interface Problems {
  alerts: string[];
  failedRequests: string[];
  /** Horizon's requests that got no answer at all (reset, aborted), named only beside an alert they may explain. */
  unanswered?: string[];
}

/**
 * One signed-in browser tab on Horizon. Records every response of Horizon's own origin that
 * answered 500 or more (a Horizon page or its REST API failing behind the scenes) and every
 * 4xx/5xx of its `/api/` calls (what the angular pages show as toasts).
 */
export class Dashboard {
  private failed: string[] = [];
  private unanswered: string[] = [];

  private constructor(readonly page: Page, readonly horizonUrl: string) {
    page.on('response', (r: HTTPResponse) => {
      const u = r.url();
      if (!u.startsWith(horizonUrl)) return;
      const api = u.startsWith(`${horizonUrl}/api/`);
      if (r.status() >= 500 || (api && r.status() >= 400)) this.failed.push(`${r.request().method()} ${u.slice(horizonUrl.length)} → ${r.status()}`);
    });
    page.on('requestfailed', (r: HTTPRequest) => {
      const u = r.url();
      if (u.startsWith(horizonUrl)) this.unanswered.push(`${r.method()} ${u.slice(horizonUrl.length)} → ${r.failure()?.errorText ?? 'no answer'}`);
    });
  }

  static async open(browser: Browser, horizonUrl: string): Promise<Dashboard> {
    const ctx = await browser.createBrowserContext();
    const page = await ctx.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    page.setDefaultTimeout(60_000);
    return new Dashboard(page, horizonUrl);
  }

  /**
   * Logs in through the login form, as someone following a link to `next` would; resolves once
   * Horizon has left the login page.
   */
  async login(user: string, password: string, next: string): Promise<void> {
    await this.page.goto(`${this.horizonUrl}/auth/login/?next=${encodeURIComponent(next)}`);
    await this.page.type('#id_username', user);
    await this.page.type('#id_password', password);
    await Promise.all([this.page.waitForNavigation({ waitUntil: 'networkidle0' }), this.page.click('#loginBtn')]);
    if (new URL(this.page.url()).pathname.startsWith('/auth/login')) {
      throw new Error(`login as ${user} failed: ${await this.texts('.alert, .help-block, .error')}`);
    }
  }

  /** Opens `p` and waits until its requests are done (the angular pages load their data after). */
  async visit(p: string): Promise<void> {
    const r = await this.page.goto(`${this.horizonUrl}${p}`, { waitUntil: 'networkidle0' });
    if (!r || r.status() >= 400) throw new Error(`GET ${p} → ${r?.status()}\n${await this.texts('#main_content, body')}`);
  }

  /** Text of every element matching `selector`, whitespace collapsed. */
  texts(selector: string): Promise<string[]> {
    return this.page.$$eval(selector, (els) => els.map((e) => (e.textContent ?? '').replace(/\s+/g, ' ').trim()));
  }

  /** Errors on screen now (alerts and toasts of the danger/error kind) and failed requests so far; clears the latter. */
  async problems(): Promise<Problems> {
    const alerts = await this.alerts();
    const failedRequests = this.failed;
    const unanswered = this.unanswered;
    this.failed = [];
    this.unanswered = [];
    // A page that navigates aborts its pending requests without harm: those count only when an
    // alert is shown, to say what it may be about (an angular toast names no request).
    return alerts.length > 0 && unanswered.length > 0 ? { alerts, failedRequests, unanswered } : { alerts, failedRequests };
  }

  /** Error alerts and toasts on screen now. */
  private async alerts(): Promise<string[]> {
    // (An empty one is a placeholder the page fills on an error: nothing is shown.)
    return (await this.texts('.alert-danger, .alert-error, .messages .error, .toast-error')).filter((t) => t !== '');
  }

  /** Clicks `selector` and waits for the page it leads to. */
  async clickAndWait(selector: string): Promise<void> {
    await Promise.all([this.page.waitForNavigation({ waitUntil: 'networkidle0' }), this.page.click(selector)]);
  }

  /**
   * A row action of a Horizon table on the page at `listPath` (the row's dropdown, or its primary
   * button), confirmed in Horizon's confirmation dialog when it asks; waits for the page the
   * action reloads.
   */
  async rowAction(listPath: string, table: string, id: string, action: string): Promise<void> {
    // A row that Horizon's ajax polling replaced loses its buttons' handlers: act on a freshly
    // loaded page, as a user coming back to it would.
    await this.visit(listPath);
    const button = `#${table}__row_${id}__action_${action}`;
    await this.page.waitForSelector(button).catch((e: Error) => this.fail(e));
    if (!(await this.page.$eval(button, (e) => (e as unknown as PageElement).offsetParent !== null))) {
      await this.page.click(`#${table}__row__${id} .dropdown-toggle`);
    }
    // Horizon asks for a confirmation for its dangerous actions (btn-danger) only.
    if (!(await this.page.$eval(button, (e) => e.classList.contains('btn-danger')))) {
      await this.clickAndWait(button);
      return;
    }
    await this.page.click(button);
    const confirm = '.modal.in .modal-footer a.btn:not(.cancel)';
    await this.page.waitForSelector(confirm, { visible: true }).catch((e: Error) => this.fail(e));
    await this.clickAndWait(confirm);
  }

  /** Waits until the table row of `id` shows `status` in its status column (rows update themselves by ajax). */
  async rowStatus(table: string, id: string, status: string, timeoutMs = 120_000): Promise<void> {
    await this.page.waitForFunction(
      (sel: string, want: string) => {
        const row = document.querySelector(sel);
        return !!row && Array.from(row.querySelectorAll('td')).some((td) => (td.textContent ?? '').trim() === want);
      },
      { timeout: timeoutMs, polling: 250 },
      `#${table}__row__${id}`,
      status,
    );
  }

  /** Waits until a table row whose text includes `text` also matches `pattern`; returns its text. */
  async rowMatching(text: string, pattern: RegExp, timeoutMs = 120_000): Promise<string> {
    const handle = await this.page.waitForFunction(
      (want: string, source: string, flags: string) => {
        const tr = Array.from(document.querySelectorAll('tr')).find((r) => (r.textContent ?? '').includes(want));
        return tr && new RegExp(source, flags).test(tr.textContent ?? '') ? (tr.textContent ?? '').replace(/\s+/g, ' ') : null;
      },
      { timeout: timeoutMs, polling: 500 },
      text,
      pattern.source,
      pattern.flags,
    );
    return (await handle.jsonValue()) as string;
  }

  /**
   * In the open step of a Horizon transfer table (Launch Instance's Source, Flavor, Key Pair),
   * moves the available row whose first column is `name` to Allocated with its ↑ button.
   */
  async allocate(name: string): Promise<void> {
    const row = await this.page.waitForFunction(
      (want: string) => Array.from(document.querySelectorAll('.modal.in tr')).find((tr) => {
        if (tr.offsetParent === null || !tr.querySelector('.fa-arrow-up')) return false;
        return Array.from(tr.querySelectorAll('td')).some((td) => (td.textContent ?? '').trim() === want);
      }),
      { polling: 250 },
      name,
    ).catch((e: Error) => this.fail(e));
    await this.page.evaluate((r) => (r as unknown as PageElement).querySelector('.fa-arrow-up')?.click(), row);
  }

  /** Waits until the text of `selector` includes `text`. */
  async textAppears(selector: string, text: string, timeoutMs = 60_000): Promise<void> {
    await this.page.waitForFunction(
      (sel: string, want: string) => (document.querySelector(sel)?.textContent ?? '').includes(want),
      { timeout: timeoutMs, polling: 250 },
      selector,
      text,
    ).catch((e: Error) => this.fail(e));
  }

  /**
   * Rethrows `e` with a screenshot of the page saved beside it (its path in the message), and what
   * went wrong on the page meanwhile: alerts, failed and unanswered requests.
   */
  async fail(e: Error): Promise<never> {
    const file = path.join(os.tmpdir(), `novadock-horizon-${Date.now()}.png`);
    await this.page.screenshot({ path: file }).catch(() => undefined);
    const alerts = await this.alerts().catch(() => []);
    e.message += `\n(page ${this.page.url()}, screenshot ${file})\n${JSON.stringify({ alerts, failedRequests: this.failed, unanswered: this.unanswered })}`;
    throw e;
  }

  async close(): Promise<void> {
    await this.page.browserContext().close();
  }
}
