#!/usr/bin/env node
'use strict';
const cli = require('./load-cli').loadCli();
// a tracing command's eBPF objects start loading now, while the rest of the CLI is initialised
cli.beginEarlyLoads();
cli.main().then((code) => {
  process.exitCode = code;
});
