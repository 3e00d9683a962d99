// Login, the tabs, and which view is mounted. Each view module exports mount(el, session) and
// returns a stop function (its polling ends with it).
import { attempt, login, session, showAlert } from './api.js';
import * as servers from './servers.js';
import * as images from './images.js';
import * as hosts from './hosts.js';
import * as flavors from './flavors.js';

const VIEWS = { servers, images, hosts, flavors };
const $ = (id) => document.getElementById(id);
let stop = () => {};

function route() {
  stop();
  stop = () => {};
  const s = session.get();
  const loggedIn = Boolean(s?.token);
  $('login').hidden = loggedIn;
  $('nav').hidden = !loggedIn;
  $('who').hidden = !loggedIn;
  const view = $('view');
  view.replaceChildren();
  if (!loggedIn) return;
  $('who-name').textContent = `${s.user} · ${s.project}${s.isAdmin ? ' (admin)' : ''}`;
  const name = (location.hash.slice(1) in VIEWS) ? location.hash.slice(1) : 'servers';
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.view === name);
  stop = VIEWS[name].mount(view, s) ?? (() => {});
}

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  attempt(async () => {
    await login(f.get('user'), f.get('password'), f.get('project'));
    e.target.reset();
    route();
  });
});
$('logout').addEventListener('click', () => {
  const s = session.get();
  // Revoke the token (Keystone DELETE /v3/auth/tokens); the page forgets it either way.
  if (s) fetch('/identity/v3/auth/tokens', { method: 'DELETE', headers: { 'X-Auth-Token': s.token, 'X-Subject-Token': s.token } }).catch(() => {});
  session.clear();
  showAlert('');
  route();
});
window.addEventListener('novadock:logout', () => {
  route();
  showAlert('Your session ended; log in again.', 'info');
});
window.addEventListener('hashchange', () => { showAlert(''); route(); });
route();
