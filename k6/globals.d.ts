// Globals that k6 provides but @types/k6 does not declare.
// https://grafana.com/docs/k6/latest/javascript-api/ (console logs through k6's logger)
declare var console: {
  log(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  debug(...args: unknown[]): void;
};
