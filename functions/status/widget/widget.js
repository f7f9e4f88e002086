// The agent widget (R-A-1…4, events.md §3): runs inside Kustomer (a widget loaded in the
// background), learns the signed-in agent through the Cards SDK, holds the agent's lease for
// this tab, reports the agent's routing-status changes to the bridge, and offers click-to-call
// for the customer in context.
//
// The agent signs in to the bridge with Kustomer (R-SEC-1): a window of its own opens the
// bridge's sign-in, Kustomer asks the agent, and the bridge's callback page hands this widget
// an agent session by postMessage to the bridge's own origin. Every call to the bridge carries
// that session; the bridge takes the agent from it, never from what this page says.
'use strict';

(function () {
  const POLL_SECONDS = Math.max(1, Number(document.body.dataset.pollSeconds) || 10);
  const MAX_BACKOFF_SECONDS = 60;
  const SESSION_KEY = 'ccai-bridge-session';
  // Where the bridge's routes are: in front of this page's /widget/ (the REST API's stage,
  // e.g. /bridge, on AWS; nothing on a custom domain or the local host).
  const BASE = location.pathname.slice(0, Math.max(0, location.pathname.lastIndexOf('/widget/')));
  const instanceId = 'tab-' + (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2));

  const ui = {
    drive: document.getElementById('drive'),
    outcome: document.getElementById('outcome'),
    calls: document.getElementById('calls'),
    callResult: document.getElementById('call-result'),
    signIn: document.getElementById('sign-in'),
    signOut: document.getElementById('sign-out'),
  };

  const state = {
    email: null, // the Kustomer user signed in to Kustomer (Cards SDK)
    session: null, // {token, email, expiresAt (ms)}: the bridge's agent session
    signInWindow: null,
    lease: null, // {token, expiresAt (ms)}
    claimAt: 0, // when to try claiming again (ms)
    bridgeFailures: 0, // refused or failed calls to the bridge in a row (for the backoff)
    renewAt: 0,
    pollAt: 0,
    pollFailures: 0,
    statuses: new Map(), // routing status id -> {name, statusType, system}
    lastStatus: undefined, // the status last seen (undefined: not read yet)
    reportAt: 0, // when to send a refused report again (ms; 0: none due)
    context: null,
    busy: false,
    started: false,
  };

  function show(element, text, attribute, value) {
    element.textContent = text;
    if (attribute) element.dataset[attribute] = value;
  }

  function showDrive(kind, text) {
    show(ui.drive, text, 'state', kind);
  }

  // ---- talking to Kustomer (the Cards SDK) ----

  function request(url) {
    return new Promise((resolve, reject) => {
      window.Kustomer.request({ url, method: 'GET' }, (err, data) => (err ? reject(err) : resolve(data)));
    });
  }

  function list(data) {
    if (Array.isArray(data)) return data;
    if (data && Array.isArray(data.data)) return data.data;
    return [];
  }

  function resource(data) {
    return data && data.data && !Array.isArray(data.data) ? data.data : data;
  }

  // ---- the agent session (R-SEC-1) ----

  function keptSession() {
    try {
      const kept = JSON.parse(window.localStorage.getItem(SESSION_KEY) || 'null');
      if (kept && kept.token && kept.expiresAt > Date.now()) return kept;
    } catch (_) { /* storage refused or unreadable: sign in again */ }
    return null;
  }

  function keepSession(session) {
    state.session = session;
    try {
      if (session) window.localStorage.setItem(SESSION_KEY, JSON.stringify(session));
      else window.localStorage.removeItem(SESSION_KEY);
    } catch (_) { /* kept in memory only */ }
  }

  function signedOut(reason) {
    keepSession(null);
    state.lease = null;
    ui.signIn.hidden = false;
    ui.signOut.hidden = true;
    showDrive('signed-out', reason || 'Sign in with Kustomer to let this tab drive your CCAI Platform status.');
  }

  function signedIn(session) {
    if (!state.email || session.email.toLowerCase() !== state.email.toLowerCase()) {
      signedOut('The bridge signed in ' + session.email + ', but Kustomer shows ' +
        (state.email || 'nobody') + ' here; sign in again.');
      return;
    }
    keepSession(session);
    ui.signIn.hidden = true;
    ui.signOut.hidden = false;
    state.claimAt = 0;
    showDrive('waiting', 'Signed in as ' + session.email + '.');
    tick();
  }

  function openSignIn() {
    state.signInWindow = window.open(BASE + '/agents/sign-in', 'ccai-bridge-sign-in', 'popup,width=520,height=680');
    if (!state.signInWindow) showDrive('error', 'The sign-in window was blocked; allow pop-ups for the bridge and try again.');
  }

  window.addEventListener('message', (event) => {
    // Only the bridge's own sign-in page, in the window this widget opened.
    if (event.origin !== window.location.origin || event.source !== state.signInWindow) return;
    const data = event.data || {};
    if (data.type !== 'ccai-bridge-session' || !data.session) return;
    state.signInWindow = null;
    signedIn({ token: data.session, email: String(data.email || ''), expiresAt: Date.parse(data.expiresAt) || 0 });
  });

  async function signOut() {
    const token = state.session && state.session.token;
    release();
    signedOut('Signed out.');
    if (token) {
      try {
        await fetch(BASE + '/agents/session', { method: 'DELETE', headers: { Authorization: 'Bearer ' + token } });
      } catch (_) { /* the session expires on its own */ }
    }
  }

  // The bridge's answer as {status, body}; a 401 means the session is gone: sign in again.
  async function bridge(method, path, body) {
    if (!state.session) return { status: 401, body: {} };
    let answer;
    try {
      answer = await fetch(BASE + path, {
        method,
        headers: { Authorization: 'Bearer ' + state.session.token, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        keepalive: method === 'DELETE',
      });
    } catch (err) {
      return { status: 0, body: { error: String(err && err.message || err) } };
    }
    let parsed = {};
    try { parsed = await answer.json(); } catch (_) { /* 204 or not JSON */ }
    if (answer.status === 401) signedOut('Your bridge session ended; sign in again.');
    return { status: answer.status, body: parsed || {}, retryAfter: Number(answer.headers.get('Retry-After')) || 0 };
  }

  // ---- the lease (R-S-4): one tab drives the agent; the others wait, never fight ----

  // A refused or failed call to the bridge is tried again later and later (exponentially, with
  // jitter, up to a minute) and never sooner than the bridge's Retry-After: agents of one
  // office share one address, whose requests the bridge limits (review S6), and retries in
  // step would keep that address over its limit. Retry-After counts from the answer (RFC 9110
  // §10.2.3), not from when the tick sent the request.
  function retryAt(answer) {
    state.bridgeFailures = Math.min(state.bridgeFailures + 1, 6);
    const exponential = Math.min(MAX_BACKOFF_SECONDS, 2 ** state.bridgeFailures);
    const jittered = exponential * (0.5 + Math.random() / 2);
    return Date.now() + Math.max(jittered, answer.retryAfter || 0) * 1000;
  }

  async function claim(now) {
    const answer = await bridge('POST', '/agents/instances', { instance_id: instanceId });
    if (answer.status === 201 || answer.status === 409) state.bridgeFailures = 0;
    if (answer.status === 201) {
      state.lease = { token: answer.body.lease_token, expiresAt: Date.parse(answer.body.expires_at) };
      scheduleRenew(now);
      showDrive('driving', 'This tab drives your CCAI Platform status.');
      if (answer.body.applied_at_login) showOutcome(answer.body.applied_at_login);
      state.lastStatus = undefined; // read afresh: the current status is not a change
      state.pollAt = now;
    } else if (answer.status === 409) {
      state.lease = null;
      const wait = Math.max(1, Number(answer.body.expires_in_s) || POLL_SECONDS);
      state.claimAt = now + (wait + 1) * 1000;
      showDrive('waiting', 'Another Kustomer tab drives your CCAI Platform status; this tab takes over when it closes.');
    } else if (answer.status !== 401) {
      state.claimAt = retryAt(answer);
      showDrive('error', 'Not connected to the bridge (' + describe(answer) + '); trying again.');
    }
  }

  function scheduleRenew(now) {
    // A third of the time left: two renewals can fail before the lease runs out.
    const left = Math.max(3000, state.lease.expiresAt - now);
    state.renewAt = now + left / 3;
  }

  async function renew(now) {
    const answer = await bridge('PUT', '/agents/instances/' + encodeURIComponent(instanceId),
      { lease_token: state.lease.token });
    if (answer.status === 200) {
      state.bridgeFailures = 0;
      state.lease.expiresAt = Date.parse(answer.body.expires_at);
      scheduleRenew(now);
      if (answer.body.sync) showOutcome(answer.body.sync);
    } else if (answer.status === 409) {
      lost(now);
    } else if (answer.status !== 401) {
      state.renewAt = retryAt(answer);
    }
  }

  function lost(now) {
    state.lease = null;
    state.claimAt = now;
    showDrive('waiting', 'Another Kustomer tab took over your CCAI Platform status.');
  }

  function release() {
    if (!state.lease || !state.session) return;
    // Fire and forget (kept alive past the page): the lease would expire on its own anyway.
    bridge('DELETE', '/agents/instances/' + encodeURIComponent(instanceId), { lease_token: state.lease.token });
    state.lease = null;
  }

  // ---- the agent's routing status (R-A-2) ----

  async function loadStatuses() {
    for (const status of list(await request('/v1/routing/statuses'))) {
      const a = status.attributes || {};
      state.statuses.set(status.id, { name: a.name, statusType: a.statusType, system: !!a.system });
    }
  }

  function backoff() {
    return Math.min(MAX_BACKOFF_SECONDS, POLL_SECONDS * 2 ** Math.min(state.pollFailures, 6));
  }

  async function poll(now) {
    let sessions;
    try {
      sessions = list(await request('/v1/routing/work-sessions?user=true&active=true'));
      state.pollFailures = 0;
      state.pollAt = now + POLL_SECONDS * 1000;
    } catch (err) {
      state.pollFailures += 1;
      state.pollAt = now + backoff() * 1000;
      return;
    }
    const active = sessions.find((s) => !(s.attributes || {}).signedOutAt);
    const statusId = active && active.relationships && active.relationships.status &&
      active.relationships.status.data ? active.relationships.status.data.id : null;
    if (state.lastStatus === undefined) {
      state.lastStatus = statusId; // what the agent had when this tab began driving
      return;
    }
    if (statusId === state.lastStatus) return;
    state.lastStatus = statusId;
    // No active session: the agent signed out of routing — reported too (the bridge reads
    // the signed-out session's last status). Kustomer sets a system busy status by itself
    // during calls: not the agent's choice, not reported (the bridge skips it as well).
    const status = statusId ? state.statuses.get(statusId) || {} : {};
    if (status.system && status.statusType === 'busy') return;
    // Only a trigger (R-S-4): the bridge reads the agent's work session from Kustomer itself,
    // so nothing this tab says of the status is trusted, and any tab may send it.
    await report();
  }

  // Tells the bridge to read the agent's status. One refused for now (429 too soon after the
  // last, 503 busy, or unanswered) is sent again after Retry-After, so a change is never
  // dropped; a 422 (unmapped, no work session) is an answer, not a failure to repeat.
  async function report() {
    state.reportAt = 0;
    const answer = await bridge('POST', '/webhooks/kustomer/status', {});
    if (answer.status === 202) {
      state.bridgeFailures = 0;
      showOutcome(answer.body);
      return;
    }
    if (answer.status === 429 && answer.body.outcome === 'too_soon') {
      // The bridge's own spacing, not a failure: sent again when it says, without backing off.
      state.reportAt = Date.now() + Math.max(1, answer.retryAfter || 1) * 1000;
      return;
    }
    if (answer.status === 429 || answer.status === 0 || answer.status >= 500) {
      state.reportAt = retryAt(answer);
    }
    show(ui.outcome, 'failed: ' + describe(answer), 'kind', 'failed');
  }

  function showOutcome(outcome) {
    const text = typeof outcome === 'string' ? outcome : (outcome.message || outcome.outcome || '');
    const kind = typeof outcome === 'string' ? outcome.split(':')[0] : (outcome.outcome || '');
    show(ui.outcome, text, 'kind', kind);
  }

  function describe(answer) {
    return (answer.body && (answer.body.error || answer.body.message)) || ('HTTP ' + answer.status);
  }

  // ---- click-to-call (R-A-4, R-C2C) ----

  function renderCalls() {
    ui.calls.replaceChildren();
    const customer = state.context && state.context.customer;
    const phones = customer && customer.attributes && customer.attributes.phones || [];
    for (const entry of phones) {
      if (!entry || !entry.phone) continue;
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = 'Call ' + entry.phone;
      button.dataset.phone = entry.phone;
      button.addEventListener('click', () => call(entry.phone, button));
      ui.calls.append(button);
    }
  }

  async function call(phone, button) {
    if (!state.session) return;
    button.disabled = true;
    const customer = state.context && state.context.customer;
    const conversation = state.context && state.context.conversation;
    const answer = await bridge('POST', '/click-to-call', {
      phone,
      customer_id: customer ? customer.id : undefined,
      conversation_id: conversation ? conversation.id : undefined,
    });
    button.disabled = false;
    if (answer.status === 201) {
      show(ui.callResult, 'Calling ' + phone + '…', 'kind', 'created');
    } else if (answer.status === 202) {
      show(ui.callResult, 'Confirm the call to ' + phone + ' in the CCAI Platform adapter.', 'kind', 'confirm');
    } else {
      show(ui.callResult, 'The call to ' + phone + ' did not start: ' + describe(answer), 'kind', 'error');
    }
  }

  // ---- the loop ----

  async function tick() {
    if (state.busy || !state.email || !state.session) return;
    state.busy = true;
    const now = Date.now();
    try {
      if (!state.lease) {
        if (now >= state.claimAt) await claim(now);
      } else if (now >= state.renewAt) {
        await renew(now);
      }
      if (state.lease && now >= state.pollAt) await poll(now);
      // Due even if this tab lost the lease meanwhile: a report needs no lease, and the tab
      // that took over reads its baseline without reporting it.
      if (state.reportAt && Date.now() >= state.reportAt) await report();
    } finally {
      state.busy = false;
    }
  }

  async function start() {
    try {
      const me = resource(await request('/v1/users/current'));
      state.email = me && me.attributes && me.attributes.email;
      if (!state.email) throw new Error('Kustomer gave no e-mail for the signed-in user');
      await loadStatuses();
    } catch (err) {
      showDrive('error', 'Could not read the signed-in agent from Kustomer: ' + (err && err.message || err));
      return;
    }
    const kept = keptSession();
    if (kept) signedIn(kept);
    else signedOut();
    const ticker = new Worker(BASE + '/widget/ticker.js');
    ticker.onmessage = tick;
    document.addEventListener('visibilitychange', tick);
    window.addEventListener('pagehide', release);
    tick();
  }

  ui.signIn.addEventListener('click', openSignIn);
  ui.signOut.addEventListener('click', signOut);

  if (!window.Kustomer) {
    showDrive('error', "Kustomer's Cards SDK did not load.");
    return;
  }
  window.Kustomer.initialize((context) => {
    state.context = context;
    renderCalls();
    if (!state.started) {
      state.started = true;
      start();
    }
  });
  window.Kustomer.on('context', (context) => {
    state.context = context;
    renderCalls();
    state.pollAt = 0; // a change of context may follow a change of status: look now
    tick();
  });
})();
