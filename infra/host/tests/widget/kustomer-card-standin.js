// A stand-in of Kustomer's Cards SDK (kustomer-card.min.js) for the widget's browser tests,
// written from Kustomer's documentation (kustomer-api.md "Apps: widgets and the Cards SDK";
// developer.kustomer.com Cards SDK): one `window.Kustomer` object that talks to the Kustomer
// window framing the page through postMessage, using the `parentUrl` and `id` query parameters
// Kustomer opens the page with. `initialize(cb)` answers the context once; `on('context', cb)`
// every change; `request({url, method, body}, cb)` calls the Kustomer API as the agent;
// `command.run(name, {body, urlArgs}, cb)` runs an app command on Kustomer's side.
(function () {
  'use strict';
  const params = new URLSearchParams(location.search);
  const parentUrl = params.get('parentUrl');
  const frameId = params.get('id');
  if (!parentUrl || !frameId) {
    console.warn('Kustomer Cards SDK: running outside Kustomer (no parentUrl or id)');
  }
  const parentOrigin = parentUrl ? new URL(parentUrl).origin : '*';
  const pending = new Map();
  const listeners = [];
  let initialised = null;
  let next = 1;

  function send(message) {
    window.parent.postMessage(Object.assign({ frameId }, message), parentOrigin);
  }

  window.addEventListener('message', (event) => {
    if (event.origin !== parentOrigin || !event.data || event.data.frameId !== frameId) return;
    const message = event.data;
    if (message.kind === 'answer' && pending.has(message.id)) {
      const callback = pending.get(message.id);
      pending.delete(message.id);
      callback(message.err || null, message.res);
    } else if (message.kind === 'context') {
      if (initialised) {
        const callback = initialised;
        initialised = null;
        callback(message.context, { userRoles: [] });
      } else {
        listeners.forEach((listener) => listener(message.context));
      }
    }
  });

  function call(kind, payload, callback) {
    const id = next++;
    pending.set(id, callback || function () {});
    send(Object.assign({ kind, id }, payload));
  }

  window.Kustomer = {
    initialize(options, callback) {
      initialised = typeof options === 'function' ? options : callback;
      send({ kind: 'init' });
    },
    on(event, callback) {
      if (event === 'context') listeners.push(callback);
    },
    request(options, callback) {
      call('request', { options }, callback);
    },
    command: {
      run(name, options, callback) {
        call('command', { name, options: options || {} }, callback);
      },
    },
    resize() {},
    close() {},
  };
})();
