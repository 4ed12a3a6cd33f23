#!/usr/bin/env node
// Copies the Redis Lua scripts (src/**/*.lua) next to the compiled modules that read them at start:
// `node scripts/copy-lua-scripts.js [outDir]`, outDir being where src/ compiles to (default dist). Run by the builds.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const src = path.join(root, 'src');
const out = path.resolve(root, process.argv[2] ?? 'dist');

function copyLua(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const from = path.join(dir, entry.name);
    if (entry.isDirectory()) copyLua(from);
    else if (entry.name.endsWith('.lua')) {
      const to = path.join(out, path.relative(src, from));
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.copyFileSync(from, to);
    }
  }
}

copyLua(src);
