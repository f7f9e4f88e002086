// The Kustomer window of the widget's browser tests: frames the widget page as Kustomer does
// (with `parentUrl` and `id`), answers the Cards SDK stand-in's messages by calling the
// harness's proxies (the Kustomer API as the signed-in agent; app commands run the way
// Kustomer runs them, the bridge token added on the server), and lets the test set the
// context and close the widget.
(function () {
  'use strict';
  const frame = document.getElementById('widget');
  const frameId = frame.dataset.frameId;
  const widgetOrigin = new URL(frame.src).origin;
  let context = JSON.parse(frame.dataset.context || '{}');

  function post(message) {
    if (frame.contentWindow) frame.contentWindow.postMessage(Object.assign({ frameId }, message), widgetOrigin);
  }

  async function answer(id, response) {
    const text = await response.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (_) { body = text; }
    if (!response.ok) {
      post({ kind: 'answer', id, err: { status: response.status, body } });
    } else {
      post({ kind: 'answer', id, err: null, res: body });
    }
  }

  window.addEventListener('message', async (event) => {
    if (event.origin !== widgetOrigin || !event.data || event.data.frameId !== frameId) return;
    const message = event.data;
    if (message.kind === 'init') {
      post({ kind: 'context', context });
    } else if (message.kind === 'request') {
      const options = message.options || {};
      const response = await fetch('/proxy/kustomer' + options.url, {
        method: (options.method || 'GET').toUpperCase(),
        headers: { 'content-type': 'application/json' },
        body: options.body && (options.method || 'GET').toUpperCase() !== 'GET' ? JSON.stringify(options.body) : undefined,
      });
      // The Cards SDK hands over the document's data (as apps read it: data.id, a list's items).
      const text = await response.text();
      let body = null;
      try { body = text ? JSON.parse(text) : null; } catch (_) { body = text; }
      if (!response.ok) post({ kind: 'answer', id: message.id, err: { status: response.status, body } });
      else post({ kind: 'answer', id: message.id, err: null, res: body && body.data !== undefined ? body.data : body });
    } else if (message.kind === 'command') {
      const response = await fetch('/proxy/command/' + encodeURIComponent(message.name), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(message.options || {}),
      });
      // Kustomer's own answer to a command run: the target's code and body.
      await answer(message.id, response);
    }
  });

  // For the test: a new context (the agent opened another customer or conversation).
  window.setKustomerContext = function (next) {
    context = next;
    post({ kind: 'context', context });
  };
  // For the test: the agent closes the widget (the frame goes away; Kustomer stays).
  window.closeWidget = function () {
    frame.remove();
  };
})();
