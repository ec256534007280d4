#!/usr/bin/env node
// The `elect` command (src/bin.ts), as one bundle with the chosen backend
// loaded on demand: see the repository's scripts/bundle.mjs.
import '../bundle/elect.js';
