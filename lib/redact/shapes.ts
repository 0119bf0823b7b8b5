/**
 * Secrets recognised by their shape rather than by a name: API keys with
 * known prefixes, JWTs, AWS access key ids and the secret key that follows
 * one, PEM private key blocks, URL userinfo, `Bearer`/`Basic` credentials,
 * and the password flags of a few command-line tools. Each finder starts at
 * a trigger the scanner found and returns a Hit (lib/redact/types.ts).
 */
import { once } from '../core/lazy';
import { credentialLike } from './names';
import { boundaryBefore, isAlnum, isEscapeStop, isKeyChar, isNameChar } from './text';
import type { Finding, Hit, Open } from './types';

type CharClass = (c: number) => boolean;

const isUpperNum: CharClass = (c) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90);
const isTokenish: CharClass = (c) => isKeyChar(c) || c === 0x2e || c === 0x7e || c === 0x2b || c === 0x2f || c === 0x3d;
const isXox: CharClass = (c) => isAlnum(c) || c === 0x2d;
const isGhPat: CharClass = (c) => isAlnum(c) || c === 0x5f;

interface Shape {
  prefix: string;
  kind: string;
  /** Characters of the prefix kept as a hint (at most 7, so no 8 characters of a key survive). */
  hint: number;
  chars: CharClass;
  /** Characters after the prefix for a complete key. */
  min: number;
  /** Exactly this many (AWS key ids). */
  exact?: number;
  /** A key cut by the end of the text is masked only when what arrived looks random (a digit, or both cases). */
  strictTail?: boolean;
  /** The key must contain a digit (generic `sk-` keys; `sk-learn-...` is a word). */
  needsDigit?: boolean;
}

const SK: Shape[] = [
  { prefix: 'sk-ant-', kind: 'anthropic_api_key', hint: 7, chars: isKeyChar, min: 16 },
  { prefix: 'sk-proj-', kind: 'openai_api_key', hint: 3, chars: isKeyChar, min: 16 },
  { prefix: 'sk-svcacct-', kind: 'openai_api_key', hint: 3, chars: isKeyChar, min: 16 },
  { prefix: 'sk-admin-', kind: 'openai_api_key', hint: 3, chars: isKeyChar, min: 16 },
  { prefix: 'sk-None-', kind: 'openai_api_key', hint: 3, chars: isKeyChar, min: 16 },
  { prefix: 'sk-or-', kind: 'openrouter_api_key', hint: 3, chars: isKeyChar, min: 16 },
  { prefix: 'sk-', kind: 'openai_api_key', hint: 3, chars: isAlnum, min: 20, strictTail: true, needsDigit: true },
];
const BY_TRIGGER: Record<string, Shape[]> = {
  'sk-': SK,
  sk_: [
    { prefix: 'sk_live_', kind: 'stripe_secret_key', hint: 3, chars: isAlnum, min: 16 },
    { prefix: 'sk_test_', kind: 'stripe_secret_key', hint: 3, chars: isAlnum, min: 16 },
  ],
  rk_: [
    { prefix: 'rk_live_', kind: 'stripe_restricted_key', hint: 3, chars: isAlnum, min: 16 },
    { prefix: 'rk_test_', kind: 'stripe_restricted_key', hint: 3, chars: isAlnum, min: 16 },
  ],
  whsec_: [{ prefix: 'whsec_', kind: 'stripe_webhook_secret', hint: 6, chars: isAlnum, min: 20 }],
  aiza: [{ prefix: 'AIza', kind: 'google_api_key', hint: 4, chars: isKeyChar, min: 30 }],
  'ya29.': [{ prefix: 'ya29.', kind: 'google_oauth_token', hint: 5, chars: isKeyChar, min: 20 }],
  '1//0': [{ prefix: '1//0', kind: 'google_refresh_token', hint: 3, chars: isKeyChar, min: 20, strictTail: true }],
  github_pat_: [{ prefix: 'github_pat_', kind: 'github_token', hint: 7, chars: isGhPat, min: 30 }],
  'glpat-': [{ prefix: 'glpat-', kind: 'gitlab_token', hint: 6, chars: isKeyChar, min: 20 }],
  hf_: [{ prefix: 'hf_', kind: 'huggingface_token', hint: 3, chars: isAlnum, min: 30, strictTail: true }],
  gsk_: [{ prefix: 'gsk_', kind: 'groq_api_key', hint: 4, chars: isAlnum, min: 30, strictTail: true }],
  'xai-': [{ prefix: 'xai-', kind: 'xai_api_key', hint: 4, chars: isAlnum, min: 30, strictTail: true }],
};
const isHex: CharClass = (c) => (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
const isDotKey: CharClass = (c) => isKeyChar(c) || c === 0x2e;
const more: Array<[string, Shape[]]> = [
  ['npm_', [{ prefix: 'npm_', kind: 'npm_token', hint: 4, chars: isAlnum, min: 30, strictTail: true }]],
  ['pypi-', [{ prefix: 'pypi-', kind: 'pypi_token', hint: 5, chars: isKeyChar, min: 40 }]],
  ['dckr_pat_', [{ prefix: 'dckr_pat_', kind: 'docker_token', hint: 5, chars: isKeyChar, min: 20 }]],
  ['dop_v1_', [{ prefix: 'dop_v1_', kind: 'digitalocean_token', hint: 4, chars: isHex, min: 40 }]],
  ['doo_v1_', [{ prefix: 'doo_v1_', kind: 'digitalocean_token', hint: 4, chars: isHex, min: 40 }]],
  ['shpat_', [{ prefix: 'shpat_', kind: 'shopify_token', hint: 6, chars: isHex, min: 20 }]],
  ['shpss_', [{ prefix: 'shpss_', kind: 'shopify_token', hint: 6, chars: isHex, min: 20 }]],
  ['sg.', [{ prefix: 'SG.', kind: 'sendgrid_api_key', hint: 3, chars: isDotKey, min: 40, strictTail: true }]],
  ['lin_api_', [{ prefix: 'lin_api_', kind: 'linear_api_key', hint: 4, chars: isAlnum, min: 30 }]],
  ['r8_', [{ prefix: 'r8_', kind: 'replicate_token', hint: 3, chars: isAlnum, min: 30, strictTail: true }]],
  ['pplx-', [{ prefix: 'pplx-', kind: 'perplexity_api_key', hint: 5, chars: isAlnum, min: 30 }]],
  ['hvs.', [{ prefix: 'hvs.', kind: 'vault_token', hint: 4, chars: isKeyChar, min: 20 }]],
  ['hvb.', [{ prefix: 'hvb.', kind: 'vault_token', hint: 4, chars: isKeyChar, min: 20 }]],
  ['gocspx-', [{ prefix: 'GOCSPX-', kind: 'google_client_secret', hint: 7, chars: isKeyChar, min: 20 }]],
  ['glrt-', [{ prefix: 'glrt-', kind: 'gitlab_token', hint: 5, chars: isKeyChar, min: 20 }]],
  ['gldt-', [{ prefix: 'gldt-', kind: 'gitlab_token', hint: 5, chars: isKeyChar, min: 20 }]],
  ['glptt-', [{ prefix: 'glptt-', kind: 'gitlab_token', hint: 6, chars: isKeyChar, min: 20 }]],
  ['xapp-', [{ prefix: 'xapp-', kind: 'slack_token', hint: 5, chars: isXox, min: 20 }]],
  ['sbp_', [{ prefix: 'sbp_', kind: 'supabase_token', hint: 4, chars: isAlnum, min: 30 }]],
  ['pmak-', [{ prefix: 'PMAK-', kind: 'postman_api_key', hint: 5, chars: isKeyChar, min: 30 }]],
  ['atatt', [{ prefix: 'ATATT', kind: 'atlassian_token', hint: 5, chars: isKeyChar, min: 40 }]],
  ['age-secret-key-1', [{ prefix: 'AGE-SECRET-KEY-1', kind: 'age_secret_key', hint: 4, chars: isAlnum, min: 40 }]],
  ['sntrys_', [{ prefix: 'sntrys_', kind: 'sentry_token', hint: 7, chars: isDotKey, min: 40 }]],
  ['glsa_', [{ prefix: 'glsa_', kind: 'grafana_token', hint: 5, chars: isKeyChar, min: 30 }]],
];
for (const [t, list] of more) BY_TRIGGER[t] = list;
for (const p of ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_']) BY_TRIGGER[p] = [{ prefix: p, kind: 'github_token', hint: 4, chars: isAlnum, min: 30 }];
for (const p of ['xoxa-', 'xoxb-', 'xoxp-', 'xoxr-', 'xoxs-', 'xoxe-', 'xoxo-'])
  BY_TRIGGER[p] = [{ prefix: p, kind: 'slack_token', hint: 5, chars: isXox, min: 10 }];
const AWS: Shape[] = ['AKIA', 'ASIA', 'ABIA', 'ACCA'].map((prefix) => ({ prefix, kind: 'aws_access_key_id', hint: 4, chars: isUpperNum, min: 16, exact: 16 }));
for (const s of AWS) BY_TRIGGER[s.prefix.toLowerCase()] = [s];

function looksRandom(s: string): boolean {
  return /\d/.test(s) || (/[a-z]/.test(s) && /[A-Z]/.test(s));
}

function run(text: string, j: number, chars: CharClass): number {
  while (j < text.length && chars(text.charCodeAt(j))) j++;
  return j;
}

const miss = (next: number): Hit => ({ findings: [], next });

/** A key with a known prefix at i (the trigger `t`, lower-cased). */
export function keyShapeAt(text: string, i: number, t: string, streaming: boolean): Hit {
  const shapes = BY_TRIGGER[t];
  if (!shapes || !boundaryBefore(text, i)) return miss(i + t.length);
  for (const s of shapes) {
    if (!text.startsWith(s.prefix, i)) {
      // the text may end inside the prefix: nothing of the key arrived yet
      continue;
    }
    const from = i + s.prefix.length;
    const end = run(text, from, s.chars);
    const body = text.slice(from, end);
    const atEnd = end === text.length;
    const hintAt = i + s.hint;
    if (s.exact !== undefined) {
      if (body.length === s.exact && !isAlnum(text.charCodeAt(end))) return withAws(text, { start: hintAt, end, kind: s.kind, hint: s.hint }, streaming);
      if (atEnd && streaming && body.length < s.exact && body.length >= 4) {
        return { findings: [{ start: hintAt, end, kind: s.kind, hint: s.hint }], next: end, open: { until: 'token', kind: s.kind } };
      }
      continue;
    }
    if (atEnd && streaming && body.length < 512) {
      // cut by the end of the text: the rest follows in the next piece
      if (hintAt >= end || (body.length > 0 && s.strictTail && !looksRandom(body))) return miss(i + t.length);
      return { findings: [{ start: hintAt, end, kind: s.kind, hint: s.hint }], next: end, open: { until: 'token', kind: s.kind } };
    }
    if (body.length < s.min) continue;
    if (s.needsDigit && !/\d/.test(body)) continue;
    return { findings: [{ start: hintAt, end, kind: s.kind, hint: s.hint }], next: end };
  }
  return miss(i + t.length);
}

/** A run of base64 characters at `start` stands alone (after a space, `=`, `:`, `,`, a quote or an escaped line end)? */
function separatedBefore(text: string, start: number): boolean {
  if (start === 0) return true;
  const c = text[start - 1];
  if (/[\s,;=:"'|]/.test(c)) return true;
  return (c === 'n' || c === 't') && text[start - 2] === '\\';
}

/** An AWS access key id, and the secret access key that often follows it (a 40-character base64 run). */
function withAws(text: string, id: Finding, streaming: boolean): Hit {
  // the scan resumes after the id: what follows it is searched as well
  const out: Hit = { findings: [id], next: id.end };
  const windowEnd = Math.min(text.length, id.end + 300);
  const re = /[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g;
  re.lastIndex = id.end;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null && m.index < windowEnd) {
    if (separatedBefore(text, m.index) && /[a-z]/.test(m[0]) && /[A-Z]/.test(m[0])) {
      out.findings.push({ start: m.index, end: m.index + 40, kind: 'aws_secret_access_key' });
      return out;
    }
  }
  if (streaming && windowEnd === text.length) {
    const t = /([A-Za-z0-9/+]{8,39})$/.exec(text.slice(id.end));
    if (t && separatedBefore(text, text.length - t[1].length)) {
      out.findings.push({ start: text.length - t[1].length, end: text.length, kind: 'aws_secret_access_key' });
      out.open = { until: 'token', kind: 'aws_secret_access_key', base64: true };
    }
  }
  return out;
}

/** Every shape, the longest prefix first (sorted when first needed). */
const allShapes = once((): Shape[] =>
  Object.values(BY_TRIGGER)
    .flat()
    .sort((a, b) => b.prefix.length - a.prefix.length),
);

/** Characters of a value kept as the hint of its kind when it begins with a known key prefix (`sk-ant-` of an Anthropic key), else 0. */
export function hintOf(value: string): number {
  if (value.startsWith('eyJ') && value.includes('.')) return 3;
  for (const s of allShapes()) if (value.length > s.prefix.length && value.startsWith(s.prefix)) return s.hint;
  return 0;
}

/**
 * Prefixes longer than what is kept of them: the end of a text may cut one (`github_p`, `-----BEG`);
 * and the characters they have (made when first needed).
 */
const longPrefixes = once(() => {
  const prefixes: Array<{ prefix: string; hint: number; kind: string }> = [
    ...Object.values(BY_TRIGGER)
      .flat()
      .filter((s) => s.prefix.length > s.hint + 1)
      .map((s) => ({ prefix: s.prefix, hint: s.hint, kind: s.kind })),
    { prefix: '-----BEGIN ', hint: 0, kind: 'private_key' },
    { prefix: 'LS0tLS1CRUdJTi', hint: 0, kind: 'private_key' },
  ];
  return { prefixes, chars: new Set(prefixes.flatMap((p) => [...p.prefix].map((c) => c.charCodeAt(0)))) };
});

/**
 * The end of a text that is the beginning of a key prefix (`sk_live` of
 * `sk_live_...`, `-----BEG` of a PEM block): what is beyond the prefix's hint
 * is masked, as the next piece may complete it (it is then found whole).
 */
export function prefixTail(text: string): Finding | null {
  const n = text.length;
  const { prefixes, chars } = longPrefixes();
  // most pieces end in a character no prefix has
  if (n === 0 || !chars.has(text.charCodeAt(n - 1))) return null;
  for (const p of prefixes) {
    for (let k = Math.min(p.prefix.length - 1, n); k > p.hint && k >= 6; k--) {
      const i = n - k;
      if (endsWithStart(text, p.prefix, k) && boundaryBefore(text, i)) return { start: i + p.hint, end: n, kind: p.kind, hint: p.hint };
    }
  }
  return null;
}

/** Does text end with the first k characters of s? */
function endsWithStart(text: string, s: string, k: number): boolean {
  const at = text.length - k;
  for (let j = 0; j < k; j++) if (text.charCodeAt(at + j) !== s.charCodeAt(j)) return false;
  return true;
}

/** Webhook URLs whose path is the credential: Slack `hooks.slack.com/services/...`, Discord `.../api/webhooks/<id>/<token>`. */
export function webhookAt(text: string, i: number, t: string, streaming: boolean): Hit {
  const from = i + t.length;
  const end = run(text, from, (c) => isKeyChar(c) || c === 0x2f);
  if (end - from < 8)
    return streaming && end === text.length && end > from
      ? { findings: [{ start: from, end, kind: 'webhook_url' }], next: end, open: { until: 'token', kind: 'webhook_url' } }
      : miss(from);
  return {
    findings: [{ start: from, end, kind: 'webhook_url' }],
    next: end,
    ...(streaming && end === text.length ? { open: { until: 'token', kind: 'webhook_url' } as Open } : {}),
  };
}

/** A JSON Web Token at i (`eyJ` header, payload, signature). */
export function jwtAt(text: string, i: number, streaming: boolean): Hit {
  if (!text.startsWith('eyJ', i) || !boundaryBefore(text, i)) return miss(i + 3);
  const a = run(text, i, isKeyChar);
  if (streaming && a === text.length) return a - i >= 8 ? tailJwt(text, i) : miss(i + 3);
  if (a - i < 10 || text.charCodeAt(a) !== 0x2e) return miss(i + 3);
  const b = run(text, a + 1, isKeyChar);
  if (b === text.length && streaming) return tailJwt(text, i);
  if (b - a - 1 < 8) return miss(i + 3);
  let end = b;
  if (text.charCodeAt(b) === 0x2e) end = run(text, b + 1, isKeyChar);
  if (end === text.length && streaming) return tailJwt(text, i);
  return { findings: [{ start: i + 3, end, kind: 'jwt', hint: 3 }], next: end };
}

function tailJwt(text: string, i: number): Hit {
  return { findings: [{ start: i + 3, end: text.length, kind: 'jwt', hint: 3 }], next: text.length, open: { until: 'token', kind: 'jwt', base64: true } };
}

const PEM_BEGIN = /-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----/y;

/** A PEM private key block at i: the whole block, BEGIN and END lines included. */
export function pemAt(text: string, i: number, streaming: boolean): Hit {
  PEM_BEGIN.lastIndex = i;
  const m = PEM_BEGIN.exec(text);
  if (!m) {
    // cut inside the BEGIN line: may be a private key
    const rest = text.slice(i);
    if (streaming && rest.length < 64 && /^-----BEGIN(?: [A-Z0-9 ]*-{0,4})?$/.test(rest)) {
      return { findings: [{ start: i, end: text.length, kind: 'private_key' }], next: text.length, open: { until: 'pem', kind: 'private_key' } };
    }
    return miss(i + 10);
  }
  const endMarker = `-----END ${m[1]}-----`;
  const at = text.indexOf(endMarker, i + m[0].length);
  if (at !== -1 && at - i < 65536) return { findings: [{ start: i, end: at + endMarker.length, kind: 'private_key' }], next: at + endMarker.length };
  // no END: the block continues past the text (or was cut short): mask to the end
  return {
    findings: [{ start: i, end: text.length, kind: 'private_key' }],
    next: text.length,
    ...(streaming ? { open: { until: 'pem', kind: 'private_key' } as Open } : {}),
  };
}

/**
 * A base64-encoded PEM private key (kubeconfig `client-key-data`, secrets
 * manifests): `LS0tLS1CRUdJTi` is the base64 of `-----BEGIN`; what it encodes
 * is checked to be a private key, and the whole base64 run is masked.
 */
export function base64PemAt(text: string, i: number, streaming: boolean): Hit {
  if (!text.startsWith('LS0tLS1CRUdJTi', i) || !boundaryBefore(text, i, (c) => isAlnum(c) || c === 0x2b || c === 0x2f)) return miss(i + 7);
  const end = run(text, i, (c) => isAlnum(c) || c === 0x2b || c === 0x2f || c === 0x3d);
  const head = Buffer.from(text.slice(i, Math.min(end, i + 80)), 'base64').toString('latin1');
  // cut by the end of the text: what arrived may still be the beginning of a private key
  const cut =
    streaming &&
    end === text.length &&
    end - i < 80 &&
    /^-----BEGIN(?: [A-Z0-9 ]*)?/.test(head) &&
    !/^-----BEGIN (?:[A-Z0-9]+ )*(?!PRIVATE)[A-Z]{3,}-----/.test(head);
  if (!/^-----BEGIN [A-Z0-9 ]*PRIVATE KEY/.test(head) && !cut) return miss(i + 7);
  return {
    findings: [{ start: i, end, kind: 'private_key' }],
    next: end,
    ...(streaming && end === text.length ? { open: { until: 'token', kind: 'private_key', base64: true } as Open } : {}),
  };
}

/** Where a PEM block left open ends in the next piece: after its END line (or -1). */
export function pemEnd(text: string): number {
  const m = /-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----/.exec(text);
  return m ? m.index + m[0].length : -1;
}

/** URL userinfo at the `://` at i: `https://user:password@host` (user and password masked). */
export function userinfoAt(text: string, i: number, streaming: boolean): Hit {
  let s = i;
  while (s > 0 && (isAlnum(text.charCodeAt(s - 1)) || text[s - 1] === '+' || text[s - 1] === '.' || text[s - 1] === '-')) s--;
  if (i - s < 2 || !/^[A-Za-z]/.test(text[s] ?? '')) return miss(i + 3);
  const from = i + 3;
  const limit = Math.min(text.length, from + 512);
  let colon = -1;
  for (let j = from; j < limit; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x40) {
      if (j === from) return miss(i + 3);
      const info = text.slice(from, j);
      if (colon !== -1 && j - colon > 1) return { findings: [{ start: from, end: j, kind: 'url_password' }], next: j };
      if (colon === -1 && credentialLike(info)) return { findings: [{ start: from, end: j, kind: 'url_token' }], next: j };
      return miss(i + 3);
    }
    if (c === 0x3a) {
      if (colon === -1) colon = j;
      continue;
    }
    if (c === 0x2f || c === 0x3f || c === 0x23 || c <= 0x20 || c === 0x22 || c === 0x27 || c === 0x3c || c === 0x3e || c === 0x5c) return miss(i + 3);
  }
  if (limit === text.length && streaming && colon !== -1 && /[^0-9]/.test(text.slice(colon + 1))) {
    // cut before the "@": what follows the colon may be a password
    return { findings: [{ start: from, end: text.length, kind: 'url_password' }], next: text.length, open: { until: 'userinfo', kind: 'url_password' } };
  }
  return miss(i + 3);
}

/** `Bearer <token>` / `Basic <base64>` anywhere in text (command lines, messages, logs). */
export function authSchemeAt(text: string, i: number, t: string, streaming: boolean): Hit {
  const w = t.length;
  if (!boundaryBefore(text, i, isNameChar) || (i + w < text.length && isNameChar(text.charCodeAt(i + w)) && text.charCodeAt(i + w) !== 0x2d))
    return miss(i + w);
  let j = i + w;
  if (text.charCodeAt(j) !== 0x20 && text.charCodeAt(j) !== 0x09) return miss(j);
  while (text.charCodeAt(j) === 0x20 || text.charCodeAt(j) === 0x09) j++;
  let end = run(text, j, isTokenish);
  const kind = t.toLowerCase() === 'basic' ? 'basic_auth' : 'bearer_token';
  if (end === text.length && streaming) {
    // cut by the end of the text: masked when what arrived can begin a credential (not a word)
    const so = text.slice(j, end);
    if (so.length < 3 || !(/\d/.test(so) || (/[a-z]/.test(so) && /[A-Z]/.test(so.slice(1))) || /[+/=]/.test(so))) return miss(i + w);
    return { findings: [{ start: j, end, kind }], next: end, open: { until: 'token', kind, base64: true } };
  }
  // a sentence may end right after the credential
  while (end > j && /[.,;:~-]/.test(text[end - 1])) end--;
  const tok = text.slice(j, end);
  if (kind === 'basic_auth') {
    if (!basicCredential(tok)) return miss(i + w);
  } else if (!(tok.length >= 16 || (tok.length >= 8 && /\d/.test(tok))) || /^[a-z]+$/.test(tok) || tok.startsWith('-----')) return miss(i + w);
  return { findings: [{ start: j, end, kind }], next: end };
}

/** Is this the base64 of `user:password`? */
function basicCredential(tok: string): boolean {
  if (tok.length < 8 || !/^[A-Za-z0-9+/]+={0,2}$/.test(tok)) return false;
  const s = Buffer.from(tok, 'base64').toString('latin1');
  return /^[\x20-\x7e]+:[\x20-\x7e]*$/.test(s);
}

/** Tools whose password options have no secret-sounding name (`mysql -pSECRET`, `sshpass -p X`, `curl -u user:pass`). */
const TOOLS: Record<string, { attached?: string[]; next?: string[]; userPass?: string[] }> = {
  mysql: { attached: ['-p'] },
  mysqldump: { attached: ['-p'] },
  mysqladmin: { attached: ['-p'] },
  mysqlsh: { attached: ['-p'] },
  mariadb: { attached: ['-p'] },
  'mariadb-dump': { attached: ['-p'] },
  sshpass: { attached: ['-p'], next: ['-p'] },
  'redis-cli': { attached: ['-a'], next: ['-a', '--pass'] },
  curl: { userPass: ['-u', '--user', '--proxy-user', '-U'], next: ['--oauth2-bearer'] },
};

/** The password arguments of a known tool's command line starting at i. */
export function toolFlagsAt(text: string, i: number, streaming: boolean): Hit {
  let e = i;
  while (e < text.length && isNameChar(text.charCodeAt(e))) e++;
  const tool = TOOLS[text.slice(i, e)];
  if (!tool || !boundaryBefore(text, i, (c) => isNameChar(c) && c !== 0x2f)) return miss(e);
  // the command segment: up to a line end, a command separator or the end of a JSON string
  let end = e;
  while (end < text.length && end - e < 4096) {
    const c = text.charCodeAt(end);
    if (c === 0x0d || c === 0x0a || c === 0x3b || c === 0x7c || c === 0x26 || c === 0x60) break;
    if (c === 0x22 && text.charCodeAt(end - 1) !== 0x5c) break;
    if (c === 0x5c && isEscapeStop(text, end) && text.charCodeAt(end + 1) !== 0x22 && text.charCodeAt(end + 1) !== 0x5c) break;
    end++;
  }
  const toks: Array<[number, number]> = [];
  for (const m of text.slice(e, end).matchAll(/[^\s]+/g)) toks.push([e + (m.index ?? 0), e + (m.index ?? 0) + m[0].length]);
  const findings: Finding[] = [];
  let open: Open | undefined;
  const strip = (a: number, b: number): [number, number] => {
    while (a < b && /["'\\]/.test(text[a])) a++;
    while (b > a && /["'\\]/.test(text[b - 1])) b--;
    return [a, b];
  };
  const add = (a: number, b: number) => {
    const [s, t] = strip(a, b);
    if (t <= s) return;
    findings.push({ start: s, end: t, kind: 'password' });
    if (streaming && b === text.length) open = { until: 'value', line: false, kind: 'password' };
  };
  for (let k = 0; k < toks.length; k++) {
    const [a, b] = toks[k];
    const tok = text.slice(a, b);
    const next = toks[k + 1];
    for (const f of tool.attached ?? []) if (tok.startsWith(f) && tok.length > f.length && !tok.startsWith('--')) add(a + f.length, b);
    if (next && (tool.next ?? []).includes(tok)) add(next[0], next[1]);
    for (const f of tool.userPass ?? []) {
      const v: [number, number] | null = tok === f && next ? next : f.length === 2 && tok.startsWith(f) && tok.length > 2 ? [a + 2, b] : null;
      if (!v) continue;
      const colon = text.indexOf(':', v[0]);
      if (colon !== -1 && colon < v[1] - 1) add(colon + 1, v[1]);
    }
  }
  return { findings, next: e, open };
}
