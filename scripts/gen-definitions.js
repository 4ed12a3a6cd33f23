#!/usr/bin/env node
'use strict';
/**
 * Writes rabbitmq/definitions.json from the topology the service asserts (built code in dist/, sample
 * config, vhost "/"), so the file and the service never disagree. Run `npm run gen:definitions`.
 * tests/unit/definitions.test.ts fails when the committed file is stale.
 */
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const { loadConfig } = require(path.join(root, 'dist/config/config.js'));
const { buildTopology } = require(path.join(root, 'dist/adapters/rabbitmq/topology.js'));
const { buildDefinitions, renderDefinitions, SHIPPED_DEFINITIONS_OPTIONS } = require(
  path.join(root, 'dist/adapters/rabbitmq/definitions.js'),
);

// An empty environment: the shipped sample config, whatever WORKITEM_CONFIG the caller has set.
const cfg = loadConfig({});
const doc = buildDefinitions(buildTopology(cfg), {
  ...SHIPPED_DEFINITIONS_OPTIONS,
  inboundExchange: cfg.topology.inboundExchange,
  inboundLargeExchange: cfg.topology.inboundLargeExchange,
  notificationsExchange: cfg.topology.notificationsExchange,
});
const out = path.join(root, 'rabbitmq', 'definitions.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, renderDefinitions(doc));
process.stdout.write(
  `wrote ${path.relative(root, out)}: ${doc.exchanges.length} exchanges, ${doc.queues.length} queues, ${doc.bindings.length} bindings\n`,
);
