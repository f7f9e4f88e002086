// The sign-in window's last page (R-SEC-1): hands the agent session the bridge issued to the
// widget that opened this window — only to a window of the bridge's own origin — and closes.
'use strict';

(function () {
  const data = document.body.dataset;
  if (!data.session) return; // a refusal: the page says why
  if (window.opener && !window.opener.closed) {
    window.opener.postMessage(
      { type: 'ccai-bridge-session', session: data.session, email: data.email, expiresAt: data.expiresAt },
      window.location.origin,
    );
    delete data.session;
    window.close();
  } else {
    delete data.session;
    document.getElementById('result').textContent =
      'Signed in, but the widget that asked is gone: open Kustomer and sign in from the widget.';
  }
})();
