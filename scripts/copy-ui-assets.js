#!/usr/bin/env node
// Copies the dashboard's static files into dist/ui at build time: our script and stylesheet from src/ui, and
// Chart.js from node_modules (so nothing is loaded from a CDN at run time). Run by `npm run build`.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'dist', 'ui');
const chartDir = path.dirname(require.resolve('chart.js', { paths: [root] }));

const files = [
  [path.join(root, 'src', 'ui', 'dashboard.js'), path.join(out, 'dashboard.js')],
  [path.join(root, 'src', 'ui', 'dashboard.css'), path.join(out, 'dashboard.css')],
  [path.join(chartDir, 'chart.umd.min.js'), path.join(out, 'vendor', 'chart.umd.min.js')],
  [path.join(chartDir, '..', 'LICENSE.md'), path.join(out, 'vendor', 'chart.js.LICENSE.md')],
];

for (const [from, to] of files) {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
}
