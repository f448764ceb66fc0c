/*
 * The dashboard's requests to the service: each carries the API key, when one was given, as
 * X-API-Key, and a deadline. The key lives only in this tab's sessionStorage (and here): never in
 * localStorage, a cookie or the URL, so it goes when the tab does.
 */

const REQUEST_TIMEOUT_MS = 5000;
const KEY_STORAGE = "orders-dashboard.api-key";

const readKey = () => {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
};

const writeKey = (key) => {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage refused (a private mode): the key is then asked again on reload.
  }
};

let apiKey = readKey();

/** Whether requests carry a key (so a 401 means that key was refused). */
export const hasKey = () => Boolean(apiKey);

/** Sends `key` with every request from now on, and keeps it for this tab. */
export const useKey = (key) => {
  apiKey = key;
  writeKey(key);
};

/** Drops the key, here and in sessionStorage. */
export const forgetKey = () => {
  apiKey = null;
  writeKey(null);
};

/** fetch with the key, if any, as X-API-Key, and a deadline. */
export const request = (path, init = {}) =>
  fetch(path, {
    ...init,
    headers: apiKey ? { "x-api-key": apiKey } : {},
    cache: "no-store",
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
