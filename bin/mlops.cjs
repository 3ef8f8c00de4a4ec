#!/usr/bin/env node
// The `mlops` command runs the TypeScript sources directly through tsx, so there is no build step to forget.
require('tsx/cjs');
require('../scripts/mlops.ts');
