/**
 * The headers of the pages this service serves (the dashboard, Swagger UI): a Content-Security-
 * Policy under which a page uses nothing but this service's own files (its scripts, no inline script
 * and no eval; its stylesheets, no inline style: scripts that set styles through the CSSOM are not
 * governed by style-src; requests to this service only; no form ever submitted, no `<base>`), and
 * nothing may frame it, so none of its buttons can be clicked under another site's page
 * (X-Frame-Options says the same to browsers that predate frame-ancestors). The data routes the
 * pages call are not pages and get none of this.
 */

/** The page headers, with `imgSrc` the images the page may show (its own needs differ). */
export function pageSecurityHeaders(imgSrc: string): Record<string, string> {
  return {
    "content-security-policy": [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "connect-src 'self'",
      `img-src ${imgSrc}`,
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join("; "),
    "x-frame-options": "DENY",
  };
}
