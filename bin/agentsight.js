#!/usr/bin/env node
'use strict';
require('./load-cli')
  .loadCli()
  .main()
  .then((code) => {
    process.exitCode = code;
  });
