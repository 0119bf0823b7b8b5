#!/usr/bin/env node
'use strict';
require('../dist/cli/main')
  .main()
  .then((code) => {
    process.exitCode = code;
  });
