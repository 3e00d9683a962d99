/**
 * The network service's figures (issue 17, Performance), on a real novadock and the local engine:
 *
 *   bash bench/run.sh network [--repeats 9] [--associations 9] [--rounds 3] [--size-mib 1024]
 *
 * 1. Boot on a named (user-made) network with a non-default security group against today's boot
 *    on the project's default network (`networks: auto`), alternating, in one run; ACTIVE is read
 *    from OS-SRV-USG:launched_at as bench/boot.ts does. Target: p50 ratio <= 1.1.
 * 2. Floating IP associate → first HTTP reply through it: PUT /floatingips/{id} with the server's
 *    port, then curl from the host polled (a new one every 50 ms) until the busybox httpd in the
 *    server answers on the floating address. Target: p50 <= 500 ms. Each round disassociates again (and checks the
 *    address stops answering) before the next.
 * 3. Throughput through the floating IP: a 1 GiB file (sparse: no disk in the way) served by the
 *    same httpd, fetched by curl from the host through the floating IP and straight from the
 *    server's fixed IP, alternating, medians of `rounds`. Target: ratio >= 0.8.
 *
 * The external network is a bridge the bench makes (10.250.20.1/24, refused if any route but the
 * default one already leads into that range) and removes afterwards; the named network's subnet
 * is 10.250.21.0/24. Every packet stays on the machine: curl talks to the bridge's /32s and the
 * project networks' addresses only. Servers, networks, floating IPs, the bridge and, when they
 * are empty, the NAT chains the server installed are removed at the end.
 */
import crypto from 'node:crypto';
import { execFile, execFileSync } from 'node:child_process';
import { api, Api, benchImage, deleteServers, main, median, ms, now, numArg, percentile, report, sleep, startBenchServer, uploadImage, waitStatus } from './lib';
import { IptablesNat } from '../src/virt/nat-iptables';
import { NAT_CHAINS } from '../src/virt/nat';

const EXTERNAL = '10.250.20.0/24';
const EXTERNAL_GW = '10.250.20.1';
const NAMED = '10.250.21.0/24';
const PORT = 8080;
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });

/** curl from the host: resolves to its `-w` output, or undefined when nothing answered. */
function curl(args: string[], timeoutS: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', String(timeoutS), ...args], { encoding: 'utf8', maxBuffer: 1 << 20 }, (e, out) => resolve(e ? undefined : out));
  });
}

/**
 * Polls the page on `ip` by starting a curl every `everyMs` (each given 1 s), so that a request
 * sent just before the forward existed (its SYN lost) does not hide the next one's answer;
 * resolves to ms from `since` when the first answers.
 */
function firstAnswer(ip: string, since: bigint, everyMs = 50, timeoutMs = 30_000): Promise<number> {
  return new Promise((resolve, reject) => {
    let done = false;
    const deadline = Date.now() + timeoutMs;
    const launch = () => {
      if (done) return;
      if (Date.now() > deadline) {
        done = true;
        reject(new Error(`${ip} did not answer ${timeoutMs} ms after the association`));
        return;
      }
      void curl([`http://${ip}:${PORT}/`], 1).then((out) => {
        if (!done && out === 'ok\n') {
          done = true;
          resolve(ms(since));
        }
      });
      setTimeout(launch, everyMs);
    };
    launch();
  });
}

/** Neither the external nor the named range may be known to this machine already. */
function checkRangesFree(): void {
  for (const range of [EXTERNAL, NAMED]) {
    const probe = range.replace(/0\/24$/, '1');
    const routes = sh('ip', ['-4', 'route', 'show', 'to', 'match', probe]).split('\n').filter((l) => l.trim() && !l.startsWith('default'));
    const addrs = sh('ip', ['-4', '-o', 'addr', 'show', 'to', range]).trim();
    if (routes.length > 0 || addrs) throw new Error(`${range} is in use on this machine (${[...routes, addrs].join('; ')}): not benchmarking over it`);
  }
}

async function must<T>(a: Api, method: string, p: string, body?: unknown, status = [200, 201, 202, 204]): Promise<T> {
  const r = await a.req<T>(method, p, body);
  if (!status.includes(r.status)) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

async function bootOn(a: Api, name: string, imageRef: string, extra: Record<string, unknown>): Promise<string> {
  const r = await a.req<{ server: { id: string } }>('POST', '/compute/v2.1/servers', { server: { name, imageRef, flavorRef: '1', ...extra } }, { 'X-OpenStack-Nova-API-Version': '2.37' });
  if (r.status !== 202) throw new Error(`boot ${name}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.server.id;
}

/** POST → ACTIVE in ms, from OS-SRV-USG:launched_at against the wall clock before the POST. */
async function timedBoot(a: Api, name: string, imageRef: string, extra: Record<string, unknown>, ids: string[]): Promise<number> {
  const posted = Date.now();
  const id = await bootOn(a, name, imageRef, extra);
  ids.push(id);
  await waitStatus(a, id, 'ACTIVE', now(), 100);
  const r = await a.req<{ server: { 'OS-SRV-USG:launched_at': string | null } }>('GET', `/compute/v2.1/servers/${id}`);
  const at = r.body.server['OS-SRV-USG:launched_at'];
  if (!at) throw new Error(`server ${id} is ACTIVE without launched_at`);
  return Date.parse(`${at.slice(0, 23)}Z`) - posted;
}

async function deleteTracked(a: Api, ids: string[]): Promise<void> {
  await deleteServers(a, ids.splice(0));
}

main(async (cleanups) => {
  const repeats = numArg('repeats', 9);
  const associations = numArg('associations', 9);
  const rounds = numArg('rounds', 3);
  const sizeMiB = numArg('size-mib', 1024);
  const tag = crypto.randomBytes(3).toString('hex');
  const bridge = `ndbench${tag}`;

  checkRangesFree();
  sh('ip', ['link', 'add', bridge, 'type', 'bridge']);
  cleanups.push(async () => { sh('ip', ['link', 'del', bridge]); });
  sh('ip', ['addr', 'add', `${EXTERNAL_GW}/24`, 'dev', bridge]);
  sh('ip', ['link', 'set', bridge, 'up']);
  // Whatever the server installs: removed once its rows are gone (the chains only when empty:
  // another novadock on this engine may be using them).
  cleanups.push(() => clearNat(bridge));

  const image = benchImage(`bench-httpd-${sizeMiB}`, ['/bin/sh', '-c',
    `mkdir -p /www && echo ok > /www/index.html && dd if=/dev/zero of=/www/big bs=1048576 count=0 seek=${sizeMiB} 2>/dev/null && exec /bin/busybox httpd -f -p ${PORT} -h /www`]);
  const srv = await startBenchServer({ env: { NOVADOCK_EXTERNAL_INTERFACE: bridge } });
  cleanups.push(() => srv.cleanup());
  const a = await api(srv);
  const imageRef = await uploadImage(a, 'bench-httpd', image.path);
  const ids: string[] = [];
  const fipIds: string[] = [];
  const netIds: string[] = [];
  cleanups.push(async () => {
    await deleteTracked(a, ids);
    for (const f of fipIds) await a.req('DELETE', `/networking/v2.0/floatingips/${f}`);
    for (const n of netIds.reverse()) await a.req('DELETE', `/networking/v2.0/networks/${n}`);
  });

  // The named network, a security group allowing the web port, and the external network.
  const net = (await must<{ network: { id: string } }>(a, 'POST', '/networking/v2.0/networks', { network: { name: 'bench-net' } })).network;
  netIds.push(net.id);
  await must(a, 'POST', '/networking/v2.0/subnets', { subnet: { network_id: net.id, name: 'bench-sub', cidr: NAMED, ip_version: 4 } });
  const sg = (await must<{ security_group: { id: string } }>(a, 'POST', '/networking/v2.0/security-groups', { security_group: { name: 'bench-web' } })).security_group;
  await must(a, 'POST', '/networking/v2.0/security-group-rules', { security_group_rule: { security_group_id: sg.id, direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: PORT, port_range_max: PORT, remote_ip_prefix: '0.0.0.0/0' } });
  const ext = (await must<{ network: { id: string } }>(a, 'POST', '/networking/v2.0/networks', { network: { name: 'bench-ext', 'router:external': true } })).network;
  netIds.push(ext.id);
  await must(a, 'POST', '/networking/v2.0/subnets', { subnet: { network_id: ext.id, name: 'bench-ext-sub', cidr: EXTERNAL, ip_version: 4, gateway_ip: EXTERNAL_GW } });

  const named = { networks: [{ uuid: net.id }], security_groups: [{ name: 'bench-web' }] };
  const dflt = { networks: 'auto' };

  // 1. Boot latency, named network + group vs the default network, alternating (one warm-up each).
  for (const extra of [dflt, named]) await timedBoot(a, 'warm', imageRef, extra, ids);
  await deleteTracked(a, ids);
  const dfltLat: number[] = [];
  const namedLat: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const order = i % 2 === 0 ? [dflt, named] : [named, dflt];
    for (const extra of order) {
      const t = await timedBoot(a, `boot-${i}`, imageRef, extra, ids);
      (extra === named ? namedLat : dfltLat).push(t);
      await deleteTracked(a, ids);
      await sleep(100);
    }
  }
  process.stderr.write(`boot samples (ms): default ${dfltLat.map((v) => v.toFixed(0)).join(' ')}; named ${namedLat.map((v) => v.toFixed(0)).join(' ')}\n`);
  process.stderr.write(`boot: default p50 ${median(dfltLat).toFixed(0)} ms, named+group p50 ${median(namedLat).toFixed(0)} ms\n`);

  // 2. Associate → first reply through the floating IP.
  const web = await bootOn(a, 'web', imageRef, named);
  ids.push(web);
  await waitStatus(a, web, 'ACTIVE', now(), 100);
  const port = (await must<{ ports: { id: string; fixed_ips: { ip_address: string }[] }[] }>(a, 'GET', `/networking/v2.0/ports?device_id=${web}`)).ports[0];
  const fixed = port.fixed_ips[0].ip_address;
  const fip = (await must<{ floatingip: { id: string; floating_ip_address: string } }>(a, 'POST', '/networking/v2.0/floatingips', { floatingip: { floating_network_id: ext.id } })).floatingip;
  fipIds.push(fip.id);
  const floating = fip.floating_ip_address;
  if (!sh('ip', ['route', 'get', floating]).includes(bridge) && !sh('ip', ['route', 'get', floating]).includes('local')) throw new Error(`${floating} does not lead to ${bridge}`);
  const page = (ip: string) => curl([`http://${ip}:${PORT}/`], 1);
  for (let i = 0; i < 100 && (await page(fixed)) === undefined; i++) await sleep(100);
  if ((await page(fixed)) !== 'ok\n') throw new Error(`the server's httpd does not answer on ${fixed}`);

  // The floor: one curl (process start included) answered straight from the fixed IP.
  const curlMs: number[] = [];
  for (let i = 0; i < associations; i++) {
    const t = now();
    if ((await page(fixed)) !== 'ok\n') throw new Error(`the server's httpd stopped answering on ${fixed}`);
    curlMs.push(ms(t));
  }
  // The API's own floor: a GET of the same floating IP.
  const getMs: number[] = [];
  for (let i = 0; i < associations; i++) {
    const t = now();
    await must(a, 'GET', `/networking/v2.0/floatingips/${fip.id}`);
    getMs.push(ms(t));
  }
  const firstReply: number[] = [];
  const putMs: number[] = [];
  for (let i = 0; i < associations; i++) {
    if ((await page(floating)) !== undefined) throw new Error(`${floating} answers before it is associated`);
    const t = now();
    await must(a, 'PUT', `/networking/v2.0/floatingips/${fip.id}`, { floatingip: { port_id: port.id } });
    putMs.push(ms(t));
    firstReply.push(await firstAnswer(floating, t));
    if (i < associations - 1) {
      await must(a, 'PUT', `/networking/v2.0/floatingips/${fip.id}`, { floatingip: { port_id: null } });
      await sleep(200);
    }
  }
  process.stderr.write(`associate → first reply: p50 ${median(firstReply).toFixed(0)} ms (PUT alone p50 ${median(putMs).toFixed(0)} ms)\n`);

  // 3. Throughput: the same file through the floating IP and straight to the fixed IP.
  const fetchBig = async (ip: string): Promise<number> => {
    const out = await curl(['-o', '/dev/null', '-w', '%{size_download} %{time_total}', `http://${ip}:${PORT}/big`], 600);
    if (!out) throw new Error(`GET http://${ip}:${PORT}/big failed`);
    const [size, secs] = out.trim().split(' ').map(Number);
    if (size !== sizeMiB * 1048576) throw new Error(`GET http://${ip}:${PORT}/big: ${size} bytes`);
    return size / 1048576 / secs;
  };
  await fetchBig(fixed);
  const viaFixed: number[] = [];
  const viaFloating: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? [fixed, floating] : [floating, fixed];
    for (const ip of order) (ip === fixed ? viaFixed : viaFloating).push(await fetchBig(ip));
  }
  process.stderr.write(`throughput: fixed ${viaFixed.map((v) => v.toFixed(0)).join(', ')} MiB/s, floating ${viaFloating.map((v) => v.toFixed(0)).join(', ')} MiB/s\n`);
  const natRules = sh('iptables-save', ['-t', 'nat']).split('\n').filter((l) => l.startsWith('-A')).length;
  const filterRules = sh('iptables-save', ['-t', 'filter']).split('\n').filter((l) => l.startsWith('-A')).length;

  await deleteTracked(a, ids);
  const bootRatio = median(namedLat) / median(dfltLat);
  const tputRatio = median(viaFloating) / median(viaFixed);
  report('network', [
    { name: 'boot, default network p50', value: median(dfltLat), unit: 'ms' },
    { name: 'boot, named network + security group p50', value: median(namedLat), unit: 'ms' },
    { name: 'boot ratio (p50)', value: bootRatio, unit: '×', target: '<= 1.1', met: bootRatio <= 1.1 },
    { name: 'one curl to the fixed IP p50 (the floor)', value: median(curlMs), unit: 'ms' },
    { name: 'GET /floatingips/{id} p50 (the API\'s floor)', value: median(getMs), unit: 'ms' },
    { name: 'floating IP PUT (associate) p50', value: median(putMs), unit: 'ms' },
    { name: 'associate → first reply p50', value: median(firstReply), unit: 'ms', target: '<= 500', met: median(firstReply) <= 500 },
    { name: 'associate → first reply p95', value: percentile(firstReply, 95), unit: 'ms' },
    { name: `${sizeMiB} MiB to the fixed IP, median`, value: median(viaFixed), unit: 'MiB/s' },
    { name: `${sizeMiB} MiB through the floating IP, median`, value: median(viaFloating), unit: 'MiB/s' },
    { name: 'throughput ratio (floating / fixed)', value: tputRatio, unit: '×', target: '>= 0.8', met: tputRatio >= 0.8 },
  ], [
    `${repeats} boots each side, alternating; ACTIVE = OS-SRV-USG:launched_at (GET polled every 100 ms).`,
    `${associations} associations: PUT /floatingips/{id} {port_id}, then a curl started every 50 ms (1 s timeout each) until the httpd answers through the floating IP.`,
    `${rounds} transfers each way, alternating, curl -o /dev/null from the host; iptables rules on the host: nat ${natRules}, filter ${filterRules}.`,
    `load: ${sh('uptime', []).trim()}`,
  ]);
});

/** Removes the server's NAT chains and jumps if they hold no rules (nobody else's then). */
async function clearNat(bridge: string): Promise<void> {
  const saved = sh('iptables-save', []);
  const ours = Object.values(NAT_CHAINS).flatMap((c) => Object.values(c) as string[]);
  if (saved.split('\n').some((l) => ours.some((ch) => l.startsWith(`-A ${ch} `)))) {
    process.stderr.write('NAT chains still hold rules (another novadock\'s?): left in place\n');
    return;
  }
  await new IptablesNat().clear('local', bridge, [EXTERNAL]);
}
