/**
 * The page's offline side (README, "Offline"): whether the browser has a network, and the service
 * worker (src/sw/service-worker.ts) that keeps the page for visits without one.
 */

/** `online` follows the browser's own view (`navigator.onLine` and its events). */
export const network = $state({ online: typeof navigator === 'undefined' || navigator.onLine });

let busy = 0;
const idle: (() => void)[] = [];

/**
 * Marks a base download under way. The service worker's first install waits until none is, so
 * storing the page's files never competes with the transfer of the base a donor is waiting for.
 */
export function whileBasesLoad<T>(work: Promise<T>): Promise<T> {
  busy += 1;
  const done = () => {
    busy -= 1;
    if (busy === 0) idle.splice(0).forEach((wake) => wake());
  };
  work.then(done, done);
  return work;
}

function basesIdle(): Promise<void> {
  return busy === 0 ? Promise.resolve() : new Promise((resolve) => idle.push(resolve));
}

let registration: Promise<ServiceWorkerRegistration | undefined> | undefined;

/**
 * Follows the network state and registers the service worker once the page has loaded and no base
 * is downloading. Only in the built page (the dev server has no sw.js). `sw.js` sits next to
 * index.html, so its scope is the page's own folder, whatever sub-path the page is served under.
 */
export function startOffline(): void {
  addEventListener('offline', () => (network.online = false));
  addEventListener('online', () => {
    network.online = true;
    // Back online: look for a new deployment now rather than at the next visit.
    void registration?.then((r) => r?.update()).catch(() => undefined);
  });
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return;
  const register = () => {
    registration = basesIdle()
      .then(() => navigator.serviceWorker.register('./sw.js'))
      // No service worker (a private window, storage turned off): the page works online as before.
      .catch(() => undefined);
  };
  if (document.readyState === 'complete') register();
  else addEventListener('load', register, { once: true });
}
