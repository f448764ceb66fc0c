/**
 * Seeded generators of malformed and hostile requests for `fuzz.test.ts`. Every case is drawn from
 * a PRNG of its own, seeded from the run's seed and the case's index, so one case replays alone
 * (`FUZZ_SEED=<seed> FUZZ_CASE=<index>`) exactly as it ran among the others.
 */

/** A small seeded random source. */
type Rng = {
  /** Uniform in [0, 1). */
  next: () => number;
  /** Uniform integer in [0, n). */
  int: (n: number) => number;
  /** Uniform integer in [min, max]. */
  between: (min: number, max: number) => number;
  pick: <T>(items: readonly T[]) => T;
  chance: (p: number) => boolean;
};

/** mulberry32: 32 bits of state, fast, good enough to spread test inputs (not for cryptography). */
/** mulberry32: a small seeded generator, so a failing case can be replayed from its seed. */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    between: (min, max) => min + int(max - min + 1),
    pick: <T>(items: readonly T[]) => items[int(items.length)] as T,
    chance: (p) => next() < p,
  };
}

/** The random source of case `index` of a run seeded with `seed`. */
function caseRng(seed: number, index: number): Rng {
  return mulberry32((seed ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0);
}

/** One generated request. `stream` sends the body chunked, without a Content-Length. */
export type FuzzRequest = {
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array;
  stream?: boolean;
};

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);
const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

// Characters that break naive code: controls and NUL, lone and reversed surrogates (JSON.stringify
// writes them as \ud800 escapes), noncharacters, bidi and zero-width marks, BOM, combining marks,
// emoji sequences, quotes and escapes, and strings that mean something to other interpreters.
const ODD = [
  "\u0000",
  "\u0001",
  "\u001b",
  "\u007f",
  "\u0085",
  "\t",
  "\n",
  "\r",
  "\ud800",
  "\udfff",
  "\udc00\ud800",
  "\udbff\udfff",
  "\ufdd0",
  "\ufffe",
  "\uffff",
  "\u{1fffe}",
  "\u{10ffff}",
  "\u200b",
  "\u200d",
  "\u200e",
  "\u200f",
  "\u202e",
  "\u2066",
  "\u2028",
  "\ufeff",
  "e\u0301",
  "\u0300\u0300\u0300",
  "😀",
  "👩‍👩‍👧‍👦",
  "🏳️‍🌈",
  "中文",
  "ǅ",
  "ﬀ",
  '"',
  "\\",
  "/",
  "'",
  "%00",
  "%",
  "<script>",
  "' OR 1=1 --",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: literal text a template engine would expand
  "${x}",
  "__proto__",
];

/** A string mixing plain ASCII, the odd characters above and random code points (surrogates too). */
function oddString(rng: Rng, maxParts = 12): string {
  let text = "";
  for (let i = rng.int(maxParts + 1); i > 0; i--) {
    const roll = rng.int(3);
    if (roll === 0) text += rng.pick(ODD);
    else if (roll === 1) text += String.fromCodePoint(rng.int(0x110000));
    else text += rng.int(36 ** 3).toString(36);
  }
  return text;
}

const ODD_NUMBERS = [
  "1e308",
  "-1e308",
  "1.7976931348623157e308",
  "1e309",
  "-1e309",
  "-0",
  "-0.0",
  "0e0",
  "1e-320",
  "5e-324",
  "2.2250738585072014e-308",
  "9007199254740993",
  "-9007199254740993",
  "18446744073709551616",
  "1e12",
  "1000000000000.01",
  "1e2",
  "1E+2",
  "0.30000000000000004",
  "150.999",
  "0.1",
  "-1",
  "1.000000000000000000000000001",
];

/** JSON number text: extremes, -0, subnormals, 2^53 + 1, and numbers hundreds of digits long. */
function oddNumber(rng: Rng): string {
  const roll = rng.int(4);
  if (roll === 0) return `${rng.chance(0.3) ? "-" : ""}${digits(rng, rng.between(1, 400))}`;
  if (roll === 1) return `0.${"0".repeat(rng.int(400))}${digits(rng, rng.between(1, 20))}`;
  if (roll === 2)
    return `${digits(rng, rng.between(1, 30))}.${digits(rng, rng.between(1, 400))}e${rng.int(700) - 350}`;
  return rng.pick(ODD_NUMBERS);
}

function digits(rng: Rng, count: number): string {
  let text = String(rng.between(1, 9));
  while (text.length < count) text += String(rng.int(10));
  return text;
}

/** Random JSON text: any value, nested at most `depth` deep. */
function jsonValue(rng: Rng, depth = 3): string {
  const roll = rng.int(depth > 0 ? 8 : 5);
  if (roll === 0) return rng.pick(["true", "false", "null"]);
  if (roll === 1 || roll === 2) return oddNumber(rng);
  if (roll === 3 || roll === 4) return JSON.stringify(oddString(rng));
  if (roll === 5 || roll === 6) {
    return `[${Array.from({ length: rng.int(5) }, () => jsonValue(rng, depth - 1)).join(",")}]`;
  }
  return objectText(Array.from({ length: rng.int(5) }, () => [oddKey(rng), jsonValue(rng, depth - 1)]));
}

const ODD_KEYS = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "", " ", "USER_ID"];
const FIELDS = ["user_id", "order_id", "item_ids", "total_amount"] as const;

function oddKey(rng: Rng): string {
  const roll = rng.int(3);
  if (roll === 0) return rng.pick(ODD_KEYS);
  if (roll === 1) return `${rng.pick(FIELDS)}${rng.pick([" ", "\u0000", "\u200b", "_", "s", ""])}`;
  return oddString(rng, 4);
}

/** An object's JSON text from key/value-text pairs, duplicate keys kept. */
function objectText(entries: [string, string][]): string {
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(",")}}`;
}

/** The fields of a valid order; ids come from a small pool so replays (200) and conflicts (409) happen. */
function validFields(rng: Rng): [string, string][] {
  const id = `fz-${rng.int(80)}`;
  const variant = rng.int(3); // the same id with another variant is a conflict
  const who: [string, string][] = [
    ["user_id", JSON.stringify(rng.pick(["user_1", "üser 😀", "user\u200d2"]).concat(String(variant)))],
    ["order_id", JSON.stringify(id)],
  ];
  if (rng.chance(0.5)) {
    return [
      ...who,
      ["item_ids", JSON.stringify(["item_1", `item_${variant}`])],
      ["total_amount", rng.pick(["150.99", "0", "1e12", "1E2", "0.10", "-0"])],
    ];
  }
  // An order with items, in a currency of 0 to 4 digits (or none that is accepted), its charges
  // and total sometimes given: the service prices it (src/orders/pricing.ts).
  const price = () => rng.pick(["19.99", "1500", "1.234", "0.0001", "0", "1e-7", "1e15", "-0", "0.1"]);
  const line = () =>
    objectText([
      ["sku", JSON.stringify(rng.pick(["SKU-1", "é-2", "x".repeat(64)]))],
      ["quantity", rng.pick(["1", "3", "100000", "0", "1.5"])],
      ["unit_price", price()],
      ...(rng.chance(0.3) ? [["name", JSON.stringify("A thing")] as [string, string]] : []),
    ]);
  const charges = CHARGES.filter(() => rng.chance(0.3)).map((key): [string, string] => [key, price()]);
  return [
    ...who,
    ...(rng.chance(0.8) ? [["currency", JSON.stringify(rng.pick(CURRENCIES))] as [string, string]] : []),
    ["items", `[${Array.from({ length: rng.between(1, 4) }, line).join(",")}]`],
    ...charges,
    ...(rng.chance(0.3) ? [["total_amount", price()] as [string, string]] : []),
  ];
}

const CHARGES = ["shipping_amount", "tax_amount", "discount_amount"] as const;
const CURRENCIES = ["USD", "JPY", "KWD", "CLF", "EUR", "XAU", "XTS", "usd", "DEM", ""];

/** `inner` nested `depth` deep in arrays, objects or both. */
function nested(rng: Rng, depth: number, inner: string): string {
  const style = rng.int(3);
  let open = "";
  let close = "";
  for (let i = 0; i < depth; i++) {
    const array = style === 0 || (style === 2 && rng.chance(0.5));
    open += array ? "[" : `{${JSON.stringify(rng.pick(["a", "item_ids", ""]))}:`;
    close = (array ? "]" : "}") + close;
  }
  return open + inner + close;
}

/** Bytes that are not UTF-8: an encoded surrogate, overlong forms, stray continuation bytes, 0xFF. */
const BAD_UTF8 = [
  [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf],
  [0xc0, 0xaf],
  [0xe0, 0x80, 0xaf],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0x80],
  [0xbf],
  [0xff],
  [0xfe, 0xff],
  [0xe2, 0x82],
];

/** `unit` repeated to about `size` bytes of UTF-8. */
function repeatToBytes(unit: string, size: number): string {
  return unit.repeat(Math.ceil(size / bytes(unit).byteLength));
}

function randomBytes(rng: Rng, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = rng.int(256);
  return out;
}

/** Mangles valid JSON text: truncation, stray characters, JS-isms JSON does not allow, encodings. */
function malformed(rng: Rng, text: string): Uint8Array {
  const at = rng.int(text.length + 1);
  switch (rng.int(10)) {
    case 0:
      return bytes(text.slice(0, at));
    case 1:
      return bytes(
        text.slice(0, at) + rng.pick(["{", "}", "[", "]", ",", ":", '"', "\\", "\u0000"]) + text.slice(at),
      );
    case 2:
      return bytes(text.replace(/}$/, ",}"));
    case 3:
      return bytes(`/* c */${text}// c`);
    case 4:
      return bytes(text.replaceAll('"', "'"));
    case 5:
      return bytes(
        text.replace(
          /"total_amount":[^,}]+/,
          `"total_amount":${rng.pick(["NaN", "Infinity", "-Infinity", "01", "1.", "+1", ".5", "0x10", "1e", "--1"])}`,
        ),
      );
    case 6:
      return bytes(`${text}${rng.pick([text, " x", "\u0000", "null", "]"])}`);
    case 7:
      return concat(new Uint8Array([0xef, 0xbb, 0xbf]), bytes(text)); // UTF-8 BOM
    case 8:
      return new Uint8Array(Buffer.from(`\ufeff${text}`, "utf16le")); // UTF-16
    default:
      return concat(bytes(text.slice(0, at)), new Uint8Array(rng.pick(BAD_UTF8)), bytes(text.slice(at)));
  }
}

const CONTENT_TYPES = [
  "text/plain",
  "text/json",
  "application/json; charset=utf-16",
  "application/json; charset=latin1",
  'application/json; charset="utf-8"',
  "APPLICATION/JSON",
  "application/json;",
  "application/json , text/plain",
  "application/jsonx",
  "application/json-patch+json",
  "application/vnd.api+json",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=----x",
  "multipart/form-data",
  "application/octet-stream",
  "*/*",
  "application/*",
  "json",
  ";",
  "application/json\u00e9",
];

/** A Content-Type to send: mostly JSON, else an odd one; `undefined` sends none. */
function contentType(rng: Rng, jsonShare = 0.6): string | undefined {
  if (rng.chance(jsonShare)) return "application/json";
  if (rng.chance(0.2)) return undefined;
  return rng.chance(0.8) ? rng.pick(CONTENT_TYPES) : oddString(rng, 3).replace(/[^\x20-\x7e]/g, "");
}

/** The body of one hostile POST /orders, and which family it is from. */
function orderBody(rng: Rng): { kind: string; body: Uint8Array; type?: string } {
  const json = (kind: string, text: string) => ({ kind, body: bytes(text), type: "application/json" });
  const fields = validFields(rng);
  switch (rng.int(14)) {
    case 0:
      return json("valid", objectText(fields));
    case 1:
      return json(
        "wrong-types",
        objectText(fields.map(([key, value]) => [key, rng.chance(0.5) ? jsonValue(rng, 2) : value])),
      );
    case 2: {
      const extra = Array.from({ length: rng.between(1, 5) }, (): [string, string] => [
        oddKey(rng),
        jsonValue(rng, 2),
      ]);
      return json("extra-keys", objectText(rng.chance(0.5) ? [...fields, ...extra] : [...extra, ...fields]));
    }
    case 3:
      return json("missing-keys", objectText(fields.filter(() => rng.chance(0.5))));
    case 4: {
      // Duplicate keys: JSON.parse keeps the last one.
      const [key, value] = rng.pick(fields);
      const twice = rng.chance(0.5)
        ? [[key, jsonValue(rng, 1)] as [string, string], ...fields]
        : [...fields, [key, jsonValue(rng, 1)] as [string, string]];
      return json("duplicate-keys", objectText(rng.chance(0.5) ? twice : [...fields, [key, value]]));
    }
    case 5:
      return json("random-json", jsonValue(rng, rng.int(5)));
    case 6: {
      const depth = rng.pick([15, 16, 17, 64, 500, 1000, 2000, 3000, 5000]);
      const deep = nested(rng, depth, rng.chance(0.5) ? "1" : '"x"');
      const where = rng.int(3);
      if (where === 0) return json("deep-top", deep);
      const field: [string, string] = [where === 1 ? rng.pick(FIELDS) : oddKey(rng), deep];
      return json("deep-field", objectText([...fields.filter(([key]) => key !== field[0]), field]));
    }
    case 7: {
      const key = rng.chance(0.7) ? "total_amount" : rng.pick(FIELDS);
      const value = key === "item_ids" ? `[${oddNumber(rng)}]` : oddNumber(rng);
      return json("numbers", objectText(fields.map(([k, v]) => [k, k === key ? value : v])));
    }
    case 8: {
      const key = rng.pick(FIELDS);
      const value = JSON.stringify(key === "item_ids" ? [oddString(rng), "ok"] : oddString(rng));
      return json("unicode", objectText(fields.map(([k, v]) => [k, k === key ? value : v])));
    }
    case 9: {
      // Up to ~1 MB, a few just over the 1 MiB limit (413); or item_ids with thousands of entries.
      const key = rng.pick(FIELDS);
      const size = rng.pick([129, 4096, 65_536, 300_000, 1_000_000, 1_048_400, 1_100_000]);
      const value =
        key === "item_ids" && rng.chance(0.5)
          ? JSON.stringify(Array.from({ length: Math.min(size, 50_000) }, (_, i) => `i${i}`))
          : JSON.stringify(repeatToBytes(rng.pick(["a", "é", "😀", "\u200b"]), size));
      return json("long-string", objectText(fields.map(([k, v]) => [k, k === key ? value : v])));
    }
    case 10:
      return { kind: "malformed-json", body: malformed(rng, objectText(fields)), type: "application/json" };
    case 11:
      return {
        kind: "random-bytes",
        body: rng.chance(0.5)
          ? randomBytes(rng, rng.int(4096))
          : concat(bytes('{"user_id":"'), randomBytes(rng, rng.int(64)), bytes('"}')),
        type: contentType(rng, 0.5),
      };
    case 12:
      return { kind: "content-type", body: bytes(objectText(fields)), type: contentType(rng, 0) };
    default:
      return {
        kind: "empty",
        body: bytes(rng.pick(["", " ", "\r\n", "\u0000", "null", "[]", "{}", '""', "0"])),
        type: contentType(rng, 0.7),
      };
  }
}

const METHODS = [
  "GET",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "OPTIONS",
  "HEAD",
  "CONNECT",
  "PROPFIND",
  "M-SEARCH",
  "patch",
];

// fetch's URL parser resolves "." and ".." segments (%2e too) before sending, so "/../x" arrives as
// "/x"; the raw TCP test sends a literal "..".
const FIXED_PATHS = [
  "/",
  "/orders",
  "/orders/",
  "/health",
  "/health/",
  "/ready",
  "/metrics",
  "/metrics/",
  "/swagger",
  "/swagger/json",
  "/swagger/json/",
  "/ORDERS",
  "/Orders/fz-1",
  "/orders.json",
  "/orders;x",
  "/orders/*",
  "/orders/:order_id",
  "/favicon.ico",
  "/.env",
  "//orders",
  "///",
  "/orders//status",
  "/orders/fz-1//status",
  "/orders/fz-1/status/extra",
  "/orders/fz-1/cancel/extra",
  "/orders/fz-1/../fz-2",
  "/orders/./fz-1",
  "/../../etc/passwd",
  "/orders/%2e%2e/status",
  "/orders/..%2fhealth",
  "/orders/%2e%2e%2f%2e%2e%2fetc%2fpasswd/cancel",
  "/orders/%2F/status",
  "/orders/%20/status",
  "/orders/+/status",
  "/orders/fz-1/events",
  "/orders/fz-1/retry",
  "/webhooks",
  "/webhooks/",
  "/webhooks/fz-1",
  "/webhooks/fz-1/deliveries",
  "/webhooks/fz-1/deliveries/1/redeliver",
  "/webhooks/fz-1/deliveries/%ff/redeliver",
  "/dashboard",
  "/dashboard/data",
  "/dashboard/assets/dashboard.js",
  "/dashboard/assets/..%2f..%2fpackage.json",
  "/dashboard/assets/%2e%2e%2f%2e%2e%2fpage%2fdashboard.html",
];

const BAD_ESCAPES = [
  "%",
  "%%",
  "%z",
  "%zz",
  "%0",
  "%00",
  "%ff",
  "%FF%FE",
  "%c0%af",
  "%ed%a0%80",
  "%e2%82",
  "%25",
  "%2f",
  "%5c",
  "%u0041",
];

/** One path segment: a real or pooled id, odd unicode, percent-escape garbage, or a very long one. */
function segment(rng: Rng, maxLength: number): string {
  switch (rng.int(5)) {
    case 0:
      return `fz-${rng.int(80)}`;
    case 1:
      // The URL parser percent-encodes what a path cannot hold (a lone surrogate becomes %EF%BF%BD).
      return oddString(rng, 6).replace(/[?#]/g, "");
    case 2:
      return Array.from({ length: rng.between(1, 6) }, () => rng.pick(BAD_ESCAPES)).join(
        rng.pick(["", "a", "/"]),
      );
    case 3:
      return rng.pick(["..", ".", "...", "%2e", "~", "-", "_", ":", "a:b", "order 1", "fz-1;x", "a\\b"]);
    default:
      return rng.pick(["a", "%41", "é", "/"]).repeat(rng.between(1, Math.max(1, Math.floor(maxLength / 3))));
  }
}

/** A path under /orders or anywhere, with odd slashes now and then; at most ~8 KB. */
function randomPath(rng: Rng): string {
  if (rng.chance(0.3)) return rng.pick(FIXED_PATHS);
  const max = rng.chance(0.1) ? 8000 : 60;
  const id = segment(rng, max);
  let path = rng.pick([
    `/orders/${id}`,
    `/orders/${id}/status`,
    `/orders/${id}/cancel`,
    `/orders/${id}/events`,
    `/orders/${id}/retry`,
    `/webhooks/${id}`,
    `/webhooks/${id}/deliveries`,
    `/webhooks/${id}/deliveries/${segment(rng, 20)}/redeliver`,
    `/dashboard/assets/${id}`,
    `/${id}`,
    `/orders/${id}/${segment(rng, 20)}`,
  ]);
  if (rng.chance(0.15)) path += "/";
  if (rng.chance(0.1)) path = path.replace("/orders", "/orders/");
  return path;
}

const LIMITS = [
  "",
  "0",
  "1",
  "-1",
  "500",
  "501",
  "50.0",
  "1e2",
  "0x10",
  "+1",
  " 1",
  "1 ",
  "%31",
  "１",
  "٣",
  "NaN",
  "Infinity",
  "null",
  "true",
  "[]",
  "1,2",
  "9".repeat(40),
  "00000000001",
  "1%00",
  "%ff",
];
const STATUSES = [
  "pending",
  "PENDING",
  "completed",
  "cancelled",
  "unknown",
  "",
  "pending,completed",
  "%70ending",
];

/** A query string parameter: the real ones in odd forms, unknown or repeated ones, bad escapes. */
function queryPart(rng: Rng): string {
  switch (rng.int(9)) {
    case 0:
      return `limit=${rng.pick(LIMITS)}`;
    case 1:
      return rng.pick(["limit", "limit=", "limit[]=1", "limit[a]=1", "LIMIT=1", "limit%00=1", "lim%69t=2"]);
    case 2:
      return `status=${rng.pick(STATUSES)}`;
    case 3:
      return `user_id=${rng.chance(0.2) ? "u".repeat(rng.pick([128, 129, 6000])) : oddString(rng, 4).replace(/[&#]/g, "")}`;
    case 4: {
      const cursor = rng.chance(0.5)
        ? Buffer.from(randomBytes(rng, rng.int(64))).toString("base64url")
        : oddString(rng, 6).replace(/[&#]/g, "");
      return `cursor=${cursor}`;
    }
    case 5:
      return `${rng.pick(["x", "__proto__", "constructor[prototype][x]", "a.b", "", "=", "&", "q", "%00"])}=${rng.pick(["1", "", "%", "x=y"])}`;
    case 6:
      return `${rng.pick(["limit", "status", "cursor", "x"])}=${rng.pick(BAD_ESCAPES)}`;
    case 7:
      return `x=${"9".repeat(rng.pick([10, 400, 6000]))}`;
    default:
      return rng.pick(["", "&", "=", "==", "?", "+", "%20=%20"]);
  }
}

/** A query string: a few parameters, sometimes one of them twice. */
function queryString(rng: Rng): string {
  const parts = Array.from({ length: rng.between(1, 5) }, () => queryPart(rng));
  if (rng.chance(0.2)) parts.push(rng.pick(parts));
  return parts.join(rng.chance(0.9) ? "&" : rng.pick([";", "&&"]));
}

/** Extra request headers a client might send. */
function oddHeaders(rng: Rng): Record<string, string> {
  const headers: Record<string, string> = {};
  if (rng.chance(0.2))
    headers.accept = rng.pick(["text/html", "*/*", "application/xml", "", "application/json;q=0"]);
  if (rng.chance(0.1)) headers["accept-encoding"] = rng.pick(["gzip, br", "identity;q=0", "zstd"]);
  if (rng.chance(0.1)) headers["x-request-id"] = "r".repeat(rng.pick([1, 1000, 4000]));
  return headers;
}

/** Longest request target sent, as it goes on the wire (percent-encoded): 8 KiB. */
const MAX_TARGET = 8192;

/**
 * Cuts `path` until its percent-encoded form fits MAX_TARGET. Bun refuses a request line or header
 * block over 16 KiB with a bare 431 of its own before the app sees it (the raw TCP test shows it).
 */
function capTarget(path: string): string {
  let capped = path;
  for (;;) {
    const url = new URL(`http://host${capped}`);
    if (url.pathname.length + url.search.length <= MAX_TARGET) return capped;
    capped = capped.slice(0, Math.floor(capped.length * 0.9));
  }
}

/** The request of case `index` of a run seeded with `seed`. */
export function generateRequest(seed: number, index: number): FuzzRequest {
  const request = generateUncapped(caseRng(seed, index));
  return { ...request, path: capTarget(request.path) };
}

function generateUncapped(rng: Rng): FuzzRequest {
  const headers = oddHeaders(rng);
  const roll = rng.next();
  if (roll < 0.55) {
    const { kind, body, type } = orderBody(rng);
    if (type !== undefined) headers["content-type"] = type;
    const stream = rng.chance(0.1);
    return {
      kind: stream ? `${kind}+chunked` : kind,
      method: "POST",
      path: "/orders",
      headers,
      body,
      stream,
    };
  }
  if (roll < 0.8) {
    const method = rng.pick(METHODS);
    let path = randomPath(rng);
    if (rng.chance(0.1)) path += `?${queryString(rng)}`;
    if (method === "GET" || method === "HEAD" || rng.chance(0.4))
      return { kind: "method-path", method, path, headers };
    const { body, type } = orderBody(rng);
    if (type !== undefined) headers["content-type"] = type;
    return { kind: "method-path", method, path, headers, body };
  }
  const path = rng.chance(0.8)
    ? rng.pick(["/orders", "/orders/"])
    : rng.pick([
        "/metrics",
        "/health",
        "/orders/fz-1",
        "/orders/fz-1/status",
        "/swagger/json",
        "/webhooks",
        "/webhooks/fz-1/deliveries",
      ]);
  return {
    kind: "query",
    method: rng.chance(0.9) ? "GET" : "HEAD",
    path: `${path}?${queryString(rng)}`,
    headers,
  };
}
