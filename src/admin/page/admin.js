// The admin page's script: renders the snapshots the event stream pushes, keyed by app and version
// so rows are updated in place (a button being clicked is never replaced under the pointer), and
// turns buttons into POSTs to the API. Every app-provided string goes in through textContent or
// setAttribute, never as markup.
'use strict';
(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').getAttribute('content');
  const $ = (id) => document.getElementById(id);
  const cards = new Map(); // app name → { root, path, target, tbody, rows: Map<key, row> }
  const seenEvents = new Set();
  const maxEvents = 100;

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    e.append(...children);
    return e;
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function fmtInt(n) {
    return n.toLocaleString('en-US');
  }

  function fmtMs(ms) {
    if (ms === null) return '–';
    return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
  }

  function fmtMb(bytes) {
    const mb = bytes / 1048576;
    return mb < 10 ? mb.toFixed(1) : String(Math.round(mb));
  }

  function fmtAgo(at, now) {
    if (at === null) return '–';
    const s = Math.max(0, Math.round((now - at) / 1000));
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min ago`;
    return new Date(at).toLocaleString();
  }

  function fmtTime(at) {
    return new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  }

  function toast(message, isError) {
    const t = $('toast');
    t.textContent = message;
    t.className = isError ? 'toast error' : 'toast';
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, isError ? 8000 : 3000);
  }

  async function post(url, what) {
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'x-csrf-token': csrf }, credentials: 'same-origin' });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
      toast(`${what}: done`, false);
      return body;
    } catch (err) {
      toast(`${what}: ${err.message}`, true);
      return null;
    }
  }

  function versionUrl(app, v, action) {
    const seg = v.version === null ? '_' : v.version;
    return `/api/apps/${encodeURIComponent(app)}/versions/${encodeURIComponent(seg)}/${action}`;
  }

  function actionButton(label, action, cls) {
    return el('button', { type: 'button', class: cls || null, 'data-action': action }, label);
  }

  function makeRow(appName, key) {
    const r = {};
    r.label = el('span', { class: 'ver' });
    r.badge = el('span', { class: 'badge', hidden: true }, 'new sessions');
    r.state = el('span', { class: 'pill', 'data-field': 'state' });
    r.error = el('div', { class: 'err', 'data-field': 'error' });
    r.thread = el('div', { class: 'meta', 'data-field': 'thread' });
    r.thread.title = 'A call held the main thread too long: this version runs its calls on a worker thread until calm again';
    r.sessions = el('td', { class: 'num', 'data-field': 'sessions' });
    r.requests = el('td', { class: 'num', 'data-field': 'requests' });
    r.errors = el('td', { class: 'num', 'data-field': 'errors' });
    r.p50 = el('span', { 'data-field': 'p50' });
    r.p99 = el('span', { 'data-field': 'p99' });
    r.barFill = el('span');
    r.bar = el('div', { class: 'bar' }, r.barFill);
    r.heapText = el('span', { class: 'heap-text', 'data-field': 'heap' });
    r.loaded = el('span', { 'data-field': 'loaded' });
    r.source = el('code', { class: 'source', 'data-field': 'source' });
    r.toggle = actionButton('Disable', 'disable');
    r.expire = actionButton('Expire', 'expire-sessions');
    r.expire.title = 'Expire all sessions of this version';
    r.redeploy = actionButton('Redeploy', 'redeploy');
    r.redeploy.title = 'Load the bundle again in a fresh isolate';
    r.undeploy = actionButton('Undeploy', 'undeploy', 'danger');
    r.undeploy.title = 'Unload this version and move its bundle to the retired folder';
    r.tr = el('tr', { 'data-app': appName, 'data-version': key },
      el('td', {}, el('div', {}, r.label, r.badge), el('div', { class: 'meta' }, r.source, el('span', { class: 'sep' }, ' · '), r.loaded)),
      el('td', {}, r.state, r.thread, r.error),
      r.sessions, r.requests, r.errors,
      el('td', { class: 'num latency' }, r.p50, el('span', { class: 'sep' }, ' / '), r.p99),
      el('td', {}, el('div', { class: 'heap' }, r.bar, r.heapText)),
      el('td', {}, el('div', { class: 'actions' }, r.toggle, r.expire, r.redeploy, r.undeploy)));
    const act = async (button, action, what, confirmText) => {
      if (confirmText && !window.confirm(confirmText)) return;
      button.disabled = true;
      try {
        await post(versionUrl(appName, r.v, action), what);
      } finally {
        button.disabled = false;
      }
    };
    r.toggle.addEventListener('click', () => {
      const action = r.v.disabled ? 'enable' : 'disable';
      act(r.toggle, action, `${action} ${appName} ${r.v.label}`);
    });
    r.expire.addEventListener('click', () => act(r.expire, 'expire-sessions', `expire sessions of ${appName} ${r.v.label}`,
      `Expire all ${r.v.sessions} sessions of ${appName} ${r.v.label}? Their users are logged out.`));
    r.redeploy.addEventListener('click', () => act(r.redeploy, 'redeploy', `redeploy ${appName} ${r.v.label}`));
    r.undeploy.addEventListener('click', () => act(r.undeploy, 'undeploy', `undeploy ${appName} ${r.v.label}`,
      `Undeploy ${appName} ${r.v.label}? Its sessions move to another version; the bundle is moved to the retired folder.`));
    return r;
  }

  function updateRow(r, v, now) {
    r.v = v;
    r.tr.classList.toggle('target', v.newSessions);
    setText(r.label, v.label);
    r.badge.hidden = !v.newSessions;
    setText(r.state, v.state);
    r.state.setAttribute('data-state', v.state);
    setText(r.thread, v.thread === 'pool' ? 'off the main thread' : '');
    setText(r.error, v.error === null ? '' : v.error);
    r.error.title = v.error === null ? '' : v.error;
    setText(r.sessions, fmtInt(v.sessions));
    setText(r.requests, fmtInt(v.requests));
    setText(r.errors, fmtInt(v.errors));
    r.errors.classList.toggle('errors-nonzero', v.errors > 0);
    setText(r.p50, fmtMs(v.p50Ms));
    setText(r.p99, fmtMs(v.p99Ms));
    if (v.heapUsedBytes === null) {
      setText(r.heapText, '–');
      r.bar.hidden = true;
    } else {
      const ratio = Math.min(1, v.heapUsedBytes / v.heapLimitBytes);
      r.bar.hidden = false;
      r.barFill.style.width = `${(ratio * 100).toFixed(1)}%`;
      r.bar.classList.toggle('high', ratio > 0.8);
      setText(r.heapText, `${fmtMb(v.heapUsedBytes)} / ${fmtMb(v.heapLimitBytes)} MB`);
    }
    setText(r.loaded, v.loadedAt === null ? 'not loaded' : `loaded ${fmtAgo(v.loadedAt, now)}`);
    r.loaded.title = v.loadedAt === null ? '' : new Date(v.loadedAt).toISOString();
    setText(r.source, v.source);
    setText(r.toggle, v.disabled ? 'Enable' : 'Disable');
    r.toggle.setAttribute('data-action', v.disabled ? 'enable' : 'disable');
  }

  function makeCard(app) {
    const c = { rows: new Map() };
    c.path = el('code', { class: 'app-path' });
    c.target = el('span', { class: 'app-target' });
    c.tbody = el('tbody');
    const head = ['Version', 'State', 'Sessions', 'Requests', 'Errors', 'p50 / p99', 'Isolate heap', ''];
    const numeric = new Set(['Sessions', 'Requests', 'Errors', 'p50 / p99']);
    c.root = el('article', { class: 'app', 'data-app': app.name },
      el('div', { class: 'app-head' }, el('span', { class: 'app-name' }, app.name), c.path, c.target),
      el('div', { class: 'table-wrap' }, el('table', {},
        el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { class: numeric.has(h) ? 'num' : null }, h)))),
        c.tbody)));
    return c;
  }

  function renderApps(snapshot) {
    const container = $('apps');
    const names = new Set();
    let previous = null;
    for (const app of snapshot.apps) {
      names.add(app.name);
      let c = cards.get(app.name);
      if (c === undefined) {
        c = makeCard(app);
        cards.set(app.name, c);
      }
      // Keep the cards in snapshot order without moving nodes that are already in place.
      const expected = previous === null ? container.firstElementChild : previous.nextElementSibling;
      if (expected !== c.root) container.insertBefore(c.root, expected);
      previous = c.root;
      setText(c.path, app.contextPath);
      setText(c.target, app.newSessionTarget === null ? 'no version takes new sessions' : `new sessions → ${app.newSessionTarget}`);
      c.target.classList.toggle('none', app.newSessionTarget === null);
      const keys = new Set();
      let prevRow = null;
      for (const v of app.versions) {
        const key = v.version === null ? '_' : v.version;
        keys.add(key);
        let r = c.rows.get(key);
        if (r === undefined) {
          r = makeRow(app.name, key);
          c.rows.set(key, r);
        }
        const want = prevRow === null ? c.tbody.firstElementChild : prevRow.nextElementSibling;
        if (want !== r.tr) c.tbody.insertBefore(r.tr, want);
        prevRow = r.tr;
        updateRow(r, v, snapshot.at);
      }
      for (const [key, r] of c.rows) if (!keys.has(key)) { r.tr.remove(); c.rows.delete(key); }
    }
    for (const [name, c] of cards) if (!names.has(name)) { c.root.remove(); cards.delete(name); }
    $('no-apps').hidden = snapshot.apps.length > 0;
    if ($('no-apps') !== container.lastElementChild) container.append($('no-apps'));
  }

  function renderSummary(snapshot) {
    let versions = 0, sessions = 0, requests = 0, errors = 0;
    for (const app of snapshot.apps) for (const v of app.versions) { versions++; sessions += v.sessions; requests += v.requests; errors += v.errors; }
    const items = [['apps', snapshot.apps.length], ['versions', versions], ['live sessions', sessions], ['requests', requests], ['errors (5xx)', errors]];
    const box = $('summary');
    if (box.children.length === 0) for (const [k] of items) box.append(el('div', { class: 'stat', 'data-stat': k }, el('div', { class: 'n' }), el('div', { class: 'k' }, k)));
    items.forEach(([, n], i) => setText(box.children[i].firstElementChild, fmtInt(n)));
  }

  function addEvent(e, atTop) {
    if (seenEvents.has(e.seq)) return;
    seenEvents.add(e.seq);
    const subject = [e.app, e.version].filter(Boolean).join(' ');
    const li = el('li', { 'data-seq': e.seq },
      el('time', { datetime: new Date(e.at).toISOString() }, fmtTime(e.at)),
      el('div', { class: 'what' }, el('span', { class: 'kind', 'data-kind': e.kind }, e.kind), el('span', { class: 'subject' }, subject)),
      el('div', { class: 'msg', title: e.message }, e.message));
    const list = $('events');
    if (atTop) list.prepend(li); else list.append(li);
    while (list.children.length > maxEvents) {
      seenEvents.delete(Number(list.lastElementChild.getAttribute('data-seq')));
      list.lastElementChild.remove();
    }
  }

  function renderEvents(events) {
    const newestShown = Number($('events').firstElementChild?.getAttribute('data-seq') ?? 0);
    for (const e of events) if (e.seq > newestShown) addEvent(e, true);
  }

  function renderRetired(retired) {
    const list = $('retired');
    const current = [...list.children].map((li) => li.getAttribute('data-file'));
    if (current.length === retired.length && current.every((f, i) => f === retired[i])) return;
    list.replaceChildren(...retired.map((file) => {
      const button = el('button', { type: 'button', 'data-action': 'restore' }, 'Restore');
      button.addEventListener('click', async () => {
        button.disabled = true;
        await post(`/api/retired/${encodeURIComponent(file)}/restore`, `restore ${file}`);
        button.disabled = false;
      });
      return el('li', { 'data-file': file }, el('code', {}, file), button);
    }));
    $('no-retired').hidden = retired.length > 0;
  }

  function render(snapshot) {
    renderSummary(snapshot);
    renderApps(snapshot);
    renderEvents(snapshot.events);
    renderRetired(snapshot.retired);
  }

  function connect() {
    const conn = $('conn');
    const connText = $('conn-text');
    const source = new EventSource('/api/events');
    source.addEventListener('open', () => { conn.dataset.state = 'live'; setText(connText, 'live'); });
    source.addEventListener('snapshot', (m) => render(JSON.parse(m.data)));
    source.addEventListener('activity', (m) => addEvent(JSON.parse(m.data), true));
    source.addEventListener('error', () => {
      conn.dataset.state = 'down';
      setText(connText, source.readyState === EventSource.CLOSED ? 'disconnected: reload to log in again' : 'reconnecting…');
    });
  }

  $('logout').addEventListener('click', async () => {
    await fetch('/logout', { method: 'POST', headers: { 'x-csrf-token': csrf }, credentials: 'same-origin' });
    window.location.assign('/');
  });

  connect();
})();
