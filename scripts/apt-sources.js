#!/usr/bin/env node
'use strict';
/*
 * The Debian/Ubuntu mirrors this machine's apt is configured with, read from
 * /etc/apt/sources.list and /etc/apt/sources.list.d/ (one-line `.list` and
 * deb822 `.sources` files), followed by deb.debian.org as the fallback. The
 * build fetches libbpf's source from them and the chroot scripts debootstrap
 * from them, so a machine behind its own mirror keeps using it.
 *
 *   node scripts/apt-sources.js              every mirror URI, one a line
 *   node scripts/apt-sources.js --debian S   the first mirror that serves Debian suite S
 *
 * APT_SOURCES_ROOT (default /etc/apt) reads another configuration.
 */
const fs = require('node:fs');
const path = require('node:path');
const http = require('node:http');
const https = require('node:https');

const FALLBACK = 'http://deb.debian.org/debian';

/** URIs of `deb`/`deb-src` lines of a one-line sources.list text. */
function parseOneLine(text) {
  const uris = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^(deb|deb-src)\s+(?:\[[^\]]*\]\s+)?(\S+)/.exec(line);
    if (m) uris.push(m[2]);
  }
  return uris;
}

/** URIs of the enabled stanzas of a deb822 .sources text. */
function parseDeb822(text) {
  const uris = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = {};
    let last = null;
    for (const raw of stanza.split('\n')) {
      if (/^\s*#/.test(raw)) continue;
      if (/^\s/.test(raw) && last) {
        fields[last] += ' ' + raw.trim();
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(raw);
      if (m) {
        last = m[1].toLowerCase();
        fields[last] = m[2].trim();
      }
    }
    if (!fields.uris || !fields.types) continue;
    if (/^(no|false|0)$/i.test(fields.enabled || '')) continue;
    if (!fields.types.split(/\s+/).some((t) => t === 'deb' || t === 'deb-src')) continue;
    uris.push(...fields.uris.split(/\s+/).filter(Boolean));
  }
  return uris;
}

/** Every configured http(s) mirror URI (no trailing slash, deduplicated), then deb.debian.org. */
function aptMirrors(root = process.env.APT_SOURCES_ROOT || '/etc/apt') {
  const uris = [];
  const read = (f) => {
    try {
      return fs.readFileSync(f, 'utf8');
    } catch {
      return null;
    }
  };
  const main = read(path.join(root, 'sources.list'));
  if (main) uris.push(...parseOneLine(main));
  let parts = [];
  try {
    parts = fs.readdirSync(path.join(root, 'sources.list.d')).sort();
  } catch {
    /* no directory */
  }
  for (const f of parts) {
    const text = read(path.join(root, 'sources.list.d', f));
    if (text === null) continue;
    if (f.endsWith('.list')) uris.push(...parseOneLine(text));
    else if (f.endsWith('.sources')) uris.push(...parseDeb822(text));
  }
  const out = [];
  for (const u of [...uris, FALLBACK]) {
    if (!/^https?:\/\//.test(u)) continue;
    const clean = u.replace(/\/+$/, '');
    if (!out.includes(clean)) out.push(clean);
  }
  return out;
}

/**
 * GET a URL into memory, following redirects; http_proxy/https_proxy are
 * honoured for plain-http URLs. Resolves to a Buffer, rejects with a short reason.
 */
function fetchBuffer(url, { timeoutMs = 60_000, maxBytes = 64 << 20, redirects = 5 } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const proxy = u.protocol === 'http:' ? process.env.http_proxy || process.env.HTTP_PROXY : '';
    let req;
    const onResponse = (res) => {
      if (res.statusCode >= 300 && res.statusCode < 400 && res.headers.location && redirects > 0) {
        res.resume();
        fetchBuffer(new URL(res.headers.location, url).toString(), { timeoutMs, maxBytes, redirects: redirects - 1 }).then(resolve, reject);
        return;
      }
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`HTTP ${res.statusCode}`));
        return;
      }
      const chunks = [];
      let n = 0;
      res.on('data', (c) => {
        n += c.length;
        if (n > maxBytes) req.destroy(new Error(`larger than ${maxBytes} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', reject);
    };
    if (proxy) {
      const p = new URL(proxy);
      req = http.get({ host: p.hostname, port: p.port || 80, path: url, headers: { host: u.host } }, onResponse);
    } else {
      req = (u.protocol === 'https:' ? https : http).get(url, onResponse);
    }
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer in ${timeoutMs / 1000} s`)));
    req.on('error', (e) => reject(new Error(e.code || e.message)));
  });
}

/** The first mirror whose dists/<suite>/Release answers (deb.debian.org when none does). */
async function debianMirror(suite) {
  for (const m of aptMirrors()) {
    try {
      const b = await fetchBuffer(`${m}/dists/${suite}/Release`, { timeoutMs: 15_000, maxBytes: 4 << 20 });
      if (/^Origin: Debian$/m.test(b.toString('utf8'))) return m;
    } catch {
      /* next */
    }
  }
  return FALLBACK;
}

module.exports = { aptMirrors, parseOneLine, parseDeb822, fetchBuffer, debianMirror, FALLBACK };

if (require.main === module) {
  const [flag, suite] = process.argv.slice(2);
  if (flag === '--debian') {
    if (!suite) {
      process.stderr.write('usage: apt-sources.js --debian SUITE\n');
      process.exit(2);
    }
    debianMirror(suite).then((m) => process.stdout.write(`${m}\n`));
  } else {
    process.stdout.write(aptMirrors().join('\n') + '\n');
  }
}
