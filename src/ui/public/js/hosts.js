// Capacity, drawn: each compute host's vCPUs, RAM and disk, used and free (os-hypervisors, admin
// only), and the project's own quota use (limits) for everyone. Refreshed every 5 s.
import { api, attempt, COMPUTE, fmtBytes, h } from './api.js';

const SVG = 'http://www.w3.org/2000/svg';
function rect(x, w, cls) {
  const r = document.createElementNS(SVG, 'rect');
  for (const [k, v] of Object.entries({ x: `${x}%`, y: 0, width: `${w}%`, height: 14, class: cls })) r.setAttribute(k, String(v));
  return r;
}

/** One bar: used in colour, free in grey; `total` < 0 means unlimited. */
function meter(label, used, total, fmt = String) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('role', 'img');
  const unlimited = total < 0;
  const share = unlimited || total === 0 ? 0 : Math.min(100, (used / total) * 100);
  svg.setAttribute('aria-label', `${label}: ${used} of ${unlimited ? 'unlimited' : total} used`);
  svg.append(rect(0, 100, 'free'), rect(0, share, used > total && !unlimited ? 'over' : 'used'));
  const text = unlimited ? `${fmt(used)} used, no limit`
    : total === 0 ? `${fmt(used)} used, size not reported`
      : `${fmt(used)} used, ${fmt(Math.max(0, total - used))} free${used > total ? ' (over-committed)' : ''}`;
  return h('div', { class: 'meter', dataset: { meter: label, used, total } }, h('span', {}, label), svg, h('span', {}, text));
}

const mib = (n) => fmtBytes(n * 1024 * 1024);
const gib = (n) => fmtBytes(n * 1024 * 1024 * 1024);

async function draw(quota, hostsEl, admin) {
  const { limits: { absolute: a } } = await api('GET', `${COMPUTE}/limits`);
  quota.replaceChildren(h('h3', {}, 'This project'),
    meter('Servers', a.totalInstancesUsed, a.maxTotalInstances),
    meter('vCPUs', a.totalCoresUsed, a.maxTotalCores),
    meter('RAM', a.totalRAMUsed, a.maxTotalRAMSize, mib));
  if (!admin) {
    hostsEl.replaceChildren(h('p', { class: 'hint' }, 'Compute hosts and their capacity are for admins (os-hypervisors is admin only).'));
    return;
  }
  const { hypervisors } = await api('GET', `${COMPUTE}/os-hypervisors/detail`);
  hostsEl.replaceChildren(...hypervisors.map((x) => h('div', { class: 'card host', dataset: { host: x.hypervisor_hostname } },
    h('h3', {}, `${x.hypervisor_hostname} `, h('span', { class: `status ${x.state === 'up' ? 'ACTIVE' : 'ERROR'}` }, `${x.state}, ${x.status}`)),
    meter('vCPUs', x.vcpus_used, x.vcpus),
    meter('RAM', x.memory_mb_used, x.memory_mb, mib),
    meter('Disk', x.local_gb_used, x.local_gb, gib),
    h('p', { class: 'hint' }, `${x.running_vms} running · ${x.hypervisor_type} ${x.hypervisor_version} · ${x.host_ip ?? ''}`))));
}

export function mount(el, s) {
  const quota = h('div', { class: 'card', id: 'quota' });
  const hostsEl = h('div', { class: 'hosts', id: 'hosts' });
  el.append(h('h2', {}, 'Capacity'), quota, hostsEl);
  const tick = () => attempt(() => draw(quota, hostsEl, s.isAdmin));
  tick();
  const timer = setInterval(tick, 5000);
  return () => clearInterval(timer);
}
