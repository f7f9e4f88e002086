// A steady tick for the widget: timers in a dedicated worker are not throttled the way a
// background tab's own timers are, so the lease is renewed in time.
setInterval(() => postMessage('tick'), 1000);
