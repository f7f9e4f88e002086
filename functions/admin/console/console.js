// The admin console (R-ADM-1…3): pages over the admin API (events.md §4). Every value the
// platforms sent is put on the page as text, never as markup: a customer's name or a field
// Kustomer returns is hostile input like any other.
'use strict';

(function () {
  const base = document.body.dataset.base || '';
  const KEY = 'ccai-bridge-admin-session';
  const $ = (id) => document.getElementById(id);
  let session = null;
  let signInWindow = null;
  let shown = 0; // the latest page drawn: a slower earlier load does not replace it
  try {
    session = JSON.parse(sessionStorage.getItem(KEY));
  } catch (_) {
    session = null;
  }

  // ---- building the page --------------------------------------------------------------

  /** An element with attributes (`on` for listeners) and children (text or elements). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === 'on') {
        for (const [event, fn] of Object.entries(value)) node.addEventListener(event, fn);
      } else if (name === 'text') {
        node.textContent = value;
      } else if (value === true) {
        node.setAttribute(name, '');
      } else {
        node.setAttribute(name, String(value));
      }
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function table(headers, rows, caption) {
    return el('table', {},
      caption ? el('caption', { class: 'muted' }, caption) : null,
      el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, rows.length ? rows : el('tr', {}, el('td', { colspan: headers.length, class: 'muted' }, 'none'))));
  }

  /** `text`, linked to the page of Kustomer's web app the API formed (only an https address). */
  function kustomerLink(text, url) {
    if (typeof url !== 'string' || !url.startsWith('https://')) return text;
    return el('a', { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'kustomer' }, text);
  }

  function when(value) {
    if (value === undefined || value === null || value === '') return '';
    const date = typeof value === 'number' ? new Date(value) : new Date(String(value));
    return Number.isNaN(date.getTime()) ? String(value) : date.toISOString().replace('.000Z', 'Z');
  }

  function decodeURIComponentSafe(text) {
    try {
      return decodeURIComponent(text);
    } catch (_) {
      return text;
    }
  }

  function json(value) {
    return el('pre', {}, JSON.stringify(value, null, 2));
  }

  function notice(text, kind) {
    const box = $('notice');
    box.textContent = text || '';
    box.dataset.kind = kind || '';
  }

  // ---- the admin API --------------------------------------------------------------------

  async function api(method, path, body) {
    if (!session) return { ok: false, status: 401, data: { error: 'signed out' } };
    const headers = { authorization: 'Bearer ' + session.token };
    const init = { method, headers };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(base + path, init);
    } catch (err) {
      return { ok: false, status: 0, data: { error: 'the bridge did not answer: ' + err.message } };
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (response.status === 401) {
      signedOut((data && data.error) || 'Your session ended: sign in again.');
    }
    return { ok: response.ok, status: response.status, data };
  }

  function failure(answer) {
    return (answer.data && answer.data.error) || 'the bridge answered ' + answer.status;
  }

  // ---- signing in (R-ADM-3) -------------------------------------------------------------

  function signedOut(why) {
    session = null;
    sessionStorage.removeItem(KEY);
    $('pages').hidden = true;
    $('page').hidden = true;
    $('sign-out').hidden = true;
    $('who').textContent = '';
    $('signed-out').hidden = false;
    $('sign-in-result').textContent = why || '';
  }

  async function signedIn() {
    const token = session.token;
    const me = await api('GET', '/admin/whoami');
    if (me.status === 401 || me.status === 403) {
      // A session the console cannot use is ended, not left alive for its twelve hours.
      endSession(token);
      signedOut(failure(me));
      return;
    }
    if (!me.ok) {
      $('sign-in-result').textContent = failure(me) + ' — reload to try again.';
      return;
    }
    $('who').textContent = 'Signed in as ' + me.data.actor;
    $('signed-out').hidden = true;
    $('pages').hidden = false;
    $('page').hidden = false;
    $('sign-out').hidden = me.data.kind !== 'kustomer';
    show();
  }

  $('sign-in').addEventListener('click', () => {
    $('sign-in-result').textContent = 'Waiting for the Kustomer sign-in window…';
    signInWindow = window.open(base + '/agents/sign-in?for=admin', 'ccai-bridge-admin-sign-in', 'width=520,height=680');
    if (!signInWindow) $('sign-in-result').textContent = 'The browser blocked the sign-in window: allow pop-ups for this page.';
  });

  // The sign-in window's last page hands the session to its opener, on this origin only.
  // Only from the window this page opened, on this origin.
  window.addEventListener('message', (event) => {
    if (event.origin !== window.location.origin || !signInWindow || event.source !== signInWindow) return;
    const data = event.data || {};
    if (data.type !== 'ccai-bridge-session' || typeof data.session !== 'string') return;
    session = { token: data.session, email: data.email, expiresAt: data.expiresAt };
    sessionStorage.setItem(KEY, JSON.stringify(session));
    signedIn();
  });

  async function endSession(token) {
    try {
      await fetch(base + '/agents/session', { method: 'DELETE', headers: { authorization: 'Bearer ' + token } });
    } catch (_) {
      // Signed out here either way; the session expires on its own.
    }
  }

  $('sign-out').addEventListener('click', async () => {
    if (session) await endSession(session.token);
    signedOut('Signed out.');
  });

  // ---- pages ----------------------------------------------------------------------------

  const pages = {
    mapping: { title: 'Status mapping', load: mappingPage },
    fields: { title: 'Custom fields', load: fieldsPage },
    agents: { title: 'Agents', load: agentsPage },
    sessions: { title: 'Sessions', load: sessionsPage },
    'dead-letters': { title: 'Dead letters', load: deadLettersPage },
    rejected: { title: 'Rejected events', load: rejectedPage },
    health: { title: 'Health', load: healthPage },
    shapes: { title: 'Shapes', load: shapesPage },
    shadow: { title: 'Shadow mode', load: shadowPage },
  };

  async function show() {
    if (!session) return;
    const name = (window.location.hash || '#mapping').slice(1).split('/')[0];
    // Another anchor (the skip link's #main) is no page: the page shown stays.
    if (!pages[name]) return;
    const page = pages[name];
    const mine = ++shown;
    for (const link of document.querySelectorAll('nav a')) {
      if (link.getAttribute('href') === '#' + name) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    $('page-title').textContent = page.title;
    notice('');
    const content = $('content');
    content.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
    let built;
    try {
      built = await page.load();
    } catch (err) {
      // A page that cannot be drawn says so, instead of loading for ever.
      built = el('p', { class: 'error', role: 'alert' }, 'This page failed: ' + err.message);
    }
    if (mine !== shown) return;
    content.replaceChildren(...[].concat(built));
    document.body.dataset.page = name;
  }

  window.addEventListener('hashchange', show);

  function errorBlock(answer) {
    return el('p', { class: 'error', role: 'alert' }, failure(answer));
  }

  // Status mapping: Kustomer statuses, each with a dropdown of CCAI statuses (R-S-2).
  async function mappingPage() {
    const answer = await api('GET', '/admin/status-mapping');
    if (!answer.ok) return errorBlock(answer);
    const { mapping, kustomer_statuses: kustomer, ccai_statuses: ccai, experimental } = answer.data;
    const ccaiLabel = (s) => s.name + (s.system ? ' — set by CCAI itself' : s.name_shared ? ' — name shared' : '');
    const ccaiSelect = (id, label, selected) => el('select', { id, 'aria-label': label },
      el('option', { value: '' }, '— not mapped —'),
      ccai.map((s) => el('option', { value: s.id, selected: String(selected) === String(s.id) }, ccaiLabel(s))));
    const rows = kustomer.map((k) => el('tr', {},
      el('th', { scope: 'row' }, el('label', { for: 'to-ccai-' + k.id }, k.name)),
      el('td', {}, ccaiSelect('to-ccai-' + k.id, 'CCAI status for Kustomer ' + k.name, mapping.to_ccai[k.id])),
      el('td', { class: 'error', id: 'error-to_ccai.' + k.id, role: 'alert' })));
    const backRows = ccai.map((c) => el('tr', {},
      el('th', { scope: 'row' }, el('label', { for: 'to-kustomer-' + c.id }, c.name)),
      el('td', {}, el('select', { id: 'to-kustomer-' + c.id },
        el('option', { value: '' }, '— not mapped —'),
        kustomer.map((k) => el('option', { value: k.id, selected: mapping.to_kustomer[String(c.id)] === k.id }, k.name)))),
      el('td', { class: 'error', id: 'error-to_kustomer.' + c.id, role: 'alert' })));
    const twoWay = el('input', { type: 'checkbox', id: 'two-way', checked: mapping.two_way });
    const back = el('fieldset', { id: 'back', hidden: !mapping.two_way },
      el('legend', {}, 'CCAI → Kustomer (two-way)'),
      table(['CCAI status', 'Kustomer status', ''], backRows));
    twoWay.addEventListener('change', () => { back.hidden = !twoWay.checked; });
    const save = el('button', { type: 'button', id: 'save-mapping' }, 'Save the mapping');
    save.addEventListener('click', async () => {
      for (const cell of document.querySelectorAll('td.error')) cell.textContent = '';
      const body = { to_ccai: {}, to_kustomer: {}, priority: $('priority').value, two_way: twoWay.checked, apply_at_login: $('apply-at-login').checked };
      for (const k of kustomer) {
        const value = $('to-ccai-' + k.id).value;
        if (value !== '') body.to_ccai[k.id] = Number(value);
      }
      // Two-way off keeps the reverse mapping as saved, for when it is turned on again.
      for (const c of ccai) {
        const value = $('to-kustomer-' + c.id).value;
        if (value !== '') body.to_kustomer[String(c.id)] = value;
      }
      save.disabled = true;
      const saved = await api('PUT', '/admin/status-mapping', body);
      save.disabled = false;
      if (saved.ok) {
        notice('Saved: agents follow from their next status change.', 'ok');
        return;
      }
      const entry = saved.data && saved.data.entry;
      const cell = entry && $('error-' + entry);
      if (cell) {
        cell.textContent = failure(saved);
        const control = cell.parentElement.querySelector('select');
        if (control) control.focus();
        notice('Not saved: one entry was refused (shown beside it).', 'error');
      } else {
        notice('Not saved: ' + failure(saved), 'error');
      }
    });
    return [
      el('p', {}, 'Each Kustomer status sets the CCAI status chosen beside it; several may set the same one. Statuses CCAI sets itself during calls cannot be targets.'),
      table(['Kustomer status', 'CCAI status', ''], rows),
      el('p', {},
        el('label', { for: 'priority' }, 'When a Kustomer change waits for a call to end and the agent also picked a next status in CCAI: '),
        el('select', { id: 'priority' },
          el('option', { value: 'latest_wins', selected: mapping.priority === 'latest_wins' }, 'the latest change wins'),
          el('option', { value: 'crm_overrides', selected: mapping.priority === 'crm_overrides' }, 'Kustomer wins'))),
      el('p', {}, el('label', { for: 'apply-at-login' }, el('input', { type: 'checkbox', id: 'apply-at-login', checked: mapping.apply_at_login }), ' Apply the Kustomer status when an agent opens Kustomer')),
      el('p', {}, el('label', { for: 'two-way' }, twoWay, ' Two-way: CCAI changes set Kustomer (experimental)'),
        el('br'), el('small', { class: 'muted' }, experimental.two_way)),
      back,
      save,
    ];
  }

  // Custom fields (R-CF) and SDK keys (R-CF-5).
  async function fieldsPage() {
    const [fields, keys] = await Promise.all([api('GET', '/admin/custom-fields'), api('GET', '/admin/sdk-keys')]);
    if (!fields.ok) return errorBlock(fields);
    const act = async (method, path, body, done) => {
      const answer = await api(method, path, body);
      await show();
      notice(answer.ok ? done(answer.data) : 'Refused: ' + failure(answer), answer.ok ? 'ok' : 'error');
    };
    const rows = fields.data.fields.map((f) => el('tr', { 'data-field': f.id },
      el('th', { scope: 'row' }, f.display_name),
      el('td', {}, el('code', {}, f.attribute)),
      el('td', {}, f.group),
      el('td', {}, f.created ? 'created ' + when(f.created.created_at) + ' by ' + (f.created.created_by || 'unknown') : 'not created'),
      el('td', {}, f.created
        ? el('button', { type: 'button', 'aria-label': 'Remove ' + f.display_name, on: { click: () => act('DELETE', '/admin/custom-fields/' + encodeURIComponent(f.id), undefined, (d) => 'Removed: ' + d.note) } }, 'Remove')
        : el('button', { type: 'button', 'aria-label': 'Create ' + f.display_name, on: { click: () => act('POST', '/admin/custom-fields', { field: f.id }, () => f.display_name + ' created in Kustomer: the next sessions carry it.') } }, 'Create'))));
    const mapped = keys.ok ? keys.data.keys : {};
    const keyRows = Object.entries(mapped).map(([key, attribute]) => el('tr', {},
      el('th', { scope: 'row' }, el('code', {}, key)),
      el('td', {}, el('code', {}, attribute)),
      el('td', {}, el('button', { type: 'button', 'aria-label': 'Unmap ' + key, on: { click: () => {
        const next = Object.assign({}, mapped);
        delete next[key];
        act('PUT', '/admin/sdk-keys', { keys: next }, () => key + ' unmapped.');
      } } }, 'Unmap'))));
    const addKey = el('form', { class: 'inline', on: { submit: (event) => {
      event.preventDefault();
      const next = Object.assign({}, mapped, { [$('sdk-key').value.trim()]: $('sdk-target').value.trim() });
      act('PUT', '/admin/sdk-keys', { keys: next }, () => 'Mapped.');
    } } },
      el('label', { for: 'sdk-key' }, 'SDK key'), el('input', { id: 'sdk-key', required: true }),
      el('label', { for: 'sdk-target' }, 'Field id or message attribute'), el('input', { id: 'sdk-target', required: true }),
      el('button', { type: 'submit' }, 'Map'));
    return [
      table(['Field', 'Kustomer attribute', 'Group', 'State', ''], rows),
      el('h3', {}, 'SDK custom data'),
      keys.ok ? table(['SDK key', 'Kustomer attribute', ''], keyRows) : errorBlock(keys),
      addKey,
    ];
  }

  // Agents: each one's Kustomer choice, CCAI status and last outcome; their sign-in sessions.
  async function agentsPage() {
    const [agents, mapping] = await Promise.all([api('GET', '/admin/agents'), api('GET', '/admin/status-mapping')]);
    if (!agents.ok) return errorBlock(agents);
    const names = {};
    if (mapping.ok) for (const k of mapping.data.kustomer_statuses) names[k.id] = k.name;
    const rows = agents.data.map((a) => {
      // `sync`: {lease_holder, lease_expires_at, outcome (in words), state} (GET /admin/agents).
      const sync = a.sync || {};
      const state = sync.state || {};
      const chosen = state.desired ? names[state.desired.kustomer_status_id] || state.desired.kustomer_status_id : '';
      const failed = state.outcome && state.outcome.outcome === 'failed';
      const consoles = a.sessions.filter((x) => x.scope === 'admin').length;
      const revoke = el('button', { type: 'button', disabled: !a.sessions.length, title: 'Ends every session of this user, the admin console’s included', 'aria-label': 'Sign out every session of ' + a.email, on: { click: async () => {
        const answer = await api('DELETE', '/admin/agents/' + encodeURIComponent(a.email) + '/sessions');
        await show();
        notice(answer.ok ? a.email + ': ' + answer.data.ended + ' session(s) ended.' : failure(answer), answer.ok ? 'ok' : 'error');
      } } }, 'Sign out');
      return el('tr', { 'data-agent': a.email },
        el('th', { scope: 'row' }, a.email),
        el('td', {}, chosen),
        el('td', {}, state.last_applied ? state.last_applied.ccai_status : ''),
        el('td', { class: failed ? 'error' : '' }, sync.outcome || ''),
        el('td', {}, state.last_applied ? when(state.last_applied.at) : ''),
        el('td', {}, String(a.sessions.length) + (consoles ? ' (' + consoles + ' admin console)' : '')),
        el('td', {}, revoke));
    });
    return table(['Agent', 'Kustomer status', 'CCAI status', 'Last outcome', 'Applied at', 'Signed in', ''], rows);
  }

  // Sessions: one session's record and its resync (R-ADM-2).
  async function sessionsPage() {
    const [, kind, id] = (window.location.hash.split('/'));
    const form = el('form', { class: 'inline', on: { submit: (event) => {
      event.preventDefault();
      window.location.hash = '#sessions/' + $('session-kind').value + '/' + encodeURIComponent($('session-id').value.trim());
    } } },
      el('label', { for: 'session-kind' }, 'Kind'),
      el('select', { id: 'session-kind' },
        el('option', { value: 'call', selected: kind !== 'chat' }, 'call'),
        el('option', { value: 'chat', selected: kind === 'chat' }, 'chat')),
      el('label', { for: 'session-id' }, 'Session id'),
      el('input', { id: 'session-id', required: true, inputmode: 'numeric', pattern: '[0-9]+', value: /^[0-9]+$/.test(id || '') ? id : '' }),
      el('button', { type: 'submit' }, 'Find'));
    const search = el('form', { class: 'inline', on: { submit: (event) => {
      event.preventDefault();
      const value = $('search-value').value.trim();
      // Anything that looks like a number is one (the API says if it is not international).
      const by = /^[+0-9\s().-]+$/.test(value) ? 'phone' : 'customer';
      window.location.hash = '#sessions/' + by + '/' + encodeURIComponent(value);
    } } },
      el('label', { for: 'search-value' }, 'Or a caller’s number (+15550104477) or a Kustomer customer id'),
      el('input', { id: 'search-value', required: true }),
      el('button', { type: 'submit', id: 'search' }, 'Search'));
    const forms = [form, search];
    if (kind === 'phone' || kind === 'customer') {
      const value = decodeURIComponentSafe(id || '');
      const found = await api('GET', '/admin/sessions?' + new URLSearchParams({ [kind]: value }));
      if (!found.ok) return [...forms, errorBlock(found)];
      const rows = found.data.sessions.map((f) => el('tr', {},
        el('th', { scope: 'row' }, el('a', { href: '#sessions/' + f.kind + '/' + f.id }, f.kind + ' ' + f.id)),
        el('td', {}, when(f.at)), el('td', {}, f.customer || '')));
      // The bridge's customer of the number, and the one Kustomer finds by it when another.
      const customers = found.data.customers || (found.data.customer ? [found.data.customer] : []);
      return [...forms,
        el('p', { id: 'search-result' }, customers.length ? 'Kustomer customer ' + customers.join(', ') + ': ' + rows.length + ' session(s)' : 'No Kustomer customer has this number.'),
        table(['Session', 'Started', 'Customer'], rows)];
    }
    if (!kind || !id) return forms;
    // Only a kind and an id the API knows reach its URL (a crafted link names no other route).
    if (!['call', 'chat'].includes(kind) || !/^[0-9]{1,20}$/.test(id)) {
      return [...forms, el('p', { role: 'alert', class: 'error' }, 'A session is a call or a chat with a numeric id.')];
    }
    const path = '/admin/sessions/' + kind + '/' + id;
    const answer = await api('GET', path);
    if (answer.status === 404) return [...forms, el('p', { role: 'alert' }, 'The bridge knows nothing of ' + kind + ' ' + id + '.')];
    if (!answer.ok) return [...forms, errorBlock(answer)];
    const report = answer.data;
    const resync = el('button', { type: 'button', id: 'resync', on: { click: async () => {
      const done = await api('POST', path + '/resync');
      notice(done.ok ? 'Resync queued (' + done.data.trigger + '): every worker reconciles the session again; nothing done is done twice.' : failure(done), done.ok ? 'ok' : 'error');
    } } }, 'Resync');
    // A dry run: the inbox worker keeps every step a resync would take (nothing is written);
    // the page asks for the report until that run's steps are there.
    const previewList = el('ul', { id: 'preview', 'aria-live': 'polite' },
      ...previewItems(report.preview));
    const dryRun = el('button', { type: 'button', id: 'dry-run', on: { click: async () => {
      const asked = await api('POST', path + '/resync?dry_run=true');
      if (!asked.ok) { notice(failure(asked), 'error'); return; }
      notice('Dry run queued (' + asked.data.trigger + '): nothing will be written.', 'ok');
      for (let tries = 0; tries < 60; tries += 1) {
        await new Promise((done) => setTimeout(done, 500));
        const again = await api('GET', path);
        if (again.ok && again.data.preview && again.data.preview.trigger === asked.data.trigger) {
          previewList.replaceChildren(...previewItems(again.data.preview));
          return;
        }
      }
      notice('The dry run has not come back yet; open the session again later.', 'error');
    } } }, 'Dry run');
    const link = report.link || {};
    const records = Object.entries(report.records || {}).map(([name, body]) =>
      el('li', {}, el('strong', {}, name), json(body)));
    // The audit: every trigger a worker handled, what became of it, what it decided and why,
    // every write it sent.
    const timeline = (report.timeline || []).map((entry) => el('li', { class: 'entry' },
      el('div', {}, el('strong', {}, when(entry.at)), ' ', entry.worker, ' · ', entry.source, ' ', entry.hint,
        ' · ', el('span', { class: entry.outcome.startsWith('failed') ? 'error' : '' }, entry.outcome)),
      el('div', { class: 'muted' }, el('code', {}, entry.trigger)),
      // What the worker decided and why: the truth it merged, the placement and its rule.
      (entry.decisions || []).length ? el('ul', { class: 'decisions' }, entry.decisions.map((d) => el('li', {}, d))) : null,
      entry.writes.length ? el('ul', {}, entry.writes.map((w) => el('li', { class: 'write' },
        el('code', {}, w.method + ' ' + w.path), ' → ',
        w.status === null || w.status === undefined ? 'no answer (it may have happened)' : String(w.status),
        w.id ? ' · ' : '', w.id ? kustomerLink(w.id, w.url) : '', ' (' + w.platform + ': ' + w.operation + ')'))) : null,
      entry.writes_left_out ? el('div', { class: 'muted' }, entry.writes_left_out + ' more writes not listed') : null));
    return [
      ...forms,
      el('dl', {},
        el('dt', {}, 'State'), el('dd', { id: 'session-state', class: report.state.startsWith('waiting') ? 'waiting' : '' }, report.state),
        el('dt', {}, 'Kustomer conversation'), el('dd', {}, link.conversation_id ? kustomerLink(link.conversation_id, link.conversation_url) : '—'),
        el('dt', {}, 'Kustomer customer'), el('dd', {}, link.customer_id ? kustomerLink(link.customer_id, link.customer_url) : '—'),
        el('dt', {}, 'Last External Session Event'), el('dd', {}, report.ese ? report.ese.stage + ' at ' + when(report.ese.sent_at) : '—'),
        el('dt', {}, 'Files awaited'), el('dd', {}, report.awaiting.length ? report.awaiting.join(', ') : 'none'),
        el('dt', {}, 'Problems'), el('dd', { class: report.problems.length ? 'error' : '' }, report.problems.length ? report.problems.join('; ') : 'none')),
      el('div', { class: 'actions' }, resync, ' ', dryRun),
      el('h3', {}, 'What a resync would do'),
      previewList,
      el('h3', {}, 'Timeline'),
      el('ol', { class: 'timeline', id: 'timeline' }, timeline.length ? timeline : el('li', { class: 'muted' }, 'no trigger handled yet')),
      el('h3', {}, 'What the bridge recorded'),
      el('ol', { class: 'records' }, records),
      el('details', {}, el('summary', {}, 'The placement record (LINK)'), json(link)),
    ];
  }

  // The steps of a resync's dry run, or what to do to get them.
  function previewItems(preview) {
    if (!preview) return [el('li', { class: 'muted' }, 'No dry run yet: "Dry run" asks the bridge, and writes nothing.')];
    const head = el('li', { class: 'muted' }, 'As of ' + when(preview.at) + ':');
    if (!preview.steps.length) return [head, el('li', {}, 'nothing: every step is recorded done')];
    return [head, ...preview.steps.map((step) => el('li', { class: 'step' }, step))];
  }

  // Dead letters (R-E-7): work given up, with its reason; replayed once the cause is fixed.
  async function deadLettersPage() {
    const answer = await api('GET', '/admin/dead-letters');
    if (!answer.ok) return errorBlock(answer);
    const replay = async (body) => {
      const done = await api('POST', '/admin/dead-letters/replay', body);
      await show();
      notice(done.ok ? 'Replayed: ' + done.data.replayed.length + (done.data.missing.length ? '; already gone: ' + done.data.missing.length : '') : failure(done), done.ok ? 'ok' : 'error');
    };
    const rows = answer.data.map((d) => {
      const id = d.step + '#' + d.id;
      return el('tr', { 'data-letter': id },
        el('th', { scope: 'row' }, d.trigger.session.kind + ' ' + d.trigger.session.id),
        el('td', {}, d.step),
        el('td', {}, String(d.attempts)),
        el('td', {}, d.last_error),
        el('td', {}, when(d.last_at)),
        el('td', {}, d.permanent ? 'yes' : 'no'),
        el('td', {}, el('button', { type: 'button', 'aria-label': 'Replay ' + id, on: { click: () => replay({ ids: [id] }) } }, 'Replay')));
    });
    return [
      table(['Session', 'Step', 'Attempts', 'Last error', 'Last attempt', 'Permanent', ''], rows),
      el('button', { type: 'button', disabled: !rows.length, on: { click: () => replay({ all: true }) } }, 'Replay all'),
    ];
  }

  async function rejectedPage() {
    const answer = await api('GET', '/admin/rejected');
    if (!answer.ok) return errorBlock(answer);
    return table(['Received', 'Field', 'Error'], answer.data.map((r) => el('tr', {},
      el('td', {}, when(r.received_at)), el('td', {}, el('code', {}, r.field || '')), el('td', {}, r.error))));
  }

  async function healthPage() {
    const answer = await api('GET', '/admin/health');
    if (!answer.data || !answer.data.checks) return errorBlock(answer);
    const work = answer.data.work || {};
    const poll = (p) => (typeof p === 'object' && p !== null
      ? (p.caught_up === false ? 'catching up; ' : 'caught up; ') + 'the last change it reached: ' + when(p.reached) + ' (' + p.since_last_change_s + ' s ago)'
      : String(p));
    // How long a request asking now waits for its turn on each platform's shared schedule.
    const pacing = work.pacing;
    const paced = typeof pacing === 'object' && pacing !== null
      ? Object.entries(pacing).map(([platform, lag]) => platform + ': ' +
        (typeof lag === 'object' && lag !== null ? (lag.booked_ahead_ms / 1000).toFixed(1) + ' s' : String(lag))).join('; ')
      : String(pacing);
    return [
      el('dl', { id: 'work' },
        el('dt', {}, 'Call poll'), el('dd', {}, poll((work.polls || {}).calls)),
        el('dt', {}, 'Chat poll'), el('dd', {}, poll((work.polls || {}).chats)),
        el('dt', {}, 'Pacing lag'), el('dd', { id: 'pacing-lag' }, paced),
        el('dt', {}, 'Waiting for a retry'), el('dd', {}, String(work.retrying)),
        el('dt', {}, 'Dead letters'), el('dd', {}, el('a', { href: '#dead-letters' }, String(work.dead_letters)))),
      table(['When', 'Step', 'Latest errors'], (work.recent_errors || []).map((e) => el('tr', {},
        el('td', {}, when(e.at)), el('td', {}, e.step), el('td', { class: 'error' }, e.error)))),
      el('p', { id: 'health-status', class: answer.ok ? '' : 'error' }, 'Overall: ' + answer.data.status),
      table(['Dependency', 'Check'], Object.entries(answer.data.checks).map(([name, check]) => el('tr', {},
        el('th', { scope: 'row' }, name.replaceAll('_', ' ')),
        el('td', { class: check === 'ok' ? '' : 'error' }, typeof check === 'string' ? check : JSON.stringify(check))))),
      // Who changed what (R-ADM-3), the latest first.
      el('h3', {}, 'Latest changes'),
      Array.isArray(answer.data.changes)
        ? table(['When', 'By', 'Change', 'Answer'], answer.data.changes.map((c) => el('tr', {},
          el('td', {}, when(c.at)), el('td', {}, c.by), el('td', {}, el('code', {}, c.method + ' ' + c.route)), el('td', {}, String(c.status)))))
        : el('p', { class: 'error' }, 'Changes unavailable: ' + JSON.stringify(answer.data.changes)),
    ];
  }

  // Shapes (R-F-3): what the platforms sent, keys and types only.
  async function shapesPage() {
    const answer = await api('GET', '/admin/shapes');
    if (!answer.ok) return errorBlock(answer);
    return answer.data.kinds.map((k) => el('section', {},
      el('h3', {}, k.kind),
      el('p', {}, k.documents + ' documents, last ' + when(k.last_seen) + (k.cut ? ' (some paths left out)' : '')),
      k.unread && k.unread.length ? el('p', { class: 'waiting' }, 'Not read by the bridge: ' + k.unread.join(', ')) : null,
      Object.keys(k.missing || {}).length ? el('p', { class: 'error' }, 'Expected but missing: ' + Object.entries(k.missing).map(([p, n]) => p + ' (' + n + ')').join(', ')) : null,
      el('details', {}, el('summary', {}, 'Every path'),
        table(['Path', 'Types', 'Count'], Object.entries(k.paths).map(([p, s]) => el('tr', {},
          el('td', {}, el('code', {}, p)), el('td', {}, [].concat(s.types).join(', ')), el('td', {}, String(s.count))))))));
  }

  // Shadow mode (R-F-2): what the bridge would have written, beside what Kustomer shows.
  async function shadowPage() {
    const answer = await api('GET', '/admin/shadow');
    if (!answer.ok) return errorBlock(answer);
    const r = answer.data;
    return [
      el('p', {}, 'Mode: ' + r.mode + '. From ' + when(r.from) + ' to ' + when(r.to) + ': ' + r.compared + ' sessions compared, ' + r.with_differences + ' with differences.'),
      table(['Field', 'Sessions differing'], Object.entries(r.differences).map(([f, n]) => el('tr', {}, el('th', { scope: 'row' }, f), el('td', {}, String(n))))),
      table(['Session', 'Field', 'The bridge', 'Kustomer'], r.sessions.flatMap((s) => s.differences.map((d) => el('tr', {},
        el('th', { scope: 'row' }, el('a', { href: '#sessions/' + s.kind + '/' + encodeURIComponent(s.id) }, s.kind + ' ' + s.id)),
        el('td', {}, d.field), el('td', {}, JSON.stringify(d.bridge)), el('td', {}, JSON.stringify(d.kustomer)))))),
      r.cut ? el('p', { class: 'waiting' }, 'Cut short: the next report starts at ' + when(r.next_from)) : null,
    ];
  }

  if (session && session.token) signedIn();
  else signedOut('');
})();
