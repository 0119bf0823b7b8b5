/**
 * The secret finder: every credential in a text, with what kind it is.
 *
 * One pass of a trigger expression (./trigger) finds the places worth a look (words
 * such as `pass`, `token`, `key`, `auth`; key prefixes such as `sk-`,
 * `AIza`, `eyJ`; `://`; `-----BEGIN`; a few tool names); each trigger is then
 * judged where it stands:
 *
 * - a name (lib/redact/names.ts) followed by a value: a header line (folded
 *   lines included), `name: value` in text, a JSON pair at any escape depth
 *   (`"k":"v"`, `\"k\":\"v\"` inside a JSON string, ...), `name=value` in
 *   URLs, forms, env dumps and ini files (`api%5Fkey=` too), a `--flag value`
 *   or `--flag=value`, a multipart field;
 * - a shape (lib/redact/shapes.ts): API keys, JWTs, AWS keys, PEM blocks,
 *   URL userinfo, `Bearer`/`Basic` credentials, tool password flags.
 *
 * `streaming`: the text may continue in a next piece (TLS calls, body
 * chunks): a value cut by its end is masked as far as it goes and reported
 * as `open`, to be continued there (continueOpen).
 */
import { classifyName, credentialLike, headerKind, isSecretHeader, paramVerdict, type NameVerdict } from './names';
import { authSchemeAt, base64PemAt, hintOf, jwtAt, keyShapeAt, pemAt, pemEnd, prefixTail, toolFlagsAt, userinfoAt, webhookAt } from './shapes';
import { atLineStart, backslashesBefore, isKeyChar, isNameChar, jsonStringEnd, levelQuote, quotedEnd, quoteLevel, skipSpace, valueEnd } from './text';
import { nextTrigger, type TriggerList } from './trigger';
import type { Finding, Hit, Open } from './types';

export type { Finding, Open, Range } from './types';

export interface FindResult {
  findings: Finding[];
  /** A secret running to the end of the text (streaming only). */
  open: Open | null;
}

const WORDS = new Set(['pass', 'secret', 'token', 'key', 'auth', 'cookie', 'session', 'cred', 'sig', 'pwd']);
const TOOLS = new Set(['mysql', 'mariadb', 'sshpass', 'redis-cli', 'curl']);

/**
 * Every secret in `text`. `triggers`: the triggers of the text's beginning,
 * already found (lib/redact/trigger.ts: those starting before its `upTo`;
 * the rest are searched for here), for a text searched in pieces before.
 */
export function findSecrets(text: string, streaming = false, triggers: TriggerList | null = null): FindResult {
  // a complete text without a trigger holds no secret (most strings of an event, most header values)
  if (!streaming && triggers === null && nextTrigger(text, 0) === null) return { findings: [], open: null };
  const findings: Finding[] = [];
  let open: Open | null = null;
  scan(text, streaming, triggers, findings, (o) => (open = o));
  if (open && !findings.some((f) => f.end === text.length) && !emptyOpen(open)) open = null;
  if (streaming && !open) {
    const t = prefixTail(text);
    if (t) findings.push(t);
  }
  return { findings, open };
}

function scan(text: string, streaming: boolean, known: TriggerList | null, findings: Finding[], setOpen: (o: Open) => void): void {
  let from = 0;
  // the known triggers, in order (each search starts after the last one's)
  let k = 0;
  const knownTo = known ? Math.min(known.upTo, text.length) : 0;
  for (;;) {
    let i: number;
    let m0: string;
    if (known) while (k < known.starts.length && known.starts[k] < from) k++;
    if (known && k < known.starts.length && known.starts[k] < knownTo) {
      i = known.starts[k];
      m0 = text.slice(i, i + known.lengths[k]);
    } else {
      const m = nextTrigger(text, Math.max(from, knownTo));
      if (m === null) break;
      i = m.index;
      m0 = m[0];
    }
    const t = m0.toLowerCase();
    let hit: Hit;
    if (WORDS.has(t) || t === '_pat') hit = nameAt(text, i, t.length, streaming);
    else if (t === 'bearer' || t === 'basic')
      hit = /[ \t]/.test(text[i + t.length] ?? '') ? authSchemeAt(text, i, m0, streaming) : nameAt(text, i, t.length, streaming);
    else if (t === 'eyj') hit = jwtAt(text, i, streaming);
    else if (t === '-----begin') hit = pemAt(text, i, streaming);
    else if (t === 'hooks.slack.com/services/' || t === '/api/webhooks/') hit = webhookAt(text, i, t, streaming);
    else if (t === 'ls0tls1crudjti') hit = base64PemAt(text, i, streaming);
    else if (t === '://') hit = userinfoAt(text, i, streaming);
    else if (TOOLS.has(t)) hit = toolFlagsAt(text, i, streaming);
    else if (t.charCodeAt(0) === 0x25) hit = percentEncodedAt(text, i, streaming);
    else hit = keyShapeAt(text, i, t, streaming);
    for (const f of hit.findings) findings.push(f);
    if (hit.open) setOpen(hit.open);
    from = Math.max(hit.next, i + 1);
  }
}

const URL_RUN = /[A-Za-z0-9%._~+*!'()-]/;

/**
 * A percent-encoded run around i (`q=Bearer%20xyz`, `note=PGPASSWORD%3Dx`):
 * decoded and searched; what is found is masked in its encoded form.
 */
function percentEncodedAt(text: string, i: number, streaming: boolean): Hit {
  let s = i;
  while (s > 0 && URL_RUN.test(text[s - 1])) s--;
  let e = i;
  while (e < text.length && URL_RUN.test(text[e])) e++;
  if (e - s > 16384) return miss(e);
  // decoded characters and where each began in the text
  let dec = '';
  const at: number[] = [];
  for (let k = s; k < e; k++) {
    const c = text[k];
    if (c === '%' && /^[0-9A-Fa-f]{2}$/.test(text.slice(k + 1, k + 3))) {
      dec += String.fromCharCode(parseInt(text.slice(k + 1, k + 3), 16));
      at.push(k);
      k += 2;
    } else {
      dec += c === '+' ? ' ' : c;
      at.push(k);
    }
  }
  at.push(e);
  const cut = streaming && e === text.length;
  const inner = findSecrets(dec, cut);
  const findings: Finding[] = inner.findings.map((f) => ({ start: at[f.start], end: at[f.end], kind: f.kind }));
  const open: Open | undefined = cut && inner.open && findings.some((f) => f.end === e) ? { until: 'value', line: false, kind: inner.open.kind } : undefined;
  return { findings, next: e, open };
}

/** An open secret whose value has not begun yet (`"password":"` at the very end) is still open. */
function emptyOpen(o: Open): boolean {
  return o.until === 'json' || o.until === 'quote' || o.until === 'line' || o.until === 'value';
}

const miss = (next: number): Hit => ({ findings: [], next });

/** Is text[k] part of a name? `%` only in an encoded `_`, `-` or `.` (`api%5Fkey`), with its two digits. */
function nameCharAt(text: string, k: number): boolean {
  const c = text.charCodeAt(k);
  if (c === 0x25) return ENCODED_NAME_CHAR.test(text.slice(k, k + 3));
  if (!isNameChar(c)) return false;
  if (k >= 1 && text.charCodeAt(k - 1) === 0x25) return ENCODED_NAME_CHAR.test(text.slice(k - 1, k + 2));
  if (k >= 2 && text.charCodeAt(k - 2) === 0x25 && isHex(text.charCodeAt(k - 1))) return ENCODED_NAME_CHAR.test(text.slice(k - 2, k + 1));
  return true;
}

const ENCODED_NAME_CHAR = /^%(?:5[Ff]|2[DdEe])$/;

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** A name around the trigger at i, and the value it introduces. */
function nameAt(text: string, i: number, tlen: number, streaming: boolean): Hit {
  const n = text.length;
  let s = i;
  while (s > 0 && nameCharAt(text, s - 1)) s--;
  // a name right after a JSON escape (\n, \t) does not include the escape's letter
  while (s < i && text.charCodeAt(s - 1) === 0x5c && backslashesBefore(text, s) % 2 === 1) s++;
  let e = i + tlen;
  while (e < n && nameCharAt(text, e)) e++;
  if (e === n && streaming) return miss(e);
  let dashes = 0;
  while (text.charCodeAt(s + dashes) === 0x2d) dashes++;
  // trailing dots and dashes are punctuation, not the name
  let ne = e;
  while (ne > s + dashes && (text.charCodeAt(ne - 1) === 0x2e || text.charCodeAt(ne - 1) === 0x2d)) ne--;
  const name = text.slice(s + dashes, ne);
  if (!name) return miss(e);
  const c = text.charCodeAt(ne);

  // "name": "value" (at any escape depth), and multipart name="field"
  if (s > 0 && text.charCodeAt(s - 1) === 0x22 && dashes === 0) {
    const level = quoteLevel(text, s - 1);
    const hit = jsonPairAt(text, name, s, ne, e, streaming) ?? (level >= 0 ? codeAt(text, name, levelQuote(level), ne, streaming, e) : null);
    if (hit) return hit;
  }
  // Python and JavaScript: {'password': 'x'}, os.environ['API_KEY'] = 'x', setenv('TOKEN', 'x')
  if (s > 0 && text.charCodeAt(s - 1) === 0x27 && dashes === 0 && text.charCodeAt(ne) === 0x27) {
    const hit = codeAt(text, name, "'", ne, streaming, e);
    if (hit) return hit;
  }
  // XML: <password>x</password>
  if (s > 0 && text.charCodeAt(s - 1) === 0x3c && text.charCodeAt(ne) === 0x3e && dashes === 0) {
    const v = classifyName(name);
    if (v) {
      let end = ne + 1;
      while (end < n && text.charCodeAt(end) !== 0x3c && text.charCodeAt(end) !== 0x0a) end++;
      return judge(text, v, ne + 1, end, end === n && streaming ? { until: 'value', line: true, kind: '' } : null, e);
    }
  }

  if (dashes > 0) return flagAt(text, name, ne, streaming);

  // header lines, `name: value` in text
  if (c === 0x3a && text.charCodeAt(ne + 1) !== 0x2f) {
    const header = isSecretHeader(name);
    const v: NameVerdict | null = header ? { strength: 'secret', kind: headerKind(name) } : classifyName(name);
    if (!v) return miss(e);
    if (atLineStart(text, s) && text.charCodeAt(s - 1) !== 0x6e) {
      // a header line: the value runs to the line end, folded continuation lines included
      let vs = ne + 1;
      while (text.charCodeAt(vs) === 0x20 || text.charCodeAt(vs) === 0x09) vs++;
      let end = lineEnd(text, vs);
      while (end < n) {
        const nl = text.charCodeAt(end) === 0x0d && text.charCodeAt(end + 1) === 0x0a ? end + 2 : end + 1;
        const f = text.charCodeAt(nl);
        if (f !== 0x20 && f !== 0x09) break;
        end = lineEnd(text, nl);
      }
      return judge(text, { ...refine(v, text, vs), whole: true }, vs, end, end === n && streaming ? { until: 'line', kind: '' } : null, e);
    }
    return valueAfter(
      text,
      header ? { ...refine(v, text, skipSpace(text, ne + 1, false)), whole: true } : v,
      skipSpace(text, ne + 1, false),
      header,
      streaming,
      e,
    );
  }

  // .netrc: machine host login user password secret
  if (
    (c === 0x20 || c === 0x09) &&
    /^(?:password|passwd|account)$/i.test(name) &&
    /\b(?:machine|login|default)\s+\S+\s+(?:\S+\s+)?$/.test(text.slice(Math.max(0, s - 200), s))
  ) {
    const vs = skipSpace(text, ne, false);
    return valueAfter(text, { strength: 'secret', kind: 'password' }, vs, false, streaming, e);
  }

  // name=value (URLs, forms, env, ini, shell), api%5Fkey%3Dvalue
  let k = ne;
  const spaced = c === 0x20 || c === 0x09;
  if (spaced) k = skipSpace(text, ne, false);
  let sepLen = 0;
  if (text.charCodeAt(k) === 0x3d) sepLen = 1;
  else if (text.charCodeAt(k) === 0x25 && text.charCodeAt(k + 1) === 0x33 && (text.charCodeAt(k + 2) | 0x20) === 0x64) sepLen = 3;
  if (!sepLen || text.charCodeAt(k + sepLen) === 0x3d) return miss(e);
  if (spaced && !atLineStart(text, s)) return miss(e);
  const before = s > 0 ? text[s - 1] : '';
  const inUrl = before === '?' || before === '&' || /%3[Ff]$|%26$/.test(text.slice(Math.max(0, s - 3), s));
  const pv = inUrl ? paramVerdict(name) : classifyName(name);
  if (!pv) return miss(e);
  const v: NameVerdict = inUrl ? { ...pv, whole: true } : pv;
  let vs = k + sepLen;
  if (spaced) vs = skipSpace(text, vs, false);
  // an environment dump or a .env file: the value of an upper-case variable runs to the line end
  const envLine = !inUrl && !spaced && sepLen === 1 && /^[A-Z][A-Z0-9_]*$/.test(name) && atLineStart(text, s);
  // a connection string (Server=db;User Id=sa;Password=a b;): the value runs to the next ";"
  if (!inUrl && before === ';' && sepLen === 1 && text[vs] !== '"' && text[vs] !== "'") {
    let end = vs;
    while (end < text.length && !/[;\r\n"]/.test(text[end]) && !(text[end] === '\\' && /[nrt"]/.test(text[end + 1] ?? ''))) end++;
    return judge(text, v, vs, end, end === text.length && streaming ? { until: 'value', line: false, kind: '' } : null, e);
  }
  return valueAfter(text, v, vs, false, streaming, e, sepLen === 3, envLine);
}

/** `"name": "value"` with the name's quotes at [s-1] and [ne]; null when the name is not a JSON key. */
function jsonPairAt(text: string, name: string, s: number, ne: number, e: number, streaming: boolean): Hit | null {
  const n = text.length;
  const level = quoteLevel(text, s - 1);
  if (level < 0) return null;
  const lq = levelQuote(level);
  if (!text.startsWith(lq, ne)) return null;
  let k = skipSpace(text, ne + lq.length);
  if (text.charCodeAt(k) !== 0x3a) {
    if (level === 0 && text.slice(Math.max(0, s - 6), s) === 'name="') return multipartAt(text, name, ne + 1, streaming);
    return null;
  }
  k = skipSpace(text, k + 1);
  if (k === n && streaming) {
    const v = classifyName(name);
    return v?.strength === 'secret' ? { findings: [], next: n, open: { until: 'json', level, kind: v.kind, fresh: true, quoteFirst: true } } : miss(n);
  }
  if (!text.startsWith(lq, k)) return miss(e);
  const vs = k + lq.length;
  const end = jsonStringEnd(text, vs, level);
  return judge(text, classifyName(name), vs, end === -1 ? n : end, end === -1 && streaming ? { until: 'json', level, kind: '' } : null, e);
}

/**
 * A quoted name in code, at [ne] its closing quote `q`: followed by `:` and a
 * value (a Python dict), `] =` (an assignment to a mapping) or `,` (a call's
 * next argument), the value in quotes being a secret.
 */
function codeAt(text: string, name: string, q: string, ne: number, streaming: boolean, e: number): Hit | null {
  if (!text.startsWith(q, ne)) return null;
  let k = skipSpace(text, ne + q.length, false);
  const c = text[k];
  if (c === ']') {
    k = skipSpace(text, k + 1, false);
    if (text[k] !== '=' || text[k + 1] === '=') return null;
    k = skipSpace(text, k + 1, false);
  } else if (c === ',' || (c === ':' && q === "'")) k = skipSpace(text, k + 1, false);
  else return null;
  // the value in the same quotes as the name, or in single quotes
  const open = text.startsWith(q, k) ? q : text[k] === "'" ? "'" : null;
  if (open === null) return null;
  const v = classifyName(name);
  if (!v) return miss(e);
  const end = quotedEnd(text, k + open.length, open);
  return judge(text, v, k + open.length, end === -1 ? text.length : end, end === -1 && streaming ? { until: 'quote', quote: open, kind: '' } : null, e);
}

/** A header verdict refined by its value: Bearer and Basic credentials say what they are. */
function refine(v: NameVerdict, text: string, vs: number): NameVerdict {
  if (v.kind !== 'authorization') return v;
  if (/^bearer\s/i.test(text.slice(vs, vs + 7))) return { ...v, kind: 'bearer_token' };
  if (/^basic\s/i.test(text.slice(vs, vs + 6))) return { ...v, kind: 'basic_auth' };
  return v;
}

function lineEnd(text: string, from: number): number {
  for (let j = from; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x0d || c === 0x0a) return j;
  }
  return text.length;
}

/** A value after a separator: quoted (`"..."`, `'...'`, `\"...\"`) or not; a header value in text runs to its quote or line end. */
function valueAfter(text: string, v: NameVerdict, vs: number, header: boolean, streaming: boolean, next: number, encoded = false, lineMode = false): Hit {
  const n = text.length;
  if (vs >= n)
    return streaming && v.strength === 'secret' ? { findings: [], next: n, open: { until: 'value', line: header, kind: v.kind, fresh: true } } : miss(n);
  const q = text[vs];
  if (q === '"' || q === "'" || (q === '\\' && text[vs + 1] === '"')) {
    const quote = q === '\\' ? '\\"' : q;
    const from = vs + quote.length;
    const end = quotedEnd(text, from, quote);
    return judge(text, v, from, end === -1 ? n : end, end === -1 && streaming ? { until: 'quote', quote, kind: '' } : null, next);
  }
  const end = header ? headerValueEnd(text, vs) : valueEnd(text, vs, lineMode, encoded);
  return judge(text, v, vs, end, end === n && streaming ? { until: 'value', line: header || lineMode, kind: '' } : null, next);
}

/** A header value written inside text (`-H "Authorization: Bearer x"`): up to a quote, an escape or the line end. */
function headerValueEnd(text: string, i: number): number {
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0d || c === 0x0a || c === 0x22 || c === 0x27) return i;
    if (c === 0x5c && /[nrt"u\\]/.test(text[i + 1] ?? '')) return i;
  }
  return i;
}

/** Mask [vs, ve) when the verdict says so; `open`: the value runs past the end of the text. */
function judge(text: string, v: NameVerdict | null, vs: number, ve: number, open: Open | null, next: number): Hit {
  if (!v) return miss(next);
  const value = text.slice(vs, ve);
  const out: Hit = { findings: [], next: Math.max(next, vs) };
  if (open) {
    const o = { ...open, kind: v.kind } as Open;
    // a value cut by the end of the text: masked as far as it goes, unless it cannot be a credential
    if (value.startsWith('$')) return miss(next);
    if (v.strength === 'maybe' && !mayBecomeCredential(value)) return miss(next);
    out.open = value.length ? o : { ...o, fresh: true };
    if (value.length) out.findings.push({ start: vs, end: ve, kind: v.kind });
    return out;
  }
  if (!value || /^(?:\[REDACTED\]\**|\*+)$/.test(value) || /^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$/.test(value)) return out;
  if (v.strength === 'maybe' && !credentialLike(value)) return out;
  // a key of a known shape keeps the hint of its kind (`api_key: sk-ant-[REDACTED]`)
  const hint = v.whole ? 0 : hintOf(value);
  out.findings.push(hint ? { start: vs + hint, end: ve, kind: v.kind, hint } : { start: vs, end: ve, kind: v.kind });
  return out;
}

/** Could this beginning of a value be the beginning of a credential (random so far, not a word or an identifier)? */
export function mayBecomeCredential(v: string): boolean {
  if (v.length < 6 || /[\s"'<>]/.test(v)) return false;
  // long enough that leaving it would show 8 characters of a credential
  if (v.length >= 8 && !/^(?:[a-z]{1,12}|\d{1,8})(?:[-_.:/](?:[a-z]{1,12}|\d{1,8}))+[-_.:/]?$/.test(v)) return true;
  if (!/\d/.test(v) && !(/[a-z]/.test(v) && /[A-Z]/.test(v))) return false;
  return !/^(?:[a-z]{1,12}|\d{1,8})(?:[-_.:/](?:[a-z]{1,12}|\d{1,8}))*[-_.:/]?$/.test(v);
}

/** `--password X`, `--api-key=X`, `-token X` (not `--no-password`, `--password-stdin`). */
function flagAt(text: string, name: string, ne: number, streaming: boolean): Hit {
  if (/^no[-_]/i.test(name)) return miss(ne);
  let v = classifyName(name);
  if (!v) return miss(ne);
  // an option named token, password or auth takes a credential, whatever it looks like
  if (v.strength === 'maybe' && /token|pass|auth|secret|pwd/i.test(name)) v = { ...v, strength: 'secret' };
  const c = text.charCodeAt(ne);
  if (c === 0x3d) return valueAfter(text, v, ne + 1, false, streaming, ne);
  // `--name value`: only option-style names (`-pS3cretPass db` is not an option named like a secret)
  if ((c !== 0x20 && c !== 0x09) || !/^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$/.test(name)) return miss(ne);
  const vs = skipSpace(text, ne, false);
  if (vs >= text.length)
    return streaming && v.strength === 'secret' ? { findings: [], next: vs, open: { until: 'value', line: false, kind: v.kind, fresh: true } } : miss(vs);
  // the next word is the value, unless it is another option
  if (text.charCodeAt(vs) === 0x2d) return miss(ne);
  return valueAfter(text, v, vs, false, streaming, ne);
}

/** A multipart field `name="password"`: its value is the first line after the part's blank line. */
function multipartAt(text: string, name: string, afterQuote: number, streaming: boolean): Hit {
  const v = classifyName(name);
  if (!v) return miss(afterQuote);
  const win = text.slice(afterQuote, afterQuote + 1024);
  const m = /^[^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*?\r?\n/.exec(win);
  if (!m) return miss(afterQuote);
  const vs = afterQuote + m[0].length;
  const end = lineEnd(text, vs);
  return judge(text, v, vs, end, end === text.length && streaming ? { until: 'line', kind: '' } : null, afterQuote);
}

/**
 * How far a secret left open at the end of the previous piece runs into
 * this one: the end of its value here (`open`: still not ended).
 */
export function continueOpen(text: string, o: Open): { end: number; open: boolean } {
  const n = text.length;
  if (o.fresh && /^\s*\$/.test(text)) return { end: 0, open: false };
  let end: number;
  switch (o.until) {
    case 'line': {
      end = lineEnd(text, 0);
      while (end < n) {
        const nl = text.charCodeAt(end) === 0x0d && text.charCodeAt(end + 1) === 0x0a ? end + 2 : end + 1;
        const f = text.charCodeAt(nl);
        if (f !== 0x20 && f !== 0x09) break;
        end = lineEnd(text, nl);
      }
      break;
    }
    case 'json': {
      let from = 0;
      if (o.quoteFirst) {
        // `"name":` ended the previous piece: the value's opening quote comes first
        from = skipSpace(text, 0);
        const lq = levelQuote(o.level);
        if (!text.startsWith(lq, from)) return { end: 0, open: false };
        from += lq.length;
        if (text[from] === '$') return { end: 0, open: false };
      }
      const e = jsonStringEnd(text, from, o.level);
      end = e === -1 ? n : e;
      return { end, open: e === -1 };
    }
    case 'token': {
      end = 0;
      const b64 = o.base64 === true;
      while (end < n) {
        const c = text.charCodeAt(end);
        if (!(isKeyChar(c) || (b64 && (c === 0x2e || c === 0x2b || c === 0x2f || c === 0x3d || c === 0x7e)))) break;
        end++;
      }
      break;
    }
    case 'value':
      end = o.line ? headerValueEnd(text, 0) : valueEnd(text, 0, false);
      break;
    case 'quote': {
      const e = quotedEnd(text, 0, o.quote);
      return { end: e === -1 ? n : e, open: e === -1 };
    }
    case 'userinfo': {
      end = 0;
      while (end < n && !/[@/?#\s"'<>\\]/.test(text[end])) end++;
      break;
    }
    case 'pem': {
      const e = pemEnd(text);
      return { end: e === -1 ? n : e, open: e === -1 };
    }
  }
  return { end, open: end === n };
}
