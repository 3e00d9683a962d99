// The page's one way to the APIs: Keystone for the token, then Nova and Glance with X-Auth-Token,
// exactly as any other client calls them (same origin: the paths of the devstack layout).
const KEY = 'novadock.session';
export const COMPUTE = '/compute/v2.1';
export const IMAGE = '/image/v2';

export const session = {
  get() {
    try { return JSON.parse(sessionStorage.getItem(KEY)); } catch { return null; }
  },
  set(s) { sessionStorage.setItem(KEY, JSON.stringify(s)); },
  clear() { sessionStorage.removeItem(KEY); },
};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The message of any of the three APIs' error bodies: Nova {fault: {message}}, Keystone {error: {message}}, Glance {message}. */
function messageOf(status, body, text) {
  if (body && typeof body === 'object') {
    if (typeof body.message === 'string') return body.message;
    for (const v of Object.values(body)) if (v && typeof v.message === 'string') return v.message;
  }
  return text ? text.slice(0, 300) : `HTTP ${status}`;
}

/** Expired or revoked: back to the login form. */
function expired() {
  session.clear();
  window.dispatchEvent(new Event('novadock:logout'));
}

export async function api(method, path, body, headers = {}) {
  const s = session.get();
  const h = { Accept: 'application/json', ...headers };
  if (s) h['X-Auth-Token'] = s.token;
  if (body !== undefined && !h['Content-Type']) h['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON: a console log is JSON too; keep the text */ }
  if (!res.ok) {
    if (res.status === 401 && s) expired();
    throw new ApiError(res.status, messageOf(res.status, data, text));
  }
  return data;
}

/** POST /identity/v3/auth/tokens, project-scoped, domain Default. */
export async function login(user, password, project) {
  const res = await fetch('/identity/v3/auth/tokens', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ auth: {
      identity: { methods: ['password'], password: { user: { name: user, domain: { name: 'Default' }, password } } },
      scope: { project: { name: project, domain: { name: 'Default' } } },
    } }),
  });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, messageOf(res.status, data, ''));
  const t = data.token;
  const roles = (t.roles ?? []).map((r) => r.name);
  const s = { token: res.headers.get('X-Subject-Token'), user: t.user.name, project: t.project.name, roles, isAdmin: roles.includes('admin'), expires: t.expires_at };
  session.set(s);
  return s;
}

/**
 * The file through the page's multipart route, streamed by the browser; `onProgress(sent, total)`
 * from XHR's upload events (fetch has none). The size goes first so an over-cap file is refused
 * before its bytes are read.
 */
export function uploadImageFile(imageId, file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append('size', String(file.size));
    form.append('file', file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/ui/images/${encodeURIComponent(imageId)}/upload`);
    xhr.setRequestHeader('X-Auth-Token', session.get()?.token ?? '');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { /* plain text */ }
      if (xhr.status === 401) expired();
      reject(new ApiError(xhr.status, messageOf(xhr.status, data, xhr.responseText)));
    };
    xhr.onerror = () => reject(new ApiError(0, 'The upload was cut off (network error).'));
    xhr.send(form);
  });
}

/** A DOM element: h('td', {class: 'x', onclick}, 'text', child…). Text is always text, never HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

export function showAlert(message, kind = 'error') {
  const el = document.getElementById('alert');
  el.textContent = message;
  el.className = kind === 'info' ? 'info' : '';
  el.hidden = !message;
}

/** Runs an action, showing its error (if any) in the alert line. */
export async function attempt(fn) {
  try {
    showAlert('');
    return await fn();
  } catch (e) {
    showAlert(e.message || String(e));
    return undefined;
  }
}

export const fmtBytes = (n) => {
  if (n === null || n === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
};
