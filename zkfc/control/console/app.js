// zkfc console: reads the control API of the zkfc that served it, with
// the bearer token kept in this tab (sessionStorage), and follows the
// cluster live through server-sent events read over fetch (EventSource
// cannot send the Authorization header). Every value shown is set as
// text, never as HTML.
'use strict';

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
};

const state = { token: sessionStorage.getItem('zkfc.token') || '', cluster: null, quorum: null,
  history: null, historyMissing: false, tab: 'cluster', streamAbort: null, znode: '/' };

function headers() {
  return state.token ? { Authorization: 'Bearer ' + state.token } : {};
}

class APIError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path) {
  const resp = await fetch(path, { method, headers: headers(), cache: 'no-store', credentials: 'same-origin' });
  let body = null;
  const text = await resp.text();
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = { error: text }; }
  if (!resp.ok) {
    if (resp.status === 401) showLogin('');
    throw new APIError(resp.status, (body && body.error) || resp.status + ' ' + resp.statusText);
  }
  return body;
}

function say(text, isError) {
  const m = $('#msg');
  m.textContent = text;
  m.className = isError ? 'error' : '';
  if (!isError) setTimeout(() => { if (m.textContent === text) m.textContent = ''; }, 10000);
}

// --- sign-in -------------------------------------------------------------

function showLogin(err) {
  if (state.streamAbort) state.streamAbort.abort();
  $('#app').hidden = true;
  $('#login').hidden = false;
  $('#logout').hidden = true;
  $('#login-error').textContent = err || '';
}

async function start() {
  try {
    const c = await api('GET', '/console/api/cluster');
    $('#login').hidden = true;
    $('#app').hidden = false;
    $('#logout').hidden = !state.token;
    onCluster(c);
    stream();
    refreshHistory();
  } catch (e) {
    if (e.status === 401 || e.status === 403) showLogin(state.token ? e.message : '');
    else showLogin('cannot reach this zkfc: ' + e.message);
  }
}

$('#login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  state.token = $('#token').value.trim();
  sessionStorage.setItem('zkfc.token', state.token);
  start();
});
$('#logout').addEventListener('click', () => {
  state.token = '';
  sessionStorage.removeItem('zkfc.token');
  showLogin('');
});

// --- live updates ----------------------------------------------------------

async function stream() {
  if (state.streamAbort) state.streamAbort.abort();
  const ctl = new AbortController();
  state.streamAbort = ctl;
  const live = $('#live');
  for (;;) {
    try {
      const resp = await fetch('/console/api/events', { headers: headers(), signal: ctl.signal, cache: 'no-store' });
      if (resp.status === 401 || resp.status === 403) { showLogin('credentials refused'); return; }
      if (!resp.ok) throw new Error(resp.status + ' ' + resp.statusText);
      live.textContent = 'live'; live.classList.remove('off');
      const reader = resp.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          dispatch(buf.slice(0, i));
          buf = buf.slice(i + 2);
        }
      }
    } catch (e) {
      if (ctl.signal.aborted) return;
    }
    live.textContent = 'reconnecting'; live.classList.add('off');
    await new Promise((r) => setTimeout(r, 1000));
    if (ctl.signal.aborted) return;
  }
}

function dispatch(frame) {
  let name = 'message', data = '';
  for (const line of frame.split('\n')) {
    if (line.startsWith('event: ')) name = line.slice(7);
    else if (line.startsWith('data: ')) data += line.slice(6);
  }
  if (!data) return;
  const v = JSON.parse(data);
  if (name === 'cluster') onCluster(v);
  else if (name === 'quorum') onQuorum(v);
}

// --- cluster view ------------------------------------------------------------

let lastTokens = '';

function onCluster(v) {
  state.cluster = v;
  const statuses = v.nodes.filter((n) => n.status).map((n) => n.status);
  const first = statuses[0] || {};
  $('#cluster-name').textContent = first.cluster ? 'cluster ' + first.cluster + ' · served by ' + v.served_by : '';
  const paused = statuses.some((s) => s.paused);
  $('#paused-state').textContent = paused ? 'Automatic failover is PAUSED' : 'Automatic failover is on';
  $('#paused-state').className = paused ? 'badge bad' : 'badge active';
  const sched = statuses.map((s) => s.scheduled).find((s) => s && s.to);
  $('#scheduled-state').textContent = sched ? 'switchover to ' + sched.to + ' scheduled at ' + fmtTime(sched.at) : '';
  $('#cancel-scheduled').hidden = !sched;
  const box = $('#nodes');
  box.replaceChildren(...v.nodes.map(nodeCard));
  $('#cluster-errors').textContent = (v.errors || []).join('\n');
  // A new promotion anywhere: the durable history has a new entry.
  const tokens = statuses.map((s) => s.node_id + ':' + (s.fencing_token || 0)).join(',');
  if (tokens !== lastTokens) { lastTokens = tokens; refreshHistory(); }
  if (state.tab === 'timeline') renderTimeline();
}

function nodeCard(n) {
  const s = n.status || {};
  const role = n.reachable ? (s.role || 'unknown') : 'unreachable';
  const card = el('article', { class: 'card ' + role, 'data-node': n.node_id, 'data-role': role });
  const tags = [];
  if (n.kind === 'self') tags.push(el('span', { class: 'badge tag', text: 'this console' }));
  if (s.no_failover) tags.push(el('span', { class: 'badge tag', text: 'no-failover' }));
  for (const t of s.tags || []) tags.push(el('span', { class: 'badge tag', text: t }));
  card.append(el('h2', {}, el('span', { class: 'name', text: n.node_id }),
    el('span', { class: 'badge role ' + role, text: role }), ...tags));
  const dl = el('dl');
  const row = (k, v) => { if (v !== undefined && v !== null && v !== '') dl.append(el('dt', { text: k }), el('dd', { text: String(v) })); };
  if (!n.reachable) {
    row('error', n.error);
    row('last seen', fmtTime(n.last_seen));
    row('control', n.control_url);
    card.append(dl);
    return card;
  }
  if (role === 'witness') {
    row('quorum member', s.health);
    row('control', n.control_url);
    card.append(dl);
    return card;
  }
  row('health', s.health);
  card.append(dl, healthStrip(s));
  const dl2 = el('dl');
  const row2 = (k, v) => { if (v !== undefined && v !== null && v !== '') dl2.append(el('dt', { text: k }), el('dd', { class: k.replace(/\W+/g, '-'), text: String(v) })); };
  row2('why', s.reason);
  row2('fencing token', s.fencing_token ? s.fencing_token + (s.cluster_fencing_token ? ' (cluster: ' + s.cluster_fencing_token + ')' : '') : 'none');
  row2('lock holder', s.active ? s.active.node_id : '(none known)');
  row2('priority', s.priority);
  row2('election', (s.in_election ? 'candidate' : 'not a candidate') + (s.holds_lock ? ', holds the lock' : ''));
  row2('paused', s.paused ? 'yes (generation ' + (s.pause_generation || '?') + ')' : 'no');
  row2('zookeeper', s.zk_connected ? 'connected, last ack ' + s.last_ack_age_ms + ' ms ago' : 'disconnected');
  if (s.scheduled && s.scheduled.to) row2('scheduled', 'switchover to ' + s.scheduled.to + ' at ' + fmtTime(s.scheduled.at));
  row2('last error', s.last_error);
  card.append(dl2);
  if (role !== 'active') {
    card.append(el('div', { class: 'actions' },
      el('button', { class: 'failover', 'data-to': n.node_id, text: 'Fail over to ' + n.node_id,
        onclick: () => confirmAction('Make ' + n.node_id + ' active now? The current active demotes its service first.', false,
          () => act('POST', '/failover?to=' + encodeURIComponent(n.node_id) + '&timeout=60s', n.node_id + ' is active')) }),
      el('button', { class: 'schedule', text: 'Schedule…',
        onclick: () => confirmAction('Schedule a switchover to ' + n.node_id + ' at:', true,
          (at) => act('POST', '/failover?to=' + encodeURIComponent(n.node_id) + '&at=' + encodeURIComponent(at), 'switchover to ' + n.node_id + ' scheduled')) })));
  }
  return card;
}

function healthStrip(s) {
  const strip = el('div', { class: 'strip', title: 'health changes, oldest first' });
  const h = (s.health_history || []).slice();
  if (!h.length && s.health) h.push({ at: s.health_since || new Date().toISOString(), state: s.health });
  const now = Date.now();
  const t0 = h.length ? Date.parse(h[0].at) : now;
  const span = Math.max(now - t0, 1);
  h.forEach((c, i) => {
    const end = i + 1 < h.length ? Date.parse(h[i + 1].at) : now;
    const cls = /HEALTHY$/.test(c.state) && !/UNHEALTHY/.test(c.state) ? 'ok' : (/INITIALIZING/.test(c.state) ? 'unknown' : 'bad');
    const seg = el('span', { class: cls, title: c.state + ' since ' + fmtTime(c.at) });
    seg.style.flex = String(Math.max((end - Date.parse(c.at)) / span, 0.02));
    strip.append(seg);
  });
  return strip;
}

// --- actions ---------------------------------------------------------------

let pending = null;
function confirmAction(text, askTime, run) {
  $('#confirm-text').textContent = text;
  $('#confirm-at-row').hidden = !askTime;
  if (askTime) {
    const d = new Date(Date.now() + 10 * 60000);
    d.setSeconds(0, 0);
    $('#confirm-at').value = new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
  }
  pending = () => run(askTime ? new Date($('#confirm-at').value).toISOString() : undefined);
  $('#confirm').hidden = false;
  $('#confirm-yes').focus();
}
$('#confirm-no').addEventListener('click', () => { pending = null; $('#confirm').hidden = true; });
$('#confirm-yes').addEventListener('click', () => {
  const run = pending;
  pending = null;
  $('#confirm').hidden = true;
  if (run) run();
});

async function act(method, path, okText) {
  say('working: ' + method + ' ' + path.split('?')[0] + ' …');
  document.querySelectorAll('button.failover, button.schedule, #pause, #resume').forEach((b) => { b.disabled = true; });
  try {
    await api(method, path);
    say(okText);
  } catch (e) {
    say('refused: ' + e.message, true);
  } finally {
    document.querySelectorAll('button.failover, button.schedule, #pause, #resume').forEach((b) => { b.disabled = false; });
  }
}

$('#pause').addEventListener('click', () => confirmAction('Pause automatic failover on the whole cluster? The active stays active even if its service fails.', false,
  () => act('POST', '/pause', 'automatic failover paused')));
$('#resume').addEventListener('click', () => confirmAction('Resume automatic failover?', false,
  () => act('POST', '/resume', 'automatic failover resumed')));
$('#cancel-scheduled').addEventListener('click', () => confirmAction('Cancel the scheduled switchover?', false,
  () => act('POST', '/failover/cancel', 'scheduled switchover cancelled')));

// --- quorum view -------------------------------------------------------------

function onQuorum(v) {
  state.quorum = v;
  $('#quorum-source').textContent = 'members from ' + v.source + '; leader: ' + (v.leader || 'none known') +
    '; lag is transactions behind the leader when both were asked (srvr)';
  const rows = v.members.map((m) => el('tr', { class: m.leader ? 'leader' : '', 'data-member': m.id || m.address },
    el('td', { text: m.id || '?' }), el('td', { text: m.address }),
    el('td', { class: 'mode', text: m.mode || (m.error ? 'unreachable' : '?') }),
    el('td', { text: m.zxid || '' }), el('td', { text: m.lag === undefined ? '' : String(m.lag) }),
    el('td', { text: m.connections === undefined ? '' : String(m.connections) }),
    el('td', { text: m.latency || '' }), el('td', { text: m.node_count === undefined ? '' : String(m.node_count) })));
  $('#quorum tbody').replaceChildren(...rows);
  $('#quorum-errors').textContent = [...(v.errors || []), ...v.members.filter((m) => m.error).map((m) => (m.id || m.address) + ': ' + m.error)].join('\n');
}

// --- timeline ----------------------------------------------------------------

async function refreshHistory() {
  if (state.historyMissing) return;
  try {
    const h = await api('GET', '/history');
    state.history = h.entries || [];
  } catch (e) {
    if (e.status === 404 || e.status === 405) state.historyMissing = true;
    else state.historyError = e.message;
  }
  if (state.tab === 'timeline') renderTimeline();
}

function budgetKinds() {
  for (const n of (state.cluster ? state.cluster.nodes : [])) {
    const b = n.status && n.status.budget;
    if (b && b.kinds && b.kinds.length) return b.kinds;
  }
  return [];
}

function renderTimeline() {
  const kinds = budgetKinds();
  const budget = $('#budget');
  if (kinds.length) {
    budget.replaceChildren(el('h3', { text: 'Failover budget (worst case, from the running configuration)' }),
      el('div', { class: 'scroll' }, el('table', {}, el('tbody', {}, ...kinds.map((k) =>
        el('tr', {}, el('td', { text: k.kind }), el('td', { text: fmtMs(k.worst_ms) }), el('td', { text: k.terms || '' })))))));
  } else {
    budget.replaceChildren();
  }
  let entries;
  if (state.history) {
    entries = state.history.slice().reverse();
    $('#timeline-source').textContent = 'durable history (' + entries.length + ' entries), newest first';
  } else {
    entries = [];
    for (const n of (state.cluster ? state.cluster.nodes : [])) {
      for (const t of (n.status && n.status.transitions) || []) {
        entries.push({ time: t.at, node: n.node_id, kind: t.from + ' → ' + t.to, token: t.token, reason: t.reason });
      }
    }
    entries.sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
    $('#timeline-source').textContent = (state.historyMissing ? 'this zkfc keeps no durable history; ' : (state.historyError ? 'history: ' + state.historyError + '; ' : '')) +
      'role changes each running zkfc remembers, newest first';
  }
  $('#timeline').replaceChildren(...entries.map((e) => timelineItem(e, kinds)));
}

function timelineItem(e, kinds) {
  const li = el('li', { 'data-kind': e.kind },
    el('div', { class: 'when', text: fmtTime(e.time) + ' · ' + e.node + (e.token ? ' · token ' + e.token : '') }),
    el('div', {}, el('strong', { text: e.kind }), document.createTextNode(e.reason ? ' — ' + e.reason : '')));
  if (e.fence) {
    li.append(el('div', { class: 'note', text: 'fence ' + (e.fence.target || '') + ' by ' + (e.fence.method || '?') + ': ' + (e.fence.outcome || '?') +
      (e.fence.duration_ms !== undefined ? ' in ' + fmtMs(e.fence.duration_ms) : '') }));
  }
  const p = e.phases_ms;
  const measured = p && Object.values(p).some((v) => v > 0);
  if (measured) {
    const names = ['detection', 'lock', 'fence', 'promote'];
    const total = names.reduce((a, k) => a + (p[k] || 0), 0);
    // The entry's own budget (the worst case of the failure it ended, as
    // the history names it) when known, else every kind of the budget.
    const limits = e.budget_ms ? [{ kind: e.failure || 'budget', worst_ms: e.budget_ms }] : kinds;
    const scale = Math.max(total, ...limits.map((k) => k.worst_ms || 0), 1);
    const bar = el('div', { class: 'bar', title: 'phases against the budget' });
    for (const k of names) {
      if (!p[k]) continue;
      const s = el('span', { class: 'ph-' + k, title: k + ' ' + fmtMs(p[k]) });
      s.style.width = (100 * p[k] / scale) + '%';
      bar.append(s);
    }
    for (const k of limits) {
      const m = el('span', { class: 'limit', title: 'budget: ' + k.kind + ' ' + fmtMs(k.worst_ms) });
      m.style.left = (100 * k.worst_ms / scale) + '%';
      bar.append(m);
    }
    li.append(bar, el('div', { class: 'legend note' }, document.createTextNode('total ' + fmtMs(total) +
      (e.budget_ms ? ' of a ' + fmtMs(e.budget_ms) + ' budget' + (e.failure ? ' (' + e.failure + ')' : '') : '')),
      ...names.filter((k) => p[k] !== undefined).flatMap((k) => [el('span', { class: 'swatch ph-' + k }), document.createTextNode(k + ' ' + fmtMs(p[k]))])));
  }
  return li;
}

// --- znode browser -----------------------------------------------------------

async function openZnode(path) {
  state.znode = path;
  $('#znode-path').value = path;
  $('#znode-error').textContent = '';
  const crumbs = [el('a', { text: '/', onclick: () => openZnode('/') })];
  let acc = '';
  path.split('/').filter(Boolean).forEach((part, i) => {
    acc += '/' + part;
    const p = acc;
    if (i > 0) crumbs.push(document.createTextNode('/'));
    crumbs.push(el('a', { text: part, onclick: () => openZnode(p) }));
  });
  $('#znode-crumbs').replaceChildren(...crumbs);
  try {
    const z = await api('GET', '/console/api/znode?path=' + encodeURIComponent(path));
    const base = path === '/' ? '' : path;
    $('#znode-children').replaceChildren(...z.children.map((c) => el('li', {}, el('a', { 'data-child': c, text: c, onclick: () => openZnode(base + '/' + c) }))),
      ...(z.children_more ? [el('li', { text: '… ' + z.children_more + ' more' })] : []),
      ...(z.children.length ? [] : [el('li', { class: 'note', text: '(none)' })]));
    let data = '(no data)';
    if (z.data !== undefined) data = z.data === '' ? '(empty)' : z.data;
    else if (z.data_base64 !== undefined) data = 'binary, base64: ' + z.data_base64;
    if (z.data_truncated) data += '\n… (truncated)';
    $('#znode-data').textContent = data;
    const st = Object.entries(z.stat).map(([k, v]) => el('tr', {}, el('th', { text: k }), el('td', { text: String(v) })));
    st.push(el('tr', {}, el('th', { text: 'created' }), el('td', { text: fmtTime(z.times.created) })),
      el('tr', {}, el('th', { text: 'modified' }), el('td', { text: fmtTime(z.times.modified) })));
    if (z.ephemeral) st.push(el('tr', {}, el('th', { text: 'ephemeral of' }), el('td', { text: z.ephemeral_owner })));
    $('#znode-stat tbody').replaceChildren(...st);
    $('#znode-acl tbody').replaceChildren(...z.acl.map((a) => el('tr', {}, el('td', { text: a.scheme + ':' + a.id }), el('td', { text: a.perms }))));
  } catch (e) {
    $('#znode-error').textContent = e.message;
    for (const s of ['#znode-children', '#znode-data', '#znode-stat tbody', '#znode-acl tbody']) $(s).replaceChildren();
  }
}
$('#znode-form').addEventListener('submit', (ev) => { ev.preventDefault(); openZnode($('#znode-path').value.trim()); });

// --- tabs and formatting -------------------------------------------------------

for (const b of document.querySelectorAll('nav .tab')) {
  b.addEventListener('click', () => {
    state.tab = b.dataset.tab;
    document.querySelectorAll('nav .tab').forEach((x) => x.classList.toggle('on', x === b));
    document.querySelectorAll('.view').forEach((v) => { v.hidden = v.id !== 'tab-' + state.tab; });
    if (state.tab === 'timeline') { refreshHistory(); renderTimeline(); }
    if (state.tab === 'znodes') openZnode(state.znode);
    if (state.tab === 'quorum' && !state.quorum) api('GET', '/console/api/quorum').then(onQuorum).catch((e) => say(e.message, true));
  });
}

function fmtTime(t) {
  if (!t || t.startsWith('0001-')) return '';
  const d = new Date(t);
  return isNaN(d) ? String(t) : d.toLocaleString(undefined, { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}

function fmtMs(ms) {
  if (ms === undefined || ms === null) return '';
  return ms >= 1000 ? (ms / 1000).toFixed(ms >= 10000 ? 0 : 1) + ' s' : ms + ' ms';
}

start();
